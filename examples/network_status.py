"""Automation example: two linked sites, the network as each sees it, a live collector, a debug dump.

Run: .venv/bin/python examples/network_status.py [west-namespace] [east-namespace] [dump-dir]
Set QDROUTERD_IMAGE to use a router image other than quay.io/skupper/skupper-router:2.5.3.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

# the example beside this one (a script's directory is on sys.path)
from link_two_sites import make_site

from skupper_podman import FlowCollector, Links, NetworkStatus, Services, Site, SkupperError, debug_dump, network_status


def wait_for_sites(site: Site, count: int, timeout: float) -> NetworkStatus:
    """The site's network status once it lists ``count`` sites, each linked (sources announce
    themselves every 10 s), or the last one when ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = network_status(site)
        except SkupperError:  # the controller has not reported yet
            status = NetworkStatus("")
        complete = len(status.sites) >= count and all(s.linked_sites for s in status.sites)
        if complete or time.monotonic() > deadline:
            return status
        time.sleep(1)


def main(west_ns: str = "example-west", east_ns: str = "example-east", dump_dir: str = "") -> int:
    west = east = None
    try:
        west, east = make_site(west_ns), make_site(east_ns)
        with tempfile.TemporaryDirectory() as tmp:
            Links(east).create(Links(west).create_token(Path(tmp) / "west.token"), cost=2)
        Services(west).create("backend", [8080])
        for site in (west, east):
            status = wait_for_sites(site, 2, 90)
            for entry in status.sites:
                peers = ", ".join(f"{status.site(p.site_id).name if status.site(p.site_id) else p.site_id} "
                                  f"({p.direction})" for p in entry.linked_sites)
                services = ", ".join(s.address for s in entry.services) or "none"
                print(f"{site.layout.namespace} sees [{entry.location}] {entry.name}: linked to {peers}; "
                      f"services: {services}")
        with FlowCollector(west) as collector:  # a live collector of our own, beside the controller's
            for change in collector.changes(timeout=15):
                if change.what == "added" and change.type == "SITE":
                    print(f"live collector: site record {change.identity}")
            print(f"live collector holds {sum(1 for _ in collector)} records")
        result = debug_dump(west, Path(dump_dir or tempfile.gettempdir()) / f"{west_ns}-dump")
        print(f"debug dump: {result.path} ({len(result.files)} files)")
    except SkupperError as err:
        print(f"failed: {err}", file=sys.stderr)
        return 1
    finally:
        for site in (east, west):
            if site is not None:
                site.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
