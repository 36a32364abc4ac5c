"""The TCP data plane: tcpListener → network → tcpConnector round trips on one router, across
interiors and across edge–interior–interior–edge; listener ports that follow reachable
connectors; choice by link cost with spreading and failover; half-close; TLS towards clients.

Clients run on the host and reach the routers by their container IPs; targets are
``routers.STREAM_SERVER`` in a container of the python base image.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

import configs
from routers import RouterLab, wait_for_tcp
from test_network import EDGE_PORT, dialling_router, eventually, listening_router

PYTHON_IMAGE_REPO = "localhost/skupper-podman-pybase"
ECHO, COUNT = 9000, 9001


@pytest.fixture(scope="session")
def python_image(podman_client, double_image) -> str:
    """An image with python3 for the target servers: the double's base (built with it)."""
    images = podman_client.images.list(filters={"reference": PYTHON_IMAGE_REPO})
    tags = sorted(tag for image in images for tag in image.tags if tag.startswith(PYTHON_IMAGE_REPO))
    assert tags, f"building {double_image} left no {PYTHON_IMAGE_REPO} image"
    return tags[0]


# -- client helpers ---------------------------------------------------------------------------

def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def accepting(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def read_all(sock: socket.socket, timeout: float = 15) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def echo_round_trips(host: str, port: int, count: int = 20) -> None:
    with socket.create_connection((host, port), timeout=10) as client:
        for index in range(count):
            message = b"message %d" % index
            client.sendall(message)
            received = b""
            while len(received) < len(message):
                received += client.recv(100)
            assert received == message


def transfer_both_ways(host: str, port: int, size: int) -> None:
    """Send ``size`` random bytes to an echo target and check every byte comes back."""
    payload = os.urandom(size)
    with socket.create_connection((host, port), timeout=10) as client:
        received = bytearray()
        reader = threading.Thread(target=lambda: received.extend(read_all(client, timeout=60)))
        reader.start()
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        reader.join(90)
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()


def listener_row(router, name: str) -> dict:
    with router.management() as client:
        return next(r for r in client.rows("tcpListener") if r["name"] == name)


def connector_row(router, name: str) -> dict:
    with router.management() as client:
        return next(r for r in client.rows("tcpConnector") if r["name"] == name)


# -- one router -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def single(module_lab: RouterLab, python_image: str, site_ca):
    """Router "solo": echo:9000 plain, echo-tls:9443 with TLS towards clients, both to "target"."""
    lab = module_lab
    target = lab.start_stream_server("target", python_image, {ECHO: "echo"})
    site_ca.issue(lab.config_dir("solo") / "solo-tls", "solo", ("solo",))
    router = lab.start_and_wait("solo", entities=[
        configs.router("solo"), configs.amqp_listener(), configs.ssl_profile("solo-tls"),
        configs.tcp_listener("echo:9000", 9000),
        configs.tcp_listener("echo-tls:9000", 9443, sslProfile="solo-tls"),
        configs.tcp_connector("echo:9000", target, ECHO),
        configs.tcp_connector("echo-tls:9000", target, ECHO),
    ])
    host = lab.ip("solo")
    wait_for_tcp(host, 9000)
    return router, host, target


def quiet_listener(router, name: str) -> dict:
    """The listener's record once every connection it opened has closed."""
    def check():
        row = listener_row(router, name)
        return row["connectionsClosed"] == row["connectionsOpened"] and row
    return eventually(check)


def test_echo_through_one_router_with_statistics(single):
    router, host, target = single
    before_l = quiet_listener(router, "echo:9000")
    before_c = connector_row(router, f"echo:9000@{target}:{ECHO}")
    echo_round_trips(host, 9000, count=20)
    transfer_both_ways(host, 9000, 1 << 20)
    after_l = quiet_listener(router, "echo:9000")
    after_c = connector_row(router, before_c["name"])
    sent = sum(len(b"message %d" % i) for i in range(20)) + (1 << 20)
    assert after_l["operStatus"] == "up"
    assert after_l["connectionsOpened"] - before_l["connectionsOpened"] == 2
    assert after_l["bytesIn"] - before_l["bytesIn"] == sent
    assert after_l["bytesOut"] - before_l["bytesOut"] == sent
    assert after_c["bytesOut"] - before_c["bytesOut"] == sent  # towards the target
    assert after_c["bytesIn"] - before_c["bytesIn"] == sent
    # connectionsOpened also counts the connector's egress-dispatch pseudo-connection
    assert after_c["connectionsOpened"] == after_c["connectionsClosed"] + 1


def test_tcp_connections_are_connection_records(single):
    """Each tcpConnector has a permanent "egress-dispatch" connection; each client connection
    and each connection to a target is listed while it is open (protocol tcp)."""
    router, host, target = single

    def tcp_rows() -> list[tuple[str, str, str, str]]:
        with router.management() as client:
            rows = client.rows("connection", ["host", "dir", "container", "role", "protocol"])
        return sorted((r["host"], r["dir"], r["container"], r["role"]) for r in rows if r["protocol"] == "tcp")

    idle = [("egress-dispatch", "out", "TcpAdaptor", "normal")] * 2  # two tcpConnectors
    eventually(lambda: tcp_rows() == idle)
    with socket.create_connection((host, 9000), timeout=10) as client:
        client.sendall(b"x")
        assert client.recv(10) == b"x"
        me = "%s:%d" % client.getsockname()[:2]
        busy = sorted(idle + [(me, "in", "TcpAdaptor", "normal"), (f"{target}:{ECHO}", "out", "TcpAdaptor", "normal")])
        eventually(lambda: tcp_rows() == busy)
    eventually(lambda: tcp_rows() == idle)


def test_tls_towards_clients_needs_the_profile_ca(single, site_ca, other_ca, workdir):
    _, host, _ = single
    trusted = ssl.create_default_context(cafile=str(site_ca_file(workdir, site_ca)))
    with trusted.wrap_socket(socket.create_connection((host, 9443), timeout=10), server_hostname="solo") as client:
        client.sendall(b"over tls")
        assert client.recv(100) == b"over tls"
        assert client.version().startswith("TLSv1")
    untrusted = ssl.create_default_context(cafile=str(site_ca_file(workdir, other_ca)))
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusted.wrap_socket(socket.create_connection((host, 9443), timeout=10), server_hostname="solo")


def site_ca_file(directory: Path, ca) -> Path:
    path = directory / ("%s.crt" % ca.name)
    path.write_bytes(ca.cert_pem())
    return path


# -- two interior routers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(module_lab: RouterLab, python_image: str, site_ca):
    """Interior "pa" (tcpListeners) and "pb" (tcpConnectors, links to pa with mutual TLS)."""
    lab = module_lab
    target = lab.start_stream_server("pair-target", python_image, {ECHO: "echo", COUNT: "count"})
    lab.ip("pb")
    a = lab.start_and_wait("pa", entities=listening_router(lab, site_ca, "pa") + [
        configs.tcp_listener("echo:9000", 9000), configs.tcp_listener("count:9001", 9001),
        configs.tcp_listener("late:9002", 9002)])
    b = lab.start_and_wait("pb", entities=dialling_router(lab, site_ca, "pb", "pa") + [
        configs.tcp_connector("echo:9000", target, ECHO), configs.tcp_connector("count:9001", target, COUNT)])
    wait_for_tcp(lab.ip("pa"), 9000, timeout=15)
    return a, b, lab.ip("pa"), target


def test_echo_across_two_interior_routers(pair):
    _, _, host, _ = pair
    echo_round_trips(host, 9000)
    transfer_both_ways(host, 9000, 4 << 20)


def test_half_close_reaches_the_target_and_its_answer_comes_back(pair):
    _, _, host, _ = pair
    with socket.create_connection((host, 9001), timeout=10) as client:
        client.sendall(b"x" * 50_000)
        client.shutdown(socket.SHUT_WR)  # the client is done sending but still reads
        assert read_all(client) == b"received 50000 bytes"


def test_listener_port_opens_and_closes_with_a_remote_connector(pair):
    a, b, host, target = pair
    assert refused(host, 9002)
    assert listener_row(a, "late:9002")["operStatus"] == "down"
    connector = configs.tcp_connector("late:9002", target, ECHO)[1]
    with b.management() as client:
        assert client.create("tcpConnector", connector["name"], connector).status == 201
    created = time.monotonic()
    eventually(lambda: accepting(host, 9002), timeout=10, interval=0.1)
    assert time.monotonic() - created < 4
    assert listener_row(a, "late:9002")["operStatus"] == "up"
    echo_round_trips(host, 9002, count=3)
    with b.management() as client:
        assert client.delete("tcpConnector", connector["name"]).status == 204
    eventually(lambda: refused(host, 9002), timeout=10, interval=0.1)
    assert listener_row(a, "late:9002")["operStatus"] == "down"


# -- edge - interior - interior - edge --------------------------------------------------------

def test_echo_across_edge_interior_interior_edge(lab, python_image, site_ca):
    target = lab.start_stream_server("target", python_image, {ECHO: "echo"})
    for name in ("site-b", "edge-1", "edge-2"):
        lab.ip(name)
    lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a", listen=True,
                                                          site_ca=site_ca))
    lab.start_and_wait("edge-1", entities=dialling_router(lab, site_ca, "edge-1", "site-a", mode="edge",
                                                          port=EDGE_PORT)
                       + [configs.tcp_listener("echo:9000", 9000)])
    lab.start_and_wait("edge-2", entities=dialling_router(lab, site_ca, "edge-2", "site-b", mode="edge",
                                                          port=EDGE_PORT)
                       + [configs.tcp_connector("echo:9000", target, ECHO)])
    host = lab.ip("edge-1")
    wait_for_tcp(host, 9000, timeout=20)
    echo_round_trips(host, 9000)
    transfer_both_ways(host, 9000, 4 << 20)


