"""Service figures on the router image (``scripts/router-image.sh``).

Through the network (two sites linked with a token, a server container on the server's site,
a client container on the consumer site's network that reaches services by name, via DNS):

* ``service create`` → reachable: a service already bound on the server's site is created on
  the consumer's site; time from running the command until the client's first echo through
  it (the client polls every 20 ms);
* live ``service bind`` → a client gets through: a service defined on both sites, then
  ``service bind`` on the server's site; time until the client's first echo;

each next to its floor, measured in the same rounds on a hand-written chain of the same shape
(edge → interior ⇢ interior ← edge, mutual TLS, as ``hand_chain.ALL``): ``podman run`` of an
edge router with the listener until the echo comes back, and a management CREATE of the
tcpConnector (sent straight to the server-side edge router over an open connection) until
the echo comes back.

On one site: ``service create`` and live ``service bind`` (CLI, cold start included, bound to
a host that does not exist) and a live bind through the Python API, then N services through
the Python API: time to create them, ``service status`` with them (API and CLI), and
``delete`` of the whole site.

Usage: .venv/bin/python bench/bench_services.py [services, default 100; 0 skips] [rounds, default 5]
Everything created carries a bench label or belongs to a bench namespace and is removed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from common import (
    BENCH_DIR,
    TOOLS_IMAGE,
    IsolatedUser,
    Workspace,
    free_port,
    ip_of,
    median,
    router_image,
    summary,
    timed,
)
from hand_chain import ALL, Chain, Net, router_config, start_all, tcp_connector, write_certs

ECHO = 9000
GATE = 9100  # first port of the bind floor's listeners on the hand-written consumer edge
POLL_TIMEOUT = 60


class Poller:
    """``client.py poll`` running in a client container; ``at()`` is the wall-clock time of
    the first echo (None when none came within the timeout)."""

    def __init__(self, ws: Workspace, client: str, name: str, port: int) -> None:
        self.proc = subprocess.Popen(
            ["podman", "exec", ws.name(client), "python3", "/bench/client.py", "poll", name, str(port),
             str(POLL_TIMEOUT)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if "started" not in self.proc.stdout.readline():  # EOF when the exec failed
            self.proc.kill()
            raise RuntimeError(f"the poller for {name}:{port} did not start")

    def at(self) -> float | None:
        try:
            out, _ = self.proc.communicate(timeout=POLL_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            return None
        lines = out.strip().splitlines()
        return json.loads(lines[-1]).get("at") if lines else None


def after(start: float, poller: Poller) -> float:
    at = poller.at()
    return float("nan") if at is None else at - start


class NetworkBench:
    def __init__(self, image: str, rounds: int) -> None:
        self.image, self.rounds = image, rounds
        self.user = IsolatedUser(image)
        self.ws = Workspace("svc")
        self.west, self.east = f"{self.user.prefix}w", f"{self.user.prefix}e"
        self.figures: dict[str, list[float]] = {k: [] for k in (
            "create_cli", "create_reach", "create_floor", "bind_cli", "bind_through", "bind_floor")}

    def setup(self) -> None:
        user, ws, west, east = self.user, self.ws, self.west, self.east
        user.skupper("init", "-n", west, "--site-name", west, "--ingress-host", "host.containers.internal",
                     "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))
        user.skupper("init", "-n", east, "--site-name", east, "--ingress", "none")
        token = user.dir / "west.token"
        user.skupper("token", "create", str(token), "-n", west)
        user.skupper("link", "create", str(token), "-n", east)
        user.skupper("link", "status", "link1", "--wait", "60", "-n", east)

        ws.write("client.py", (BENCH_DIR / "dataplane_client.py").read_text())
        ws.write("server.py", (BENCH_DIR / "dataplane_server.py").read_text())
        net_c, net_s = Net.create(ws, "c"), Net.create(ws, "s")
        write_certs(ws)
        west_net = f"{west}-skupper"
        ws.run("server", "--network", west_net, "--network", f"{net_s.name}:ip={net_s.ip(10)}",
               TOOLS_IMAGE, "python3", "/bench/server.py", str(ECHO))
        self.server_ip = ip_of(ws.name("server"), west_net)
        ws.run("client", "--network", f"{east}-skupper", TOOLS_IMAGE, "sleep", "infinity")

        # the floors' chain: routes for h<i> (create floor) exist on the server side from the
        # start; g<i> (bind floor) has listeners on the consumer edge and gets its connector live
        self.chain = chain = Chain(ALL, net_c, net_s, first_ip=20)
        server = net_s.ip(10)
        creates = [(f"h{i}", ECHO) for i in range(self.rounds)]
        jobs = [
            ("site-c", chain.run_args(ws, "site-c", router_config(ALL, "site-c", link_port=chain.link_port))),
            ("site-s", chain.run_args(ws, "site-s", router_config(ALL, "site-s"))),
            ("edge-s", chain.run_args(ws, "edge-s", router_config(
                ALL, "edge-s", server_ip=server, connectors=[*creates, ("ready", ECHO)], open_management=True))),
            ("edge-c", chain.run_args(ws, "edge-c", router_config(
                ALL, "edge-c", listeners=[(f"g{i}", GATE + i) for i in range(self.rounds)] + [("ready", ECHO)]))),
        ]
        start_all(ws, self.image, jobs)
        ws.run("hclient", "--network", net_c.name, TOOLS_IMAGE, "sleep", "infinity")
        self.hand_server = server
        answer = subprocess.run(["podman", "exec", ws.name("hclient"), "python3", "/bench/client.py", "wait",
                                 chain.ip("edge-c"), str(ECHO), "60"], capture_output=True, text=True, timeout=90)
        if '"ready": true' not in answer.stdout:
            raise RuntimeError("the hand-written chain never carried an echo")

    def round(self, i: int) -> None:
        user, ws, west, east, figures = self.user, self.ws, self.west, self.east, self.figures
        # service create -> reachable (the server's site already has it bound)
        user.skupper("service", "create", f"s{i}", str(ECHO), "-n", west)
        user.skupper("service", "bind", f"s{i}", "host", self.server_ip, "-n", west)
        poller = Poller(ws, "client", f"s{i}", ECHO)
        start = time.time()
        figures["create_cli"].append(timed(lambda: user.skupper("service", "create", f"s{i}", str(ECHO), "-n", east)))
        figures["create_reach"].append(after(start, poller))

        # floor: podman run of an edge router with the listener, reached by its network alias
        chain = self.chain
        config = router_config(ALL, "edge-c", listeners=[(f"h{i}", ECHO)], router_id=f"floor-e{i}")
        args = chain.run_args(ws, "edge-c", config, file=f"floor/e{i}.json", ip=False,
                              extra=["--network-alias", f"e{i}"])
        poller = Poller(ws, "hclient", f"e{i}", ECHO)
        start = time.time()
        ws.run(f"e{i}", *args, self.image)
        figures["create_floor"].append(after(start, poller))

        # live service bind -> a client gets through
        for ns in (west, east):
            user.skupper("service", "create", f"b{i}", str(ECHO), "-n", ns)
        poller = Poller(ws, "client", f"b{i}", ECHO)
        start = time.time()
        figures["bind_cli"].append(timed(lambda: user.skupper(
            "service", "bind", f"b{i}", "host", self.server_ip, "-n", west)))
        figures["bind_through"].append(after(start, poller))

        # floor: CREATE of the tcpConnector on the server-side edge over an open connection
        from skupper_podman.router.management import ManagementClient

        attrs = tcp_connector(ALL, f"g{i}", GATE + i, self.hand_server)
        attrs["port"] = str(ECHO)
        name = attrs.pop("name")
        with ManagementClient(f"amqp://{chain.ip('edge-s')}:5672", timeout=10) as client:
            client.query("tcpConnector", ["name"])  # opens the connection
            poller = Poller(ws, "hclient", chain.ip("edge-c"), GATE + i)
            start = time.time()
            client.create("tcpConnector", name, attrs)
            figures["bind_floor"].append(after(start, poller))

    def cleanup(self) -> None:
        self.ws.cleanup()  # first: its containers sit on the sites' networks
        self.user.cleanup([self.east, self.west])

    def report(self) -> None:
        f = self.figures

        def line(label: str, values: list[float]) -> str:
            good = [v for v in values if v == v]
            text = summary(good) if good else "no figures"
            missing = len(values) - len(good)
            return f"{label:44} {text}" + (f"   ({missing} timed out)" if missing else "")

        def ratio(ours: str, floor: str) -> str:
            pairs = [a / b for a, b in zip(f[ours], f[floor]) if a == a and b == b and b > 0]
            return f"{median(pairs):.2f}x" if pairs else "n/a"

        print(line("service create (CLI, consumer site)", f["create_cli"]))
        print(line("service create -> reachable through the link", f["create_reach"]))
        print(line("  floor: podman run edge router -> reachable", f["create_floor"]))
        print(f"  ours/floor (median of per-round ratios): {ratio('create_reach', 'create_floor')}")
        print(line("service bind, live (CLI, server site)", f["bind_cli"]))
        print(line("service bind -> a client gets through", f["bind_through"]))
        print(line("  floor: CREATE tcpConnector -> through", f["bind_floor"]))
        print(f"  ours/floor (median of per-round ratios): {ratio('bind_through', 'bind_floor')}")


def one_site(image: str, count: int) -> None:
    user = IsolatedUser(image)
    ns = f"{user.prefix}s"
    create, bind, api_bind = [], [], []
    try:
        user.skupper("init", "-n", ns, "--site-name", ns, "--ingress", "none")
        for i in range(3):
            create.append(timed(lambda: user.skupper("service", "create", f"cli{i}", "8080", "-n", ns)))
            bind.append(timed(lambda: user.skupper("service", "bind", f"cli{i}", "host", "10.0.0.1", "-n", ns)))
        os.environ.update({k: v for k, v in user.env.items() if k.startswith(("XDG_", "QDROUTERD"))})
        from skupper_podman import Services, Site

        site = Site.open(ns)
        services = Services(site)
        for i in range(3):  # library calls: a live bind of a second target
            api_bind.append(timed(lambda: services.bind(f"cli{i}", "10.0.0.2")))
        start = time.perf_counter()
        for i in range(count):
            services.create(f"svc{i}", [8080])
        bulk = time.perf_counter() - start
        status_api = [timed(services.status) for _ in range(3)]
        cli_status = [timed(lambda: user.skupper("service", "status", "-n", ns)) for _ in range(3)]
        delete_time = timed(site.delete)
    finally:
        user.cleanup([ns])
    print(f"service create (CLI, one site)               {summary(create)}")
    print(f"service bind, live (CLI, one site)           {summary(bind)}")
    print(f"create {count} services (API)                    {bulk:8.1f} s   ({bulk / count * 1000:.0f} ms each)")
    print(f"service bind, live (API, one site)           {summary(api_bind)}")
    print(f"service status with {count} (API)                {summary(status_api)}")
    print(f"service status with {count} (CLI)                {summary(cli_status)}")
    print(f"delete site with {count} services                {delete_time:8.1f} s")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    started = time.perf_counter()
    image = router_image()
    print(f"router image: {image}")
    bench = NetworkBench(image, rounds)
    try:
        bench.setup()
        for i in range(rounds):
            bench.round(i)
    finally:
        bench.cleanup()
    bench.report()
    network_time = time.perf_counter() - started
    if count > 0:
        one_site(image, count)
    print(f"bench time: through the network {network_time:.0f} s, "
          f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
