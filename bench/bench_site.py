"""Site start-up figures, side by side in one run.

* ``podman create+start`` of the router image alone (the floor any site manager pays),
* ``skupper init`` until the router answers management (certificates, volumes, network, checks),
* ``skupper version`` cold start (a new Python process each time),
* ``skupper status`` against a running site.

Usage: .venv/bin/python bench/bench_site.py [rounds]
"""
from __future__ import annotations

import subprocess
import sys
import uuid

from common import IsolatedUser, free_port, router_image, summary, timed


def podman_alone(image: str) -> float:
    name = "skupper-bench-" + uuid.uuid4().hex[:6]
    try:
        return timed(lambda: subprocess.run(
            ["podman", "run", "-d", "--name", name, "-e", "QDROUTERD_CONF_TYPE=json", image],
            check=True, capture_output=True))
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = router_image()
    user = IsolatedUser(image)
    namespaces: list[str] = []
    alone, init, version, status = [], [], [], []
    try:
        for i in range(rounds):
            alone.append(podman_alone(image))
            ns = f"{user.prefix}{i}"
            namespaces.append(ns)
            init.append(timed(lambda: user.skupper(
                "init", "-n", ns, "--site-name", ns, "--ingress-host", "host.containers.internal",
                "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))))
            status.append(timed(lambda: user.skupper("status", "-n", ns)))
            version.append(timed(lambda: user.skupper("version", "-n", ns)))
            user.skupper("delete", "-n", ns)
    finally:
        user.cleanup(namespaces)
    print(f"router image: {image}")
    print(f"podman create+start (router alone)   {summary(alone)}")
    print(f"skupper init to router-ready         {summary(init)}")
    print(f"skupper status (live router)         {summary(status)}")
    print(f"skupper version (cold start)         {summary(version)}")


if __name__ == "__main__":
    main()