# -- link cost --------------------------------------------------------------------------------

def test_cost_prefers_the_cheaper_target_spreads_and_fails_over(lab, python_image, site_ca):
    """A's tcpListener has targets behind B (link cost 1) and C (link cost 5)."""
    target = lab.start_stream_server("target", python_image, {9001: "name:b", 9002: "name:c"})
    lab.ip("site-b")
    lab.ip("site-c")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a")
                           + [configs.tcp_listener("svc:9000", 9000)])
    b_connector = configs.tcp_connector("svc:9000", target, 9001)
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a", cost=1)
                           + [b_connector])
    lab.start_and_wait("site-c", entities=dialling_router(lab, site_ca, "site-c", "site-a", cost=5)
                       + [configs.tcp_connector("svc:9000", target, 9002)])
    host = lab.ip("site-a")

    def open_one() -> tuple[socket.socket, bytes]:
        client = socket.create_connection((host, 9000), timeout=5)
        return client, client.makefile("rb").readline().strip()

    def serving(name: bytes) -> bool:
        try:
            client, served_by = open_one()
        except OSError:
            return False
        client.close()
        return served_by == name

    def both_targets_known() -> bool:
        # A's address record names the routers with a connector for it, once their link state
        # (with its costs) has arrived
        with a.management() as client:
            nodes = {r["id"]: r["cost"] for r in client.rows("router.node", ["id", "cost"])}
            address = next((r for r in client.rows("router.address", ["key", "remoteHostRouters"])
                            if r["key"] == "Msvc:9000"), {})
        return (nodes.get("site-b"), nodes.get("site-c")) == (1, 5) and \
            address.get("remoteHostRouters") == ["site-b", "site-c"]

    eventually(both_targets_known, timeout=20)
    eventually(lambda: serving(b"b"), timeout=10)
    # the probes have closed: no connection is open through either target now
    eventually(lambda: connector_row(b, b_connector[1]["name"])["connectionsClosed"] + 1
               == connector_row(b, b_connector[1]["name"])["connectionsOpened"])
    held = [open_one() for _ in range(8)]
    try:
        names = [name for _, name in held]
    finally:
        for client, _ in held:
            client.close()
    # cost + open connections: b 1,2,3,4 < c's 5, so the first four go to b; then they share
    assert names[:4] == [b"b"] * 4, names
    assert names.count(b"c") >= 1 and names.count(b"b") > names.count(b"c"), names

    # the cheaper target goes away: new connections use the other; it comes back: preferred again
    with b.management() as client:
        assert client.delete("tcpConnector", b_connector[1]["name"]).status == 204
    eventually(lambda: serving(b"c"), timeout=10, interval=0.2)
    with b.management() as client:
        assert client.create("tcpConnector", b_connector[1]["name"], b_connector[1]).status == 201
    eventually(lambda: serving(b"b"), timeout=10, interval=0.2)
    assert all(serving(b"b") for _ in range(3))
    # B's router is gone: C takes over once A forgets B
    b.container.kill()
    eventually(lambda: serving(b"c"), timeout=15, interval=0.2)
