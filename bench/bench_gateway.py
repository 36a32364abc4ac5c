"""Gateways on the router image: how long a gateway takes to connect and to expose a host
process, and what it costs on the data plane.

* ``gateway init --type podman`` → its router connected to the site (the command returns once
  the site router lists it; ``--rounds`` runs, each followed by ``gateway delete``);
* ``gateway expose`` → the exposed process answers a client container on the site network by
  the service name (the client polls from before the command starts);
* throughput (iperf3, one stream), echo round trips and connect+echo from that client to a
  process on the host network (the "host process": iperf3 and an echo server in a
  ``--network host`` container) through the site's service router, the site router and the
  gateway, against the same client dialling the host directly (host.containers.internal) and
  through a site service bound to the host (``skupper expose host host.containers.internal``:
  one router, no gateway).

Usage: .venv/bin/python bench/bench_gateway.py [--rounds 3] [--seconds 2]
Env: QDROUTERD_IMAGE (via scripts/router-image.sh), BENCH_TOOLS_IMAGE (default acc-tools:1).
Everything created is labelled (bench containers) or belongs to a bench namespace, and is
removed at the end.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time

from common import (
    BENCH_DIR,
    TOOLS_IMAGE,
    IsolatedUser,
    Workspace,
    free_port,
    median,
    podman,
    router_image,
    summary,
)

N_RTT, N_CONNECT = 500, 100
SERVICE, SITE_SERVICE = "gwbench", "sitebench"
ECHO, IPERF = 9000, 5201


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.image = router_image()
        self.ws = Workspace("gw")
        self.user = IsolatedUser(self.image)
        self.ns = f"{self.user.prefix}g"
        self.echo_port, self.iperf_port = free_port(), free_port()

    def setup(self) -> None:
        self.user.skupper("init", "-n", self.ns, "--site-name", self.ns, "--ingress-host", "host.containers.internal",
                          "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))
        ws = self.ws
        ws.write("client.py", (BENCH_DIR / "dataplane_client.py").read_text())
        ws.write("server.py", (BENCH_DIR / "dataplane_server.py").read_text())
        # the host process: an echo server and iperf3 on the host's network
        ws.run("host-process", "--network", "host", TOOLS_IMAGE, "sh", "-c",
               f"iperf3 -s -p {self.iperf_port} -D && exec python3 /bench/server.py {self.echo_port}")
        ws.run("client", "--network", f"{self.ns}-skupper", TOOLS_IMAGE, "sleep", "infinity")
        self.user.skupper("expose", "host", "host.containers.internal", "--address", SITE_SERVICE, "--port", str(ECHO),
                          "--port", str(IPERF), "--target-port", f"{ECHO}:{self.echo_port}",
                          "--target-port", f"{IPERF}:{self.iperf_port}", "-n", self.ns)

    def client(self, *args: str, timeout: float) -> dict:
        out = podman("exec", self.ws.name("client"), "python3", "/bench/client.py", *args, timeout=timeout)
        return json.loads(out.splitlines()[-1])

    def init_to_connected(self) -> list[float]:
        samples = []
        for index in range(self.args.rounds):
            name = f"conn{index}"
            start = time.perf_counter()
            self.user.skupper("gateway", "init", "--name", name, "--type", "podman", "-n", self.ns)
            samples.append(time.perf_counter() - start)
            status = json.loads(self.user.skupper("gateway", "status", "-o", "json", "-n", self.ns).stdout)
            if not any(g["name"] == name and g["connected"] for g in status):
                raise RuntimeError(f"gateway {name} is not connected after init")
            self.user.skupper("gateway", "delete", "--name", name, "-n", self.ns)
        return samples

    def expose_to_reachable(self) -> tuple[float, float]:
        """(seconds the command took, seconds until the client got an echo by service name)."""
        poller = podman_popen("exec", self.ws.name("client"), "python3", "/bench/client.py", "poll", SERVICE,
                              str(ECHO), "120")
        poller.stdout.readline()  # the poller prints a first line once it runs
        command_start = time.time()
        self.user.skupper("gateway", "expose", SERVICE, "127.0.0.1", f"{ECHO}:{self.echo_port}",
                          f"{IPERF}:{self.iperf_port}", "--type", "podman", "--name", "bench", "-n", self.ns)
        command = time.time() - command_start
        answer = json.loads(poller.stdout.readline())
        poller.wait(timeout=30)
        if answer["at"] is None:
            raise RuntimeError("the exposed process never answered by its service name")
        return command, answer["at"] - command_start

    def measure(self, host: str, echo: int, iperf: int) -> dict:
        seconds = self.args.seconds
        return self.client("measure", host, str(echo), str(iperf), str(seconds), str(N_RTT), str(N_CONNECT),
                           timeout=seconds * 2 + 120)

    def cleanup(self) -> None:
        self.ws.cleanup()
        self.user.cleanup([self.ns])


def podman_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen(["podman", *args], stdout=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=2, help="iperf3 seconds per measurement")
    args = parser.parse_args()
    bench = Bench(args)
    started = time.perf_counter()
    rows: list[dict] = []
    try:
        bench.setup()
        connect = bench.init_to_connected()
        command, reachable = bench.expose_to_reachable()
        for round_index in range(args.rounds):
            row = {"direct": bench.measure("host.containers.internal", bench.echo_port, bench.iperf_port),
                   "service": bench.measure(SITE_SERVICE, ECHO, IPERF),
                   "gateway": bench.measure(SERVICE, ECHO, IPERF)}
            rows.append(row)
            print(f"  round {round_index + 1}/{args.rounds}: " + ", ".join(
                f"{path} {row[path]['gbps'] or 0:.2f} Gbit/s" for path in row), flush=True)
    finally:
        bench.cleanup()
    print(f"router image: {bench.image}")
    print(f"gateway init --type podman -> connected:   {summary(connect)}")
    print(f"gateway expose (init + bind) command:      {command * 1000:8.1f} ms")
    print(f"gateway expose -> reachable by name:       {reachable * 1000:8.1f} ms")
    print()
    print("paths: direct = client -> host; service = client -> service router -> host; gateway = client ->"
          " service router -> site router -> gateway router -> host")
    print(f"{'path':8} {'Gbit/s':>7} {'echo RTT ms':>12} {'connect+echo ms':>16}   fails")
    for path in ("direct", "service", "gateway"):
        gbps = median([r[path]["gbps"] for r in rows if r[path]["gbps"]])
        rtt = median([r[path]["rtt_ms"] for r in rows])
        conn = median([r[path]["connect_ms"] for r in rows if r[path]["connect_ms"] is not None])
        fails = sum(r[path]["connect_failures"] for r in rows)
        print(f"{path:8} {gbps:7.3f} {rtt:12.3f} {conn:16.3f}   {fails}")
    for path, base in (("gateway", "direct"), ("gateway", "service")):
        ratios = [r[path]["gbps"] / r[base]["gbps"] for r in rows if r[path]["gbps"] and r[base]["gbps"]]
        print(f"{path} throughput × {base}: {median(ratios):.3f} (median of per-round ratios)")
    print(f"bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
