"""Site controller figures on the router image (``scripts/router-image.sh``):

* from ``skupper init`` of a new site (then ``link create`` to an existing one) until the new
  site shows in the existing site's ``network status`` (library call polled every 0.25 s), and
  until both show each other as linked; ``init`` and ``link create`` alone for comparison;
* the controller at idle: CPU (process time over a window, as a share of one core) and resident
  memory of its python process, next to the site router's own for scale;
* ``skupper network status`` and ``skupper debug dump`` CLI times against a running site.

Usage: .venv/bin/python bench/bench_flow.py [rounds, default 3] [idle window s, default 30]
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from common import IsolatedUser, free_port, median, podman, router_image, summary, timed


def init(user: IsolatedUser, ns: str) -> None:
    user.skupper("init", "-n", ns, "--site-name", ns, "--ingress-host", "host.containers.internal",
                 "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))


def sees(site: object, name: str, linked: bool) -> bool:
    from skupper_podman import SkupperError, network_status

    try:
        entry = network_status(site).site(name)  # type: ignore[arg-type]
    except SkupperError:
        return False
    return entry is not None and (not linked or bool(entry.linked_sites))


def appear_round(user: IsolatedUser, hub_ns: str, ns: str, token: Path) -> dict[str, float]:
    from skupper_podman import Site

    os.environ.update({k: v for k, v in user.env.items() if k.startswith("XDG_")})
    hub = Site.open(hub_ns)
    start = time.perf_counter()
    init(user, ns)
    inited = time.perf_counter()
    user.skupper("link", "create", "-n", ns, str(token))
    linked = time.perf_counter()
    seen = both = float("nan")
    while time.perf_counter() - start < 120:
        if math.isnan(seen) and sees(hub, ns, False):
            seen = time.perf_counter() - start
        if sees(hub, ns, True):
            both = time.perf_counter() - start
            break
        time.sleep(0.25)
    return {"init": inited - start, "link create": linked - inited, "appears": seen, "appears linked": both}


def process_figures(container: str, window: float) -> tuple[float, float]:
    """(CPU share of one core over ``window`` s, resident MiB) of a container's main process."""
    pid = int(podman("inspect", container, "--format", "{{.State.Pid}}"))
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    before, start = cpu(), time.monotonic()
    time.sleep(window)
    share = (cpu() - before) / (time.monotonic() - start)
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return share, rss / 1024


def main(rounds: int = 3, window: float = 30.0) -> None:
    user = IsolatedUser(router_image())
    hub = f"{user.prefix}-hub"
    namespaces = [hub]
    try:
        init(user, hub)
        token = user.dir / "hub.token"
        user.skupper("token", "create", "-n", hub, str(token), "--name", "bench")
        results = []
        for index in range(rounds):
            ns = f"{user.prefix}-s{index}"
            namespaces.append(ns)
            results.append(appear_round(user, hub, ns, token))
            user.skupper("delete", "-n", ns)
            namespaces.remove(ns)
        print(f"new site -> seen in another site's network status ({rounds} rounds, one link, hub already up)")
        for key in ("init", "link create", "appears", "appears linked"):
            print(f"  {key:<16} {summary([r[key] for r in results])}")
        print(f"controller and router at idle ({window:.0f} s window, hub site alone)")
        for base in ("skupper-controller-podman", "skupper-router"):
            share, rss = process_figures(f"{hub}-{base}", window)
            print(f"  {base:<26} CPU {share * 100:5.2f} % of one core   RSS {rss:6.1f} MiB")
        for label, args in (("network status", ("network", "status", "-n", hub)),
                            ("debug dump", ("debug", "dump", "-n", hub, str(user.dir / "dump")))):
            samples = [timed(lambda a=args: user.skupper(*a)) for _ in range(3)]
            print(f"  skupper {label:<15} {summary(samples)}")
        print(f"  debug dump: {(user.dir / 'dump.tar.gz').stat().st_size} bytes; "
              f"median time to appear {median([r['appears'] for r in results]):.1f} s")
    finally:
        user.cleanup(namespaces)


if __name__ == "__main__":
    main(*(int(a) if i == 0 else float(a) for i, a in enumerate(sys.argv[1:3])))
