"""Service figures: ``service create`` and live ``service bind`` (CLI, cold start included), then
100 services on one site through the Python API: time to create them, ``service status`` with
them, and ``delete`` of the whole site.

Usage: .venv/bin/python bench/bench_services.py [services]
"""
from __future__ import annotations

import os
import sys
import time

from common import IsolatedUser, router_image, summary, timed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    image = router_image()
    user = IsolatedUser(image)
    ns = f"{user.prefix}s"
    create, bind = [], []
    try:
        user.skupper("init", "-n", ns, "--site-name", ns, "--ingress", "none")
        for i in range(3):
            create.append(timed(lambda: user.skupper("service", "create", f"cli{i}", "8080", "-n", ns)))
            bind.append(timed(lambda: user.skupper("service", "bind", f"cli{i}", "host", "10.0.0.1", "-n", ns)))
        os.environ.update({k: v for k, v in user.env.items() if k.startswith(("XDG_", "QDROUTERD"))})
        from skupper_podman import Services, Site

        site = Site.open(ns)
        services = Services(site)
        start = time.perf_counter()
        for i in range(count):
            services.create(f"svc{i}", [8080])
        bulk = time.perf_counter() - start
        status_time = timed(services.status)
        cli_status = timed(lambda: user.skupper("service", "status", "-n", ns))
        delete_time = timed(site.delete)
    finally:
        user.cleanup([ns])
    print(f"router image: {image}")
    print(f"service create (CLI)                 {summary(create)}")
    print(f"service bind, live (CLI)             {summary(bind)}")
    print(f"create {count} services (API)          {bulk:8.1f} s   ({bulk / count * 1000:.0f} ms each)")
    print(f"service status with {count} (API)      {status_time * 1000:8.1f} ms")
    print(f"service status with {count} (CLI)      {cli_status * 1000:8.1f} ms")
    print(f"delete site with {count} services      {delete_time:8.1f} s")


if __name__ == "__main__":
    main()
