"""Data-plane figures of the router image: bytes and connections through
edge → interior → interior → edge, next to the same client talking to the server directly.

Containers on one podman network (static IPs, ``--add-host``, no DNS): a python server
(``STREAM_SERVER`` of the conformance suite: echo and byte-counting ports), four routers
linked with plain AMQP (edge-1 → site-a ← site-b ← edge-2, a tcpListener on edge-1 and the
tcpConnectors on edge-2) and a python client container that prints one JSON line per figure:

* throughput: one connection sends for ``SECONDS`` s, the server counts (MB/s, one way);
* echo round trip on an open connection (median of 500);
* new connection plus first echo (median and p90 of 200 sequential ones).

Usage: .venv/bin/python bench/bench_router_double.py [seconds per throughput run, default 3] [image]
The router image is the double (``scripts/router-image.sh --double``) unless ``image`` is given
(e.g. ``$(bash scripts/router-image.sh)`` for the same figures on the real router).
Everything created carries the label ``skupper-podman.io/bench`` and is removed at the end.
"""
from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from common import ROOT, double_image

sys.path.insert(0, str(ROOT / "tests" / "conformance"))
from routers import STREAM_SERVER  # noqa: E402  (the conformance suite's target server)

LABEL = "skupper-podman.io/bench"
PYTHON_IMAGE_REPO = "localhost/skupper-podman-pybase"
ECHO, COUNT, LISTEN = 9000, 9001, 9100

CLIENT = r'''
import json, socket, statistics, sys, time

def connect_retry(host, port, deadline):
    """An open connection to the echo port once it answers."""
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"ping")
            if sock.recv(4) == b"ping":
                return sock
            sock.close()
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("no echo from %s:%d" % (host, port))
        time.sleep(0.1)

def throughput(host, port, seconds):
    sock = socket.create_connection((host, port), timeout=30)
    chunk = b"\0" * (1 << 20)
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        sock.sendall(chunk)
        sent += len(chunk)
    sock.shutdown(socket.SHUT_WR)
    answer = b""
    while data := sock.recv(100):
        answer += data
    elapsed = time.monotonic() - start
    assert answer == b"received %d bytes" % sent, answer
    return sent / elapsed / 1e6

def round_trips(sock, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(b"x" * 64)
        got = 0
        while got < 64:
            got += len(sock.recv(64))
        samples.append(time.perf_counter() - start)
    return samples

def new_connections(host, port, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(b"hello")
            assert sock.recv(5) == b"hello"
        samples.append(time.perf_counter() - start)
    return samples

seconds = float(sys.argv[1])
paths = {"direct": (sys.argv[2], 9000, 9001), "routed": (sys.argv[3], 9100, 9101)}
for name, (host, echo, count) in paths.items():
    sock = connect_retry(host, echo, time.monotonic() + 60)
    rtt = sorted(round_trips(sock, 500))
    sock.close()
    connects = sorted(new_connections(host, echo, 200))
    print(json.dumps({"path": name, "mb_per_s": throughput(host, count, seconds),
                      "rtt_ms": statistics.median(rtt) * 1000,
                      "connect_ms": statistics.median(connects) * 1000,
                      "connect_p90_ms": connects[int(len(connects) * 0.9)] * 1000}), flush=True)
'''


