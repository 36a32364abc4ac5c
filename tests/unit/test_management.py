"""The router management client against an in-process AMQP management responder."""
from __future__ import annotations

import datetime
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import proton
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from skupper_podman.errors import InputError, ManagementError, RouterUnavailable
from skupper_podman.router.management import (
    QUERY_PAGE_SIZE,
    ManagementClient,
    TlsFiles,
    edge_agent,
    full_type,
    interior_agent,
    short_type,
)
from tests.unit.mgmt_responder import MgmtResponder, ServerTls, free_port

pytestmark = pytest.mark.timeout(30)


# -- test PKI (cryptography directly; the product pki module is separate) ------------------

@dataclass
class Issuer:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    path: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)))


def make_ca(directory: Path, name: str) -> Issuer:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(name, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issuer(cert, key, path)


def issue(directory: Path, issuer: Issuer, name: str, *, hosts: tuple[str, ...] = (),
          server: bool = False) -> tuple[Path, Path]:
    """Write ``<dir>/tls.crt`` and ``<dir>/tls.key`` (PKCS#1 like Skupper) signed by ``issuer``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(name, issuer.cert.subject, key.public_key())
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return directory / "tls.crt", directory / "tls.key"


@dataclass
class Pki:
    server: ServerTls            # skupper-router-local, signed by the site CA, trusts the site CA
    client: TlsFiles             # skupper-local-client, signed by the site CA
    other_ca: Issuer
    root: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = make_ca(root, "skupper-local-ca")
    other = make_ca(root, "other-ca")
    cert, key = issue(root / "server", ca, "skupper-router-local",
                      hosts=("skupper-router-local",), server=True)
    client_cert, client_key = issue(root / "client", ca, "skupper-local-client")
    return Pki(ServerTls(ca.path, cert, key), TlsFiles(ca.path, client_cert, client_key),
               other, root)


# -- helpers --------------------------------------------------------------------------------

@pytest.fixture
def responder():
    with MgmtResponder() as r:
        r.add("router", "router", id="site-a", mode="interior", version="2.5.3")
        yield r


@pytest.fixture
def client(responder):
    with ManagementClient(responder.url, timeout=2.0) as c:
        yield c


def _start_later(delay: float, responder: MgmtResponder) -> threading.Timer:
    timer = threading.Timer(delay, responder.start)
    timer.start()
    return timer


# -- basics ---------------------------------------------------------------------------------

def test_proton_is_built_with_ssl():
    assert proton.SSL.present()


def test_type_names_accept_short_and_full_forms():
    assert full_type("connector") == "io.skupper.router.connector"
    assert full_type("io.skupper.router.connector") == "io.skupper.router.connector"
    assert full_type("router.node") == "io.skupper.router.router.node"
    assert full_type("org.amqp.management") == "org.amqp.management"
    assert short_type("io.skupper.router.tcpListener") == "tcpListener"


def test_agent_addresses():
    assert interior_agent("site-b") == "amqp:/_topo/0/site-b/$management"
    assert edge_agent("edge-1") == "amqp:/_edge/edge-1/$management"


def test_tls_files_from_credential_dir(tmp_path):
    files = TlsFiles.from_dir(tmp_path)
    assert (files.ca, files.cert, files.key) == (
        tmp_path / "ca.crt", tmp_path / "tls.crt", tmp_path / "tls.key")


def test_missing_credential_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="ca.crt"):
        ManagementClient("amqps://127.0.0.1:5671", tls=TlsFiles.from_dir(tmp_path))


def test_unreadable_key_is_an_input_error(pki, tmp_path):
    broken = tmp_path / "tls.key"
    broken.write_text("not a key\n")
    with pytest.raises(InputError, match="cannot load router management credential"):
        ManagementClient("amqps://127.0.0.1:5671",
                         tls=TlsFiles(pki.client.ca, pki.client.cert, broken))


def test_url_scheme_must_match_tls(pki):
    with pytest.raises(ValueError):
        ManagementClient("amqps://127.0.0.1:5671")
    with pytest.raises(ValueError):
        ManagementClient("amqp://127.0.0.1:5672", tls=pki.client)
    assert ManagementClient("127.0.0.1:5671", tls=pki.client).url == "amqps://127.0.0.1:5671"
    assert ManagementClient("127.0.0.1").url == "amqp://127.0.0.1:5672"


# -- operations -------------------------------------------------------------------------------

def test_query_maps_rows_onto_attribute_names(responder, client):
    responder.add("connector", "link1", host="a.example", port="55671", cost=1)
    responder.add("connector", "link2", host="b.example", port="45671", cost=5)

    rows = client.query("connector", ["name", "port", "cost"])

    assert rows == [{"name": "link1", "port": "55671", "cost": 1},
                    {"name": "link2", "port": "45671", "cost": 5}]
    request = responder.requests[-1]
    # connector is answered by the router's Python agent, which ignores offset/count
    assert request.properties == {"operation": "QUERY", "entityType": "io.skupper.router.connector"}
    assert request.body == {"attributeNames": ["name", "port", "cost"]}
    assert request.link_target == "$management" and request.to is None
    assert request.reply_to.startswith("reply-")
    assert isinstance(request.correlation_id, str)  # the router's Python agent drops numeric ids


def test_query_without_names_returns_every_attribute(responder, client):
    responder.add("connector", "link1", host="a.example", port="55671")

    [row] = client.query("io.skupper.router.connector")

    assert row == {"host": "a.example", "port": "55671", "name": "link1",
                   "identity": "connector/link1", "type": "io.skupper.router.connector"}
    assert responder.requests[-1].body == {"attributeNames": []}


def test_query_pages_500_rows_at_a_time(responder, client):
    for i in range(1203):
        responder.add("router.address", f"addr-{i:04}", distribution="balanced")

    rows = client.query("router.address", ["name"])

    assert [r["name"] for r in rows] == [f"addr-{i:04}" for i in range(1203)]
    pages = [(r.properties["offset"], r.properties["count"]) for r in responder.requests]
    assert pages == [(0, 500), (500, 500), (1000, 500)]
    assert len({r.correlation_id for r in responder.requests}) == 3


def test_query_of_exactly_one_page_asks_once_more(responder, client):
    for i in range(500):
        responder.add("router.address", f"addr-{i:04}")

    assert len(client.query("router.address", ["name"])) == 500
    assert [r.properties["offset"] for r in responder.requests] == [0, 500]


def test_python_agent_types_are_asked_once_however_many_rows(responder, client):
    # the real Python agent returns every row and ignores offset: paging it would never end
    for i in range(1203):
        responder.add("tcpConnector", f"tc-{i:04}", port=str(i))

    rows = client.query("tcpConnector", ["name", "port"])

    assert [r["name"] for r in rows] == [f"tc-{i:04}" for i in range(1203)]
    assert len(responder.requests) == 1 and "offset" not in responder.requests[0].properties


def test_read_by_name_and_identity(responder, client):
    responder.add("tcpListener", "backend", address="backend:8080", port="1028")

    by_name = client.read("tcpListener", "backend")
    by_identity = client.read("tcpListener", identity="tcpListener/backend")

    assert by_name == by_identity
    assert by_name["address"] == "backend:8080"
    assert responder.requests[0].properties == {
        "operation": "READ", "type": "io.skupper.router.tcpListener", "name": "backend"}
    assert responder.requests[1].properties["identity"] == "tcpListener/backend"


def test_read_needs_exactly_one_key(client):
    with pytest.raises(ValueError):
        client.read("connector")
    with pytest.raises(ValueError):
        client.read("connector", "a", identity="connector/a")


def test_create_sends_attributes_and_returns_the_record(responder, client):
    attributes = {"role": "inter-router", "host": "b.example", "port": "55671",
                  "sslProfile": "link1-profile", "verifyHostname": True, "cost": 1}

    created = client.create("connector", "link1", attributes)

    assert created["identity"] == "connector/link1"
    assert created["port"] == "55671"
    request = responder.requests[-1]
    assert request.properties == {"operation": "CREATE", "type": "io.skupper.router.connector",
                                  "name": "link1"}
    assert request.body == attributes
    assert responder.records("connector")["link1"]["host"] == "b.example"


def test_update_changes_attributes(responder, client):
    responder.add("log", "ROUTER", enable="info+")

    updated = client.update("log", "ROUTER", {"enable": "debug+"})

    assert updated["enable"] == "debug+"
    assert responder.requests[-1].properties["operation"] == "UPDATE"


def test_delete_removes_the_entity(responder, client):
    responder.add("tcpConnector", "backend", address="backend:8080", host="10.0.0.5")

    assert client.delete("io.skupper.router.tcpConnector", "backend") is None

    assert responder.records("tcpConnector") == {}
    assert responder.requests[-1].properties == {
        "operation": "DELETE", "type": "io.skupper.router.tcpConnector", "name": "backend"}


def test_ping_returns_the_router_identity(client):
    assert client.ping() == {"id": "site-a", "mode": "interior", "version": "2.5.3"}


# -- status checking --------------------------------------------------------------------------

def test_refusal_becomes_management_error_with_description(responder, client):
    responder.behaviour.status = (400, "Unknown attribute 'x'")

    with pytest.raises(ManagementError) as caught:
        client.create("connector", "link1", {"x": 1})

    assert str(caught.value) == "router refused CREATE connector link1: 400 Unknown attribute 'x'"
    assert caught.value.status_code == 400


@pytest.mark.parametrize("code", [100, 302, 401, 403, 404, 500, 501])
def test_every_status_outside_2xx_is_an_error(responder, client, code):
    responder.behaviour.status = (code, "nope\n  second line")

    with pytest.raises(ManagementError) as caught:
        client.delete("connector", "link1")

    assert caught.value.status_code == code
    assert str(caught.value) == f"router refused DELETE connector link1: {code} nope second line"


def test_unknown_entity_read_is_404(client):
    with pytest.raises(ManagementError) as caught:
        client.read("connector", "absent")
    assert caught.value.status_code == 404


def test_reply_without_status_code_is_an_error(responder, client):
    responder.behaviour.omit_status = True

    with pytest.raises(ManagementError,
                       match="router refused QUERY router: reply has no statusCode"):
        client.ping()


def test_duplicate_create_is_refused(responder, client):
    client.create("listener", "amqp", {"host": "localhost", "port": "5672"})
    with pytest.raises(ManagementError, match="400 Duplicate name"):
        client.create("listener", "amqp", {"host": "localhost", "port": "5672"})


# -- transport failures -------------------------------------------------------------------------

def test_unanswered_request_times_out(responder):
    responder.behaviour.silent = True
    with ManagementClient(responder.url, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(RouterUnavailable, match="did not answer QUERY router within 0.5s"):
            client.ping()
        assert time.monotonic() - started < 2


def test_late_reply_is_dropped_and_the_next_request_gets_its_own(responder):
    with ManagementClient(responder.url, timeout=0.4) as client:
        responder.behaviour.delay = 0.6
        with pytest.raises(RouterUnavailable):
            client.query("router", ["id"])
        responder.behaviour.delay = 0.0
        time.sleep(0.4)  # the late reply is now waiting on the reply link
        responder.add("connector", "link1", host="b")

        assert client.query("connector", ["name"]) == [{"name": "link1"}]


def test_refused_connection_is_router_unavailable():
    with ManagementClient(f"amqp://127.0.0.1:{free_port()}", timeout=1.0) as client:
        with pytest.raises(RouterUnavailable, match="cannot reach router management at .*refused"):
            client.ping()


def test_client_reconnects_after_the_router_restarts():
    port = free_port()
    first = MgmtResponder(port=port).start()
    first.add("router", "router", id="site-a", mode="interior", version="2.5.3")
    with ManagementClient(f"amqp://127.0.0.1:{port}", timeout=1.0) as client:
        client.ping()
        first.stop()
        with pytest.raises(RouterUnavailable):
            client.ping()
        with MgmtResponder(port=port) as second:
            second.add("router", "router", id="site-a", mode="interior", version="2.5.3")
            assert client.ping()["id"] == "site-a"


# -- mutual TLS -----------------------------------------------------------------------------------

def test_mutual_tls_with_sasl_external(pki):
    with MgmtResponder(tls=pki.server) as responder:
        responder.add("router", "router", id="site-a", mode="interior", version="2.5.3")
        with ManagementClient(responder.url, tls=pki.client, timeout=2.0) as client:
            assert client.ping()["id"] == "site-a"
        [peer] = responder.peers
    assert peer.mechanism == "EXTERNAL"
    assert "skupper-local-client" in peer.user


def test_server_that_does_not_trust_our_ca_is_unavailable(pki):
    server = ServerTls(pki.other_ca.path, pki.server.cert, pki.server.key)
    with MgmtResponder(tls=server) as responder:
        with ManagementClient(responder.url, tls=pki.client, timeout=2.0) as client:
            with pytest.raises(RouterUnavailable, match="cannot reach router management"):
                client.ping()
        assert responder.requests == []


def test_client_that_does_not_trust_the_server_ca_is_unavailable(pki):
    client_files = TlsFiles(pki.other_ca.path, pki.client.cert, pki.client.key)
    with MgmtResponder(tls=pki.server) as responder:
        with ManagementClient(responder.url, tls=client_files, timeout=2.0) as client:
            with pytest.raises(RouterUnavailable, match="SSL"):
                client.ping()
        assert responder.requests == []


def test_server_certificate_with_another_name_is_unavailable(pki, tmp_path):
    ca = make_ca(tmp_path, "site-ca")
    cert, key = issue(tmp_path / "server", ca, "imposter", hosts=("imposter",), server=True)
    client_cert, client_key = issue(tmp_path / "client", ca, "skupper-local-client")
    with MgmtResponder(tls=ServerTls(ca.path, cert, key)) as responder:
        files = TlsFiles(ca.path, client_cert, client_key)
        with ManagementClient(responder.url, tls=files, timeout=2.0) as client:
            with pytest.raises(RouterUnavailable, match="SSL"):
                client.ping()
        with ManagementClient(responder.url, tls=files, server_name="imposter") as client:
            client.create("connector", "link1", {"host": "b"})
        assert len(responder.requests) == 1


def test_expected_server_name_is_checked_even_when_dialling_an_ip(pki):
    with MgmtResponder(tls=pki.server) as responder:
        with ManagementClient(responder.url, tls=pki.client, server_name="127.0.0.1",
                              timeout=2.0) as client:
            with pytest.raises(RouterUnavailable, match="SSL"):
                client.ping()


# -- remote agents --------------------------------------------------------------------------------

@pytest.mark.parametrize("agent", [interior_agent("site-b"), edge_agent("edge-1")])
def test_remote_agent_requests_go_on_an_anonymous_link_with_to(responder, client, agent):
    responder.behaviour.known_remote_routers = {"site-b", "edge-1"}
    responder.add("connection", "conn1", container="site-b", role="inter-router")

    rows = client.query("connection", ["container", "role"], node=agent)

    assert rows == [{"container": "site-b", "role": "inter-router"}]
    request = responder.requests[-1]
    assert request.to == agent
    assert request.link_target is None


def test_unreachable_remote_agent_is_unavailable(responder, client):
    with pytest.raises(RouterUnavailable, match="no management agent reachable"):
        client.query("router", ["id"], node=interior_agent("nowhere"))
    assert client.ping()["id"] == "site-a"  # the local agent is still usable


# -- wait_ready -----------------------------------------------------------------------------------

def test_wait_ready_waits_for_a_router_that_starts_late():
    responder = MgmtResponder()
    responder.add("router", "router", id="late", mode="interior", version="2.5.3")
    timer = _start_later(1.0, responder)
    try:
        with ManagementClient(responder.url, timeout=1.0) as client:
            started = time.monotonic()
            assert client.wait_ready(10)["id"] == "late"
            assert time.monotonic() - started >= 0.9
    finally:
        timer.join()
        responder.stop()


def test_wait_ready_retries_while_tls_is_not_possible(pki):
    """Before the router listens with TLS, the port may accept and drop connections."""
    port = free_port()
    dropper = socket.create_server(("127.0.0.1", port))
    dropper.settimeout(0.1)
    stop_dropping = threading.Event()

    def drop_connections():
        while not stop_dropping.is_set():
            try:
                connection, _ = dropper.accept()
                connection.close()
            except OSError:
                continue
        dropper.close()

    thread = threading.Thread(target=drop_connections)
    thread.start()
    responder = MgmtResponder(tls=pki.server, port=port)
    responder.add("router", "router", id="tls-late", mode="edge", version="2.5.3")

    def swap():
        stop_dropping.set()
        thread.join()
        responder.start()

    swapper = threading.Timer(1.0, swap)
    swapper.start()
    try:
        with ManagementClient(responder.url, tls=pki.client, timeout=1.0) as client:
            assert client.wait_ready(10)["id"] == "tls-late"
    finally:
        swapper.join()
        responder.stop()


def test_wait_ready_gives_up_at_the_deadline():
    with ManagementClient(f"amqp://127.0.0.1:{free_port()}", timeout=5.0) as client:
        started = time.monotonic()
        with pytest.raises(RouterUnavailable, match=r"router not ready after 1s: .*refused"):
            client.wait_ready(1.0)
        assert time.monotonic() - started < 2.5
