"""Link figures on the router image (``scripts/router-image.sh``), in one run:

* ``link create`` command latency (CLI, cold start included);
* ``link create`` → connected, two ways: when the router's connector first reports
  its connection opened (the bench polls the site's management every 20 ms from the
  moment the command starts), and when ``link status --wait`` run right after the command
  returns (what a user sees);
* ``link delete`` command latency;
* ``Links.create`` and ``Links.delete`` library-call latency (no CLI start-up);
* the floor, in the same rounds: on two hand-written interior routers with the same mutual-TLS
  inter-router listener/connector attributes, a management CREATE of the connector (over an
  already open connection) until it reports the connection opened.

Usage: .venv/bin/python bench/bench_links.py [rounds, default 5]
"""
from __future__ import annotations

import os
import sys
import threading
import time

from common import IsolatedUser, Workspace, free_port, median, router_image, summary, timed
from hand_chain import ALL, Chain, Net, link_connector, router_config, start_all, write_certs

POLL = 0.02
DEADLINE = 60.0


def wait_success(client, name: str, start: float) -> float:
    """Seconds from ``start`` (perf_counter) until connector ``name`` reports its connection
    opened (SUCCESS alone only means an attempt is under way on 2.5.3)."""
    from skupper_podman.errors import ManagementError, RouterUnavailable
    from skupper_podman.links.operations import link_up

    while time.perf_counter() - start < DEADLINE:
        try:
            rows = client.query("connector", ["name", "connectionStatus", "connectionMsg"])
        except (ManagementError, RouterUnavailable):
            rows = []
        if any(r.get("name") == name and link_up(r) for r in rows):
            return time.perf_counter() - start
        time.sleep(POLL)
    return float("nan")


class Watcher(threading.Thread):
    """Polls a site's connector from its own management connection, in the background."""

    def __init__(self, site, name: str, start: float) -> None:
        super().__init__(daemon=True)
        self.site, self.name, self.start_time = site, name, start
        self.result = float("nan")

    def run(self) -> None:
        with self.site.management() as client:
            self.result = wait_success(client, self.name, self.start_time)


def floor_chain(ws: Workspace, image: str) -> Chain:
    """Two interior routers as ``hand_chain.ALL`` has them, without the link; site-c managed
    from the host."""
    net_c, net_s = Net.create(ws, "c", dns=False), Net.create(ws, "s", dns=False)
    write_certs(ws, ("site-c", "site-s"))
    chain = Chain(ALL, net_c, net_s, first_ip=20)
    start_all(ws, image, [
        ("site-c", chain.run_args(ws, "site-c", router_config(ALL, "site-c", link=False, open_management=True))),
        ("site-s", chain.run_args(ws, "site-s", router_config(ALL, "site-s"))),
    ])
    return chain


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    started = time.perf_counter()
    image = router_image()
    user = IsolatedUser(image)
    ws = Workspace("link")
    west, east = f"{user.prefix}w", f"{user.prefix}e"
    create, success, connected, delete, floor, api_create, api_delete = [], [], [], [], [], [], []
    try:
        for ns in (west, east):
            user.skupper("init", "-n", ns, "--site-name", ns, "--ingress-host", "host.containers.internal",
                         "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))
        token = user.dir / "west.token"
        user.skupper("token", "create", str(token), "-n", west)
        os.environ.update({k: v for k, v in user.env.items() if k.startswith(("XDG_", "QDROUTERD"))})
        from skupper_podman import Site
        from skupper_podman.router.management import ManagementClient

        site = Site.open(east)
        chain = floor_chain(ws, image)
        with ManagementClient(f"amqp://{chain.ip('site-c')}:5672", timeout=10) as hand:
            hand.wait_ready(60)
            for i in range(rounds):
                start = time.perf_counter()
                watcher = Watcher(site, "link1", start)
                watcher.start()
                user.skupper("link", "create", str(token), "-n", east)
                create.append(time.perf_counter() - start)
                user.skupper("link", "status", "link1", "--wait", "60", "-n", east)
                connected.append(time.perf_counter() - start)
                watcher.join(DEADLINE + 10)
                success.append(watcher.result)
                delete.append(timed(lambda: user.skupper("link", "delete", "link1", "-n", east)))

                attrs = link_connector(ALL, chain.link_port, name=f"floor{i}")
                name = attrs.pop("name")
                start = time.perf_counter()
                hand.create("connector", name, attrs)
                floor.append(wait_success(hand, name, start))
                hand.delete("connector", name)
            from skupper_podman import Links

            links = Links(site)
            for _ in range(rounds):  # the library calls alone, without the CLI's start-up
                api_create.append(timed(lambda: links.create(token, name="apilink")))
                api_delete.append(timed(lambda: links.delete("apilink")))
    finally:
        ws.cleanup()
        user.cleanup([east, west])

    def ratio(values: list[float]) -> str:
        pairs = [a / b for a, b in zip(values, floor) if a == a and b == b and b > 0]
        return f"{median(pairs):.1f}x floor" if pairs else ""

    rows = [("link create (command)", create, False),
            ("link create -> connection opened (20 ms poll)", success, True),
            ("link create -> link status --wait returns", connected, True),
            ("  floor: CREATE connector -> opened", floor, False),
            ("link delete (command)", delete, False),
            ("link create (API call)", api_create, False),
            ("link delete (API call)", api_delete, False)]
    print(f"router image: {image}")
    for label, values, with_ratio in rows:
        print(f"{label:47} {summary(values)}" + (f"   {ratio(values)}" if with_ratio else ""))
    print(f"bench time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