def podman(*args: str, timeout: float = 120) -> str:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def python_image() -> str:
    """The double's python base image (built with the double when missing)."""
    def tags() -> list[str]:
        return podman("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                      f"reference={PYTHON_IMAGE_REPO}").split()

    if not tags():
        subprocess.run(["bash", str(ROOT / "tests/router_double/build-image.sh")], check=True,
                       capture_output=True)
    return sorted(tags())[0]


def router_configs() -> dict[str, list]:
    """edge-1 → site-a ← site-b ← edge-2 with plain links; the service on the two edges."""
    def router(rid: str, mode: str) -> list:
        return [["router", {"id": rid, "mode": mode, "helloMaxAgeSeconds": "3"}],
                ["listener", {"name": "amqp", "host": "localhost", "port": 5672}]]

    def link(role: str, host: str, port: int) -> list:
        return ["connector", {"name": "link1", "role": role, "host": host, "port": str(port), "cost": 1}]

    interior_listeners = [["listener", {"name": "interior-listener", "role": "inter-router", "port": 55671}],
                          ["listener", {"name": "edge-listener", "role": "edge", "port": 45671}]]
    return {
        "site-a": router("site-a", "interior") + interior_listeners,
        "site-b": router("site-b", "interior") + interior_listeners + [link("inter-router", "site-a", 55671)],
        "edge-1": router("edge-1", "edge") + [link("edge", "site-a", 45671)] + [
            ["tcpListener", {"name": f"svc-{port}", "port": str(LISTEN + port - ECHO), "address": f"svc:{port}"}]
            for port in (ECHO, COUNT)],
        "edge-2": router("edge-2", "edge") + [link("edge", "site-b", 45671)] + [
            ["tcpConnector", {"name": f"svc-{port}@server", "host": "server", "port": str(port),
                              "address": f"svc:{port}"}] for port in (ECHO, COUNT)],
    }


def run(seconds: float, image: str) -> list[dict]:
    pyimage = python_image()
    prefix = "bench-" + uuid.uuid4().hex[:6]
    workdir = Path(tempfile.mkdtemp(prefix="skupper-bench-router-"))
    workdir.chmod(0o755)
    network = f"{prefix}-net"
    try:
        podman("network", "create", "--label", f"{LABEL}=1", network)
        subnet = ipaddress.ip_network(json.loads(podman("network", "inspect", network))[0]["subnets"][0]["subnet"])
        names = ["server", "site-a", "site-b", "edge-1", "edge-2", "client"]
        ips = {name: str(subnet.network_address + 10 + index) for index, name in enumerate(names)}
        hosts = [f"--add-host={name}:{ip}" for name, ip in ips.items()]
        (workdir / "stream_server.py").write_text(STREAM_SERVER)
        (workdir / "client.py").write_text(CLIENT)
        for name, entities in router_configs().items():
            (workdir / f"{name}.json").write_text(json.dumps(entities))
        for path in workdir.iterdir():
            path.chmod(0o644)

        def container(name: str, *args: str, detach: bool = True) -> str:
            return podman("run", *(["-d"] if detach else ["--rm"]), "--name", f"{prefix}-{name}",
                          "--label", f"{LABEL}=1", "--network", network, "--ip", ips[name], *hosts,
                          "-v", f"{workdir}:/bench:ro,z", *args, timeout=600)

        container("server", pyimage, "python3", "/bench/stream_server.py", f"{ECHO}=echo", f"{COUNT}=count")
        for name in ("site-a", "site-b", "edge-1", "edge-2"):
            container(name, "-e", f"QDROUTERD_CONF=/bench/{name}.json", "-e", "QDROUTERD_CONF_TYPE=json", image)
        output = container("client", pyimage, "python3", "/bench/client.py", str(seconds), ips["server"],
                           ips["edge-1"], detach=False)
        return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    finally:
        for name in podman("ps", "-a", "--filter", f"label={LABEL}=1", "--filter", f"name={prefix}-",
                           "--format", "{{.Names}}").split():
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)
        subprocess.run(["podman", "network", "rm", "-f", network], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    image = sys.argv[2] if len(sys.argv) > 2 else double_image()
    print(f"router image: {image}")
    results = {row["path"]: row for row in run(seconds, image)}
    labels = {"direct": "client → server (same network)", "routed": "edge → interior → interior → edge"}
    for path, row in results.items():
        print(f"{labels[path]:36} {row['mb_per_s']:8.1f} MB/s   echo rtt {row['rtt_ms']:6.2f} ms   "
              f"new connection + echo {row['connect_ms']:6.2f} ms (p90 {row['connect_p90_ms']:.2f})")
    if {"direct", "routed"} <= results.keys():
        print(f"routed/direct throughput: {results['routed']['mb_per_s'] / results['direct']['mb_per_s']:.1%}")


if __name__ == "__main__":
    main()
