"""Data plane on the router image, in one run: TCP throughput (iperf3, one stream) and echo
round trips (64 bytes) from a client container to a server container through

* nothing: the client talks to the server directly (the floor);
* two linked sites made with this tool: ``skupper init`` on two namespaces, ``token create``
  on the server's site, ``link create`` on the consumer's, ``service create`` on both,
  ``service bind`` on the server's site to the server container's IP; the client sits on the
  consumer site's network and reaches the service by its name (``--add-host``, so no DNS);
* hand-written router configs of the same shape as that service path:
  client → consumer edge (tcpListener) → consumer interior ⇢ server interior ← server edge
  (tcpConnector) → server, where ⇢ is the inter-router link the consumer dials (as
  ``link create`` does) and ← the edge uplinks (as a service container's router dials its
  site router). First plain (one network, plain AMQP, router defaults), then each
  difference from our rendered configs (templates/*.j2, skupper_podman/router/config.py)
  alone, then all of them together:

  ``tls-edge``  mutual TLS on both edge uplinks (sslProfile, EXTERNAL, authenticatePeer)
  ``tls-link``  mutual TLS on the inter-router link (verifyHostname)
  ``frames``    maxFrameSize 16384 / maxSessionFrames 640 on the interior-listener,
                edge-listener and link connector
  ``hostport``  the link dials host.containers.internal:<published port> (netavark DNAT),
                as a token's ingress host makes it do
  ``split``     consumer and server sides on two networks (one per site, routed by the host)
  ``extras``    the rest of a site: metadata, the 9090 http/metrics listener, the amqps
                listener, the mc address, siteId on tcp entities, SKUPPER_SITE_ID in the
                environment, listeners on the server-side edge too
  ``all``       every one of the above: the shape our sites have

Rounds run every path once, in a rotating order; figures are medians over rounds, and ratios
are medians of per-round ratios (both paths measured within seconds of each other).

Usage: .venv/bin/python bench/bench_dataplane.py [--rounds 5] [--seconds 2]
           [--variants plain,tls-edge,...] [--no-ours]
Env: QDROUTERD_IMAGE (via scripts/router-image.sh), BENCH_TOOLS_IMAGE (default acc-tools:1).
Everything created carries the labels skupper-podman.io/bench=1 and
skupper-podman.io/bench-run=<run> and is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import time

from common import (
    BENCH_DIR,
    TOOLS_IMAGE,
    IsolatedUser,
    Workspace,
    free_port,
    ip_of,
    median,
    podman,
    router_image,
)
from hand_chain import VARIANTS, ROUTERS, Chain, Net, Variant, router_config, start_all, write_certs

ECHO, IPERF = 9000, 5201
SERVICE = "benchsvc"
N_RTT, N_CONNECT = 500, 100


# -- the run -------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.image = router_image()
        self.ws = Workspace("dp")
        self.user: IsolatedUser | None = None
        self.namespaces: list[str] = []
        self.targets: dict[str, str] = {}  # path -> host the client dials
        self.timings: dict[str, float] = {}

    # setup
    def setup(self, variants: list[Variant]) -> None:
        ws = self.ws
        start = time.perf_counter()
        net_c, net_s = Net.create(ws, "c", dns=False), Net.create(ws, "s", dns=False)
        ws.write("client.py", (BENCH_DIR / "dataplane_client.py").read_text())
        ws.write("server.py", (BENCH_DIR / "dataplane_server.py").read_text())
        if any(v.tls_edge or v.tls_link or v.extras for v in variants):
            write_certs(ws)

        west_net = ""
        if not self.args.no_ours:
            west_net = self.setup_sites()
        server_c, server_s = net_c.ip(10), net_s.ip(10)
        server_args = ["--network", f"{net_c.name}:ip={server_c}", "--network", f"{net_s.name}:ip={server_s}"]
        if west_net:
            server_args += ["--network", west_net]
        ws.run("server", *server_args, TOOLS_IMAGE, "sh", "-c",
               f"iperf3 -s -p {IPERF} --rcv-timeout 10000 >/dev/null 2>&1 & "
               f"exec python3 /bench/server.py {ECHO}")
        self.targets["direct"] = server_c
        client_args = ["--network", f"{net_c.name}:ip={net_c.ip(11)}"]
        if west_net:
            west_ns, east_ns = self.namespaces
            self.user.skupper("service", "bind", SERVICE, "host",  # type: ignore[union-attr]
                              ip_of(ws.name("server"), west_net), "-n", west_ns)
            east_net = f"{east_ns}-skupper"
            svc_ip = ip_of(f"{east_ns}-{SERVICE}", east_net)
            client_args += ["--network", east_net, f"--add-host={SERVICE}:{svc_ip}"]
            self.targets["ours"] = SERVICE
        self.timings["sites"] = time.perf_counter() - start

        start = time.perf_counter()
        jobs = []
        ports = [(SERVICE, IPERF), (SERVICE, ECHO)]
        for index, v in enumerate(variants):
            chain = Chain(v, net_c, net_s, first_ip=20 + index * len(ROUTERS))
            server_ip = server_s if v.split else server_c
            for role in ROUTERS:
                config = router_config(v, role, server_ip=server_ip, link_port=chain.link_port,
                                       listeners=ports if role == "edge-c" else (),
                                       connectors=ports if role == "edge-s" else ())
                jobs.append((f"{v.name}-{role}", chain.run_args(ws, role, config)))
            self.targets[v.name] = chain.ip("edge-c")
        start_all(ws, self.image, jobs)
        ws.run("client", *client_args, TOOLS_IMAGE, "sleep", "infinity")
        self.timings["hand routers"] = time.perf_counter() - start

    def setup_sites(self) -> str:
        """Two sites linked with a token and the service on both; the west (server) network."""
        self.user = user = IsolatedUser(self.image)
        west, east = f"{user.prefix}w", f"{user.prefix}e"
        self.namespaces = [west, east]
        user.skupper("init", "-n", west, "--site-name", west, "--ingress-host", "host.containers.internal",
                     "--bind-port", str(free_port()), "--bind-port-edge", str(free_port()))
        user.skupper("init", "-n", east, "--site-name", east, "--ingress", "none")
        token = user.dir / "west.token"
        user.skupper("token", "create", str(token), "-n", west)
        user.skupper("link", "create", str(token), "-n", east)
        user.skupper("link", "status", "link1", "--wait", "60", "-n", east)
        for ns in (west, east):
            user.skupper("service", "create", SERVICE, str(IPERF), str(ECHO), "-n", ns)
        return f"{west}-skupper"

    # measuring
    def client(self, *args: str, timeout: float) -> dict:
        out = podman("exec", self.ws.name("client"), "python3", "/bench/client.py", *args, timeout=timeout)
        return json.loads(out.splitlines()[-1])

    def wait_ready(self, paths: list[str]) -> None:
        start = time.perf_counter()
        for path in paths:
            answer = self.client("wait", self.targets[path], str(ECHO), "60", timeout=90)
            if not answer["ready"]:
                raise RuntimeError(f"path {path} ({self.targets[path]}:{ECHO}) never echoed")
        self.timings["ready"] = time.perf_counter() - start

    def measure(self, path: str) -> dict:
        seconds = self.args.seconds
        return self.client("measure", self.targets[path], str(ECHO), str(IPERF), str(seconds),
                           str(N_RTT), str(N_CONNECT), timeout=seconds * 2 + 120)

    def cleanup(self) -> None:
        self.ws.cleanup()  # first: the client and server sit on the sites' networks
        if self.user is not None:
            self.user.cleanup(self.namespaces)


def ratio_stats(rows: list[dict], path: str, base: str, key: str) -> float:
    values = [r[path][key] / r[base][key] for r in rows
              if r.get(path, {}).get(key) and r.get(base, {}).get(key)]
    return median(values)


def delta_stats(rows: list[dict], path: str, base: str, key: str) -> float:
    values = [r[path][key] - r[base][key] for r in rows
              if r.get(path, {}).get(key) is not None and r.get(base, {}).get(key) is not None]
    return median(values)


def col(rows: list[dict], path: str, key: str) -> float:
    return median([r[path][key] for r in rows if r.get(path, {}).get(key) is not None])


def report(rows: list[dict], paths: list[str], image: str) -> None:
    print(f"router image: {image}; {len(rows)} rounds; medians over rounds; ×: median of per-round ratios")
    print()
    head = (f"{'path':10} {'Gbit/s':>7} {'×direct':>8} {'×plain':>7}   {'echo RTT ms':>11} {'p90':>6} "
            f"{'×direct':>8}   {'connect+echo ms':>15} {'p90':>6}   fails")
    print(head)
    print("-" * len(head))
    for path in paths:
        fails = sum(r[path]["connect_failures"] for r in rows if path in r)
        plain = f"{ratio_stats(rows, path, 'plain', 'gbps'):7.3f}" if "plain" in paths else f"{'':7}"
        print(f"{path:10} {col(rows, path, 'gbps'):7.3f} {ratio_stats(rows, path, 'direct', 'gbps'):8.3f} {plain}   "
              f"{col(rows, path, 'rtt_ms'):11.3f} {col(rows, path, 'rtt_p90_ms'):6.3f} "
              f"{ratio_stats(rows, path, 'direct', 'rtt_ms'):8.2f}   "
              f"{col(rows, path, 'connect_ms'):15.3f} {col(rows, path, 'connect_p90_ms'):6.3f}   {fails}")
    hand = [p for p in paths if p not in ("direct", "ours", "plain")]
    if "plain" in paths and hand:
        print()
        print("what each difference from the plain chain costs (one at a time; per-round, vs plain):")
        head = f"{'variant':10} {'throughput ×plain':>17} {'Δ echo RTT ms':>14} {'Δ connect+echo ms':>18}"
        print(head)
        print("-" * len(head))
        for path in hand:
            print(f"{path:10} {ratio_stats(rows, path, 'plain', 'gbps'):17.3f} "
                  f"{delta_stats(rows, path, 'plain', 'rtt_ms'):+14.3f} "
                  f"{delta_stats(rows, path, 'plain', 'connect_ms'):+18.3f}")
    if "ours" in paths:
        print()
        for base in ("plain", "all"):
            if base in paths:
                print(f"ours vs hand {base:5}: throughput ×{ratio_stats(rows, 'ours', base, 'gbps'):.3f}   "
                      f"echo RTT ×{ratio_stats(rows, 'ours', base, 'rtt_ms'):.2f}   "
                      f"connect+echo ×{ratio_stats(rows, 'ours', base, 'connect_ms'):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=2, help="iperf3 seconds per measurement")
    parser.add_argument("--variants", default=",".join(v.name for v in VARIANTS),
                        help="hand-written variants to run (comma-separated)")
    parser.add_argument("--no-ours", action="store_true", help="skip the sites made with skupper")
    parser.add_argument("--json", help="also write every measurement to this file")
    args = parser.parse_args()
    known = {v.name: v for v in VARIANTS}
    wanted = [n for n in args.variants.split(",") if n]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(known)}")
    variants = [known[n] for n in wanted]

    started = time.perf_counter()
    bench = Bench(args)
    rows: list[dict] = []
    paths = ["direct", *([] if args.no_ours else ["ours"]), *(v.name for v in variants)]
    try:
        bench.setup(variants)
        bench.wait_ready(paths)
        for round_index in range(args.rounds):
            order = paths[round_index % len(paths):] + paths[:round_index % len(paths)]
            row = {}
            for path in order:
                row[path] = bench.measure(path)
                if row[path]["iperf_error"]:
                    print(f"  round {round_index + 1} {path}: iperf3 failed: {row[path]['iperf_error']}")
            rows.append(row)
            print(f"  round {round_index + 1}/{args.rounds} done "
                  f"({time.perf_counter() - started:.0f} s): "
                  + " ".join(f"{p}={row[p]['gbps'] or 0:.2f}" for p in paths), flush=True)
    finally:
        cleanup_start = time.perf_counter()
        bench.cleanup()
        bench.timings["cleanup"] = time.perf_counter() - cleanup_start
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"paths": paths, "rows": rows, "timings": bench.timings}, handle, indent=1)
    print()
    report(rows, paths, bench.image)
    print()
    print("bench time: " + ", ".join(f"{k} {v:.0f} s" for k, v in bench.timings.items())
          + f"; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
