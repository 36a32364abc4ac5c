"""Automation example: two sites on this host, linked with a token, then removed.

Run: .venv/bin/python examples/link_two_sites.py [west-namespace] [east-namespace]
Set QDROUTERD_IMAGE to use a router image other than quay.io/skupper/skupper-router:2.5.3.
"""
from __future__ import annotations

import socket
import sys
import tempfile
import time
from pathlib import Path

from skupper_podman import InitOptions, Links, Site, SiteStatus, SkupperError, site_status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def make_site(namespace: str) -> Site:
    site = Site.open(namespace)
    site.init(InitOptions(site_name=namespace, ingress_hosts=["host.containers.internal"],
                          bind_port=free_port(), bind_port_edge=free_port(), timeout=60))
    return site


def wait_for_peers(site: Site, peers: int, timeout: float) -> SiteStatus:
    """The site's status once its router knows ``peers`` other sites (routes take a moment
    to spread after a link connects), or the last status when ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while (status := site_status(site)).total_sites < peers and time.monotonic() < deadline:
        time.sleep(0.5)
    return status


def main(west_ns: str = "example-west", east_ns: str = "example-east") -> int:
    west = east = None
    try:
        west, east = make_site(west_ns), make_site(east_ns)
        with tempfile.TemporaryDirectory() as tmp:
            token = Links(west).create_token(Path(tmp) / "west.token")
            link = Links(east).create(token, cost=2)
        state = Links(east).status(link.name, wait=30).outgoing[0]
        print(f"{east_ns} -> {west_ns}: link {link.name} cost {state.cost} "
              f"{'connected' if state.connected else 'NOT connected: ' + state.description}")
        for site in (west, east):
            status = wait_for_peers(site, 1, timeout=30)
            print(f"{status.site_name}: connected to {status.total_sites} other site(s)")
        return 0 if state.connected else 1
    except SkupperError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        for site in (east, west):
            if site is not None:
                site.delete()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
