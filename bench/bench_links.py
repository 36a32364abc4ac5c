"""Link figures: ``link create`` command latency and the time from ``link create`` to connected.

Usage: .venv/bin/python bench/bench_links.py [rounds]
"""
from __future__ import annotations

import sys
import time

from common import IsolatedUser, free_port, router_image, summary, timed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = router_image()
    user = IsolatedUser(image)
    west, east = f"{user.prefix}w", f"{user.prefix}e"
    create, connected, delete = [], [], []
    try:
        for ns in (west, east):
            user.skupper("init", "-n", ns, "--site-name", ns, "--ingress-host", "host.containers.internal",
                         "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))
        token = user.dir / "west.token"
        user.skupper("token", "create", str(token), "-n", west)
        for _ in range(rounds):
            start = time.perf_counter()
            user.skupper("link", "create", str(token), "-n", east)
            create.append(time.perf_counter() - start)
            user.skupper("link", "status", "link1", "--wait", "60", "-n", east)
            connected.append(time.perf_counter() - start)
            delete.append(timed(lambda: user.skupper("link", "delete", "link1", "-n", east)))
    finally:
        user.cleanup([east, west])
    print(f"router image: {image}")
    print(f"link create (command)            {summary(create)}")
    print(f"link create -> connected         {summary(connected)}")
    print(f"link delete (command)            {summary(delete)}")


if __name__ == "__main__":
    main()
