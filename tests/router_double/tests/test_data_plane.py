"""The double's TCP data plane as host processes: streams through one and two routers,
half-close, resets, refused targets, live connectors, TLS on both sides and HTTP."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import struct
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from host_router import HostRouters
from mgmt_client import ManagementClient
from pki import CertificateAuthority
from stream_servers import (StreamServer, closed_without_data, count_after_eof, echo, greeting_echo,
                            read_all, reset_after_first_read)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not met within %ss" % timeout
            return result
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def records(amqp_port: int, entity_type: str) -> dict[str, dict[str, Any]]:
    with ManagementClient("amqp://127.0.0.1:%d" % amqp_port) as client:
        return {row["name"]: row for row in client.rows(entity_type)}


def tcp_listener(name: str, port: int, address: str | None = None, **extra: Any) -> list:
    return ["tcpListener", {"name": name, "host": "127.0.0.1", "port": str(port),
                            "address": address or name, **extra}]


def tcp_connector(address: str, port: int, **extra: Any) -> list:
    """A tcpConnector named ``<address>-connector`` (names are unique across all entities)."""
    return ["tcpConnector", {"name": address + "-connector", "host": "127.0.0.1", "port": str(port),
                             "address": address, **extra}]


class Pair:
    """Interior routers A (tcpListeners, accepts the link) and B (tcpConnectors, dials A)."""

    def __init__(self, routers: HostRouters) -> None:
        self.servers = {"echo": StreamServer(echo), "count": StreamServer(count_after_eof),
                        "reset": StreamServer(reset_after_first_read)}
        closed_port = free_port()  # nothing listens there
        self.a_amqp, self.b_amqp, link = free_port(), free_port(), free_port()
        self.ports = {name: free_port() for name in (*self.servers, "refused", "late")}
        self.a = routers.start(
            [["router", {"id": "A", "mode": "interior"}],
             ["listener", {"host": "127.0.0.1", "port": self.a_amqp}],
             ["listener", {"host": "127.0.0.1", "port": link, "role": "inter-router"}]]
            + [tcp_listener(name, port) for name, port in self.ports.items()])
        self.a.wait_port(self.a_amqp)
        self.b = routers.start(
            [["router", {"id": "B", "mode": "interior"}],
             ["listener", {"host": "127.0.0.1", "port": self.b_amqp}],
             ["connector", {"host": "127.0.0.1", "port": str(link), "role": "inter-router"}],
             tcp_connector("refused", closed_port)]
            + [tcp_connector(name, server.port) for name, server in self.servers.items()])
        self.a.wait_port(self.ports["echo"])

    def connect(self, name: str) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.ports[name]), timeout=10)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    routers = HostRouters(tmp_path_factory.mktemp("pair"))
    try:
        started = Pair(routers)
        yield started
        for server in started.servers.values():
            server.close()
    finally:
        routers.stop_all()


def test_echo_through_one_router_counts_connections_and_bytes(host_router):
    server = StreamServer(echo)
    amqp, port = free_port(), free_port()
    router = host_router([["router", {"id": "R1"}], ["listener", {"host": "127.0.0.1", "port": amqp}],
                          tcp_listener("svc", port), tcp_connector("svc", server.port)])
    router.wait_port(port)  # that probe is a client connection too

    def settled(opened: int):
        listener, connector = records(amqp, "tcpListener")["svc"], records(amqp, "tcpConnector")["svc-connector"]
        done = listener["connectionsClosed"] == opened and connector["connectionsClosed"] == opened
        return done and (listener, connector)

    eventually(lambda: settled(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"hello")
        assert client.recv(100) == b"hello"
    listener, connector = eventually(lambda: settled(2))
    assert (listener["operStatus"], listener["connectionsOpened"], listener["bytesIn"], listener["bytesOut"]) \
        == ("up", 2, 5, 5)
    # one egress-dispatch pseudo-connection plus the two clients'
    assert (connector["connectionsOpened"], connector["bytesIn"], connector["bytesOut"]) == (3, 5, 5)


def test_megabytes_cross_two_routers_intact_both_ways(pair):
    payload = os.urandom(8 << 20)
    with pair.connect("echo") as client:
        received = bytearray()
        reader = threading.Thread(target=lambda: received.extend(read_all(client, timeout=30)))
        reader.start()
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        reader.join(40)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_a_slow_reader_gets_every_byte_through_one_router(host_router):
    """Flow control: the router stops reading from a fast sender instead of buffering it all."""
    server = StreamServer(echo)
    port = free_port()
    host_router([["router", {"id": "S"}], tcp_listener("svc", port), tcp_connector("svc", server.port)]) \
        .wait_port(port)
    payload = os.urandom(12 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        sender = threading.Thread(target=lambda: (client.sendall(payload), client.shutdown(socket.SHUT_WR)))
        sender.start()
        received = bytearray()
        while chunk := client.recv(256 << 10):
            received += chunk
            time.sleep(0.005)
        sender.join(20)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_half_close_reaches_the_server_and_its_answer_comes_back(pair):
    with pair.connect("count") as client:
        client.sendall(b"x" * 100_000)
        client.shutdown(socket.SHUT_WR)
        assert read_all(client) == b"received 100000 bytes"


def test_a_server_reset_resets_the_client(pair):
    with pair.connect("reset") as client:
        client.sendall(b"ping")
        client.settimeout(10)
        with pytest.raises(ConnectionResetError):
            while client.recv(100):
                pass


def test_a_client_reset_resets_the_server_connection(pair):
    ended: list[str] = []

    def watch(conn: socket.socket) -> None:
        try:
            conn.sendall(b"ready")
            while conn.recv(100):
                pass
            ended.append("eof")
        except ConnectionResetError:
            ended.append("reset")

    server = StreamServer(watch)
    port = free_port()
    with ManagementClient("amqp://127.0.0.1:%d" % pair.b_amqp) as client:
        assert client.create("tcpConnector", "watch-connector", tcp_connector("watch", server.port)[1]).status == 201
    with ManagementClient("amqp://127.0.0.1:%d" % pair.a_amqp) as client:
        assert client.create("tcpListener", "watch", tcp_listener("watch", port)[1]).status == 201
    eventually(lambda: port_open(port))  # the successful probe ends with an EOF
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        assert conn.recv(100) == b"ready"
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    eventually(lambda: len(ended) == 2)
    assert sorted(ended) == ["eof", "reset"]


def test_a_refused_target_closes_the_client_and_is_not_counted(pair):
    with pair.connect("refused") as client:
        client.sendall(b"anyone?")
        assert closed_without_data(client)
    connector = records(pair.b_amqp, "tcpConnector")["refused-connector"]
    assert (connector["connectionsOpened"], connector["connectionsClosed"]) == (1, 0)


def test_listener_port_follows_a_connector_created_and_deleted_live(pair):
    late = pair.ports["late"]
    assert not port_open(late)
    assert records(pair.a_amqp, "tcpListener")["late"]["operStatus"] == "down"
    with ManagementClient("amqp://127.0.0.1:%d" % pair.b_amqp) as client:
        reply = client.create("tcpConnector", "late-connector", tcp_connector("late", pair.servers["echo"].port)[1])
        assert reply.status == 201
    started = time.monotonic()
    eventually(lambda: port_open(late), timeout=5)
    assert time.monotonic() - started < 2.5
    assert records(pair.a_amqp, "tcpListener")["late"]["operStatus"] == "up"
    with socket.create_connection(("127.0.0.1", late), timeout=5) as client:
        client.sendall(b"late")
        assert client.recv(10) == b"late"
    with ManagementClient("amqp://127.0.0.1:%d" % pair.b_amqp) as client:
        assert client.delete("tcpConnector", "late-connector").status == 204
    eventually(lambda: not port_open(late), timeout=5)


def test_cost_decides_until_open_connections_exceed_the_difference(host_router):
    """A local target costs 0, one behind a link costs 1: two connections stay local first."""
    local, remote = StreamServer(greeting_echo(b"local")), StreamServer(greeting_echo(b"remote"))
    a_amqp, link, port = free_port(), free_port(), free_port()
    a = host_router([["router", {"id": "A", "mode": "interior"}], ["listener", {"host": "127.0.0.1", "port": a_amqp}],
                     ["listener", {"host": "127.0.0.1", "port": link, "role": "inter-router"}],
                     tcp_listener("svc", port), tcp_connector("svc", local.port)])
    a.wait_port(a_amqp)
    host_router([["router", {"id": "B", "mode": "interior"}],
                 ["connector", {"host": "127.0.0.1", "port": str(link), "role": "inter-router"}],
                 tcp_connector("svc", remote.port)])

    def b_serves():
        with ManagementClient("amqp://127.0.0.1:%d" % a_amqp) as client:
            return {r["id"] for r in client.rows("router.node", ["id"])} == {"A", "B"}

    eventually(b_serves)  # A routes to B once it has B's link state, which lists B's addresses
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
    try:
        names = [client.makefile("rb").readline().strip() for client in clients]
    finally:
        for client in clients:
            client.close()
    # values cost+open: local 0,1,2 / remote 1,2 -> local, local (tie: cheaper), remote, local|remote …
    assert names[:2] == [b"local", b"local"]
    assert names[2] == b"remote"
    assert names.count(b"remote") >= 2


def test_tls_on_both_sides_of_the_router(host_router, tmp_path: Path):
    ca = CertificateAuthority("data-plane-ca")
    router_cred = ca.issue(tmp_path / "router", "router", ("localhost",))
    target_cred = ca.issue(tmp_path / "target", "target", ("target.example",))
    client_cred = ca.issue(tmp_path / "client", "client")
    target_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    target_tls.load_cert_chain(target_cred.cert, target_cred.key)
    server = StreamServer(echo, tls_context=target_tls)
    amqp, port, wrong_name_port = free_port(), free_port(), free_port()
    profile = {"certFile": str(router_cred.cert), "privateKeyFile": str(router_cred.key),
               "caCertFile": str(router_cred.ca)}
    router = host_router([
        ["router", {"id": "T"}], ["listener", {"host": "127.0.0.1", "port": amqp}],
        ["sslProfile", {"name": "router-tls", **profile}],
        tcp_listener("svc", port, sslProfile="router-tls", authenticatePeer=True),
        # the target's certificate names target.example, not 127.0.0.1
        tcp_connector("svc", server.port, sslProfile="router-tls", verifyHostname=False),
        tcp_listener("strict", wrong_name_port),
        tcp_connector("strict", server.port, sslProfile="router-tls"),
    ])
    router.wait_port(port)

    def client_context(with_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(router_cred.ca))
        if with_cert:
            context.load_cert_chain(client_cred.cert, client_cred.key)
        return context

    with client_context(True).wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                          server_hostname="localhost") as client:
        client.sendall(b"secret")
        assert client.recv(100) == b"secret"
        assert client.version().startswith("TLSv1")
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with client_context(False).wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                               server_hostname="localhost") as client:
            client.sendall(b"no certificate")
            client.recv(100)
    # verifyHostname (default true) refuses the target whose certificate names another host
    with socket.create_connection(("127.0.0.1", wrong_name_port), timeout=5) as client:
        client.sendall(b"x")
        assert read_all(client) == b""


def test_http_listener_and_connector_carry_http_as_a_byte_stream(host_router):
    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            body = b"hello from %s" % self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    amqp, port = free_port(), free_port()
    router = host_router([
        ["router", {"id": "H"}], ["listener", {"host": "127.0.0.1", "port": amqp}],
        ["httpListener", {"name": "web", "host": "127.0.0.1", "port": str(port), "address": "web"}],
        ["httpConnector", {"name": "web-connector", "host": "127.0.0.1", "port": str(httpd.server_port),
                           "address": "web"}],
    ])
    try:
        router.wait_port(port)
        for path in ("/a", "/b"):
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as response:
                assert response.read() == b"hello from " + path.encode()
        assert records(amqp, "httpListener")["web"]["operStatus"] == "up"
    finally:
        httpd.shutdown()
