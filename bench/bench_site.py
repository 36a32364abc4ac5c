"""Site start-up figures on the router image (``scripts/router-image.sh``), side by side in one run:

* the floor any site manager pays: ``podman run -d`` of the router alone (a minimal interior
  config, plain AMQP, on a bench network without DNS), until the command returns and until
  the router answers a management request (polled every 20 ms);
* ``skupper init`` until it returns, i.e. until the router answers management over mutual
  TLS (certificates, volumes, network, image checks included), and its ratio to the floor;
* the same ``init`` through the library with its progress messages timed: where init's time
  goes (phases are named by the message that starts them);
* ``skupper status`` against a running site, ``skupper version`` cold start (a new Python
  process each time), ``skupper delete``.

Usage: .venv/bin/python bench/bench_site.py [rounds, default 5]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from common import IsolatedUser, Workspace, free_port, median, router_image, summary, timed
from hand_chain import Net

FLOOR_CONFIG = [["router", {"id": "floor", "mode": "interior", "helloMaxAgeSeconds": "3"}],
                ["listener", {"name": "amqp", "host": "0.0.0.0", "port": 5672}]]


def router_alone(ws: Workspace, net: Net, image: str, index: int) -> tuple[float, float]:
    """Seconds until ``podman run -d`` returns and until the router answers management."""
    from skupper_podman.router.management import ManagementClient

    ip = net.ip(10 + index)
    start = time.perf_counter()
    name = ws.run(f"alone{index}", "--network", f"{net.name}:ip={ip}", "-e", "QDROUTERD_CONF=/bench/floor.json",
                  "-e", "QDROUTERD_CONF_TYPE=json", image)
    returned = time.perf_counter() - start
    with ManagementClient(f"amqp://{ip}:5672", timeout=2, connect_timeout=0.5) as client:
        client.wait_ready(30, interval=0.02)
    ready = time.perf_counter() - start
    subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)
    return returned, ready


def init_phases(ns: str, image: str) -> dict[str, float]:
    """Seconds spent in each phase of a library ``Site.init`` (a phase runs from its progress
    message to the next one; the last to the return)."""
    from skupper_podman import InitOptions, Site

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    site = Site.open(ns)
    marks.append(("open the Podman connection", start))
    site.init(InitOptions(site_name=ns, ingress_hosts=["host.containers.internal"], bind_port=free_port(),
                          bind_port_edge=free_port(), image=image),
              progress=lambda message: marks.append((message.replace(image, "<image>"), time.perf_counter())))
    end = time.perf_counter()
    phases = {name: (marks[i + 1][1] if i + 1 < len(marks) else end) - at for i, (name, at) in enumerate(marks)}
    phases["total"] = end - start
    site.delete()
    return phases


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    started = time.perf_counter()
    image = router_image()
    user = IsolatedUser(image)
    ws = Workspace("site")
    namespaces: list[str] = []
    alone, alone_ready, init, version, status, delete = [], [], [], [], [], []
    phases: dict[str, list[float]] = {}
    try:
        ws.write("floor.json", json.dumps(FLOOR_CONFIG))
        net = Net.create(ws, "net", dns=False)
        os.environ.update({k: v for k, v in user.env.items() if k.startswith(("XDG_", "QDROUTERD"))})
        for i in range(rounds):
            returned, ready = router_alone(ws, net, image, i)
            alone.append(returned)
            alone_ready.append(ready)
            ns = f"{user.prefix}{i}"
            namespaces.append(ns)
            init.append(timed(lambda: user.skupper(
                "init", "-n", ns, "--site-name", ns, "--ingress-host", "host.containers.internal",
                "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))))
            status.append(timed(lambda: user.skupper("status", "-n", ns)))
            version.append(timed(lambda: user.skupper("version", "-n", ns)))
            delete.append(timed(lambda: user.skupper("delete", "-n", ns)))
            namespaces.append(f"{ns}api")
            for phase, seconds in init_phases(f"{ns}api", image).items():
                phases.setdefault(phase, []).append(seconds)
    finally:
        ws.cleanup()
        user.cleanup(namespaces)
    ratios = [a / b for a, b in zip(init, alone_ready) if b > 0]
    print(f"router image: {image}")
    print(f"podman run -d (router alone) returns     {summary(alone)}")
    print(f"  router alone answers management        {summary(alone_ready)}")
    print(f"skupper init to router-ready             {summary(init)}   {median(ratios):.1f}x floor")
    print(f"skupper status (live router)             {summary(status)}")
    print(f"skupper version (cold start)             {summary(version)}")
    print(f"skupper delete                           {summary(delete)}")
    print("library Site.init, by phase:")
    for phase, values in phases.items():
        print(f"  {phase:38} {summary(values)}")
    print(f"bench time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
