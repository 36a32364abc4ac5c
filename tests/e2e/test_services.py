"""Services on real Podman: service containers, live bindings, status, failures, concurrency,
and traffic through linked sites (the data-plane tests need a router image that forwards TCP)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import NAMESPACE_LABEL, ROOT, free_port, init_site, labelled, podman_cli, sweep_namespace

pytestmark = pytest.mark.e2e

STATE_VOLUMES = ("skupper-internal", "skupper-services", "skupper-router-certs")


# -- helpers -----------------------------------------------------------------------------------

def _site(ns: str):
    from skupper_podman import Site

    return Site.open(ns)


def _query(ns: str, entity_type: str, node: str | None = None) -> list[dict]:
    site = _site(ns)
    with site.management() as client:
        return client.query(entity_type, node=node)


def _edge_peers(ns: str) -> set[str]:
    return {c["container"] for c in _query(ns, "connection") if c.get("role") == "edge" and c.get("dir") == "in"}


def _live(ns: str, router_id: str, entity_type: str) -> dict[str, dict]:
    from skupper_podman.router.management import edge_agent

    return {r["name"]: r for r in _query(ns, entity_type, node=edge_agent(router_id))}


def _inspect(name: str) -> dict:
    return json.loads(podman_cli("inspect", name).stdout)[0]


def _services_json(ns: str) -> dict:
    site = _site(ns)
    return json.loads(site.files.read(site.vol("skupper-services"), "skupper-services.json") or b"{}")


def _state(ns: str) -> dict:
    """Everything a service command may change: labelled resources and the state volumes' files."""
    site = _site(ns)
    files = {}
    for base in STATE_VOLUMES:
        root = site.files.path(site.vol(base))
        files.update({f"{base}/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*")
                      if p.is_file() and not p.name.endswith(".lock")})
    return {"resources": sorted(labelled(ns)), "files": files}


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.5):
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def _ok(out: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert out.returncode == 0, out.stdout + out.stderr
    return out


# -- control plane -----------------------------------------------------------------------------

def test_create_bind_status_delete(site_env):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    before = _state(ns)
    out = _ok(site_env.skupper("service", "create", "backend", "8080", "9090", "--label", "team=a,tier=b"))
    assert out.stdout == "" and out.stderr == ""

    ctr = _inspect(f"{ns}-backend")
    router = _inspect(f"{ns}-skupper-router")
    assert ctr["Config"]["Labels"]["skupper.io/address"] == "backend"
    assert ctr["Config"]["Labels"]["application"] == "skupper"
    assert ctr["Config"]["Labels"][NAMESPACE_LABEL] == ns
    assert ctr["Config"]["Labels"]["team"] == "a" and ctr["Config"]["Labels"]["tier"] == "b"
    assert "skupper.io/component" not in ctr["Config"]["Labels"]
    assert ctr["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert ctr["ImageName"] == router["ImageName"] == site_env.image
    env = dict(e.split("=", 1) for e in ctr["Config"]["Env"])
    site_id = dict(e.split("=", 1) for e in router["Config"]["Env"])["SKUPPER_SITE_ID"]
    assert env["QDROUTERD_CONF"] == "/etc/skupper-router/config/backend/skrouterd.json"
    assert env["QDROUTERD_CONF_TYPE"] == "json" and env["SKUPPER_SITE_ID"] == env["APPLICATION_NAME"] == site_id
    mounts = {m["Destination"].rstrip("/"): m["Name"] for m in ctr["Mounts"]}
    assert mounts == {m["Destination"].rstrip("/"): m["Name"] for m in router["Mounts"]}
    network = ctr["NetworkSettings"]["Networks"][f"{ns}-skupper"]
    assert "backend" in network["Aliases"]

    assert _wait_for(lambda: "west-backend" in _edge_peers(ns)), "the service router never attached"
    listeners = _live(ns, "west-backend", "tcpListener")
    assert set(listeners) == {"backend:8080", "backend:9090"}
    assert listeners["backend:8080"]["address"] == "backend:8080" and listeners["backend:8080"]["siteId"] == site_id

    _ok(site_env.skupper("service", "bind", "backend", "host", "backend-target",
                         "--target-port", "8080:80", "--target-port", "9090:90"))
    connectors = _live(ns, "west-backend", "tcpConnector")
    assert set(connectors) == {"backend@backend-target:8080:80", "backend@backend-target:9090:90"}
    assert connectors["backend@backend-target:8080:80"]["port"] == "80"
    assert connectors["backend@backend-target:8080:80"]["siteId"] == f"{site_id}-backend"
    entry = _services_json(ns)["backend"]
    assert entry["targets"] == [{"name": '*domain.EgressResolverHost={"host":"backend-target","ports":{"8080":80,"9090":90}}',
                                 "targetPorts": {"8080": 80, "9090": 90}, "service": "backend-target"}]

    text = _ok(site_env.skupper("service", "status")).stdout
    assert text == "\n".join([
        "Services exposed through Skupper:",
        "├─ backend:8080 (tcp)",
        "│  ╰─ Targets:",
        "│     ╰─ host: backend-target - ports: map[8080:80 9090:90]",
        "╰─ backend:9090 (tcp)",
        "   ╰─ Targets:",
        "      ╰─ host: backend-target - ports: map[8080:80 9090:90]",
    ]) + "\n"
    assert "team=a" in site_env.skupper("service", "status", "--show-labels").stdout
    (data,) = json.loads(_ok(site_env.skupper("service", "status", "-o", "json")).stdout)
    assert data["state"] == "running" and data["connected"] is True and data["container"] == f"{ns}-backend"
    assert "exposed services" in _ok(site_env.skupper("status", "-v")).stdout

    _ok(site_env.skupper("service", "unbind", "backend", "host", "backend-target"))
    assert _live(ns, "west-backend", "tcpConnector") == {}
    assert _services_json(ns)["backend"]["targets"] == []

    _ok(site_env.skupper("service", "delete", "backend"))
    assert _state(ns) == before
    assert _ok(site_env.skupper("service", "status")).stdout == "No services defined\n"


def test_restarts_keep_bindings(site_env):
    """A dead service router or site router comes back (restart policy) with its bindings."""
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    _ok(site_env.skupper("expose", "host", "10.0.0.7", "--address", "db", "--port", "5432"))
    _ok(site_env.skupper("service", "bind", "db", "host", "db-replica"))
    assert _wait_for(lambda: "west-db" in _edge_peers(ns))
    expected = {"db@10.0.0.7:5432:5432", "db@db-replica:5432:5432"}
    assert set(_live(ns, "west-db", "tcpConnector")) == expected
    for victim in (f"{ns}-db", f"{ns}-skupper-router"):
        # SIGKILL the router process: `podman kill` counts as a user stop and is never restarted
        os.kill(int(podman_cli("inspect", "-f", "{{.State.Pid}}", victim).stdout), signal.SIGKILL)
        assert _wait_for(lambda: podman_cli("inspect", "-f", "{{.RestartCount}}", victim).stdout.strip()
                         not in ("", "0"), timeout=60)

        def bindings_back() -> bool:
            try:
                return "west-db" in _edge_peers(ns) and set(_live(ns, "west-db", "tcpConnector")) == expected
            except Exception:  # noqa: BLE001 - the router is still coming back
                return False
        assert _wait_for(bindings_back, timeout=60), f"bindings lost after {victim} died"
    (data,) = json.loads(_ok(site_env.skupper("service", "status", "-o", "json")).stdout)
    assert data["connected"] is True and [t["host"] for t in data["targets"]] == ["10.0.0.7", "db-replica"]


def test_bad_inputs_change_nothing(site_env):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    _ok(site_env.skupper("service", "create", "taken", "80"))
    podman_cli("create", "--name", f"{ns}-squatter", "--label", f"{NAMESPACE_LABEL}={ns}", site_env.image)
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    before = _state(ns)
    cases = [
        (["service", "create", "Bad_Name", "80"], "Invalid service name: ["),
        (["service", "create", "x", "70000"], "Port 70000 is outside valid range."),
        (["service", "create", "x", "http"], "http is not a valid port."),
        (["service", "create", "x"], "Name and port must be specified"),
        (["service", "create", "x", "80", "81", "--host-port", "18080"],
         "service defines 2 ports but only 1 mapped (all ports must be mapped)"),
        (["service", "create", "x", "80", "--host-port", "81:18080"], "81 is not a valid service port"),
        (["service", "create", "x", "80", "--protocol", "udp"], "udp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."),
        (["service", "create", "x", "80", "--protocol", "http", "--enable-tls"],
         "The TLS support is only available for http2 and tcp protocols"),
        (["service", "create", "taken", "81"], "Service taken already defined"),
        (["service", "create", "x", "80", "--container-name", "skupper-router"],
         "a container named skupper-router already exists"),
        (["service", "create", "squatter", "80"], f"a container named {ns}-squatter already exists"),
        (["service", "create", "x", "80", "--host-port", f"80:{busy}"], f"ingress port {busy} is already in use"),
        (["service", "bind", "nope", "host", "db"], "Service nope not defined"),
        (["service", "bind", "taken", "host"], "Service name, target type and target value must all be specified"),
        (["service", "bind", "taken", "pod", "db"], "invalid target type: pod - valid target types are: [host]"),
        (["service", "bind", "taken", "host", "db:80"], "invalid hostname or ip"),
        (["service", "bind", "taken", "host", "db", "--target-port", "1", "--target-port", "2"],
         "service defines 1 ports but only 2 mapped (all ports must be mapped)"),
        (["service", "unbind", "taken", "host", "db"], "Could not find target db for service interface taken"),
        (["service", "delete", "nope"], "Service nope not defined"),
        (["expose", "host", "db", "--port", "80"], "--address is required"),
        (["expose", "host", "db", "--address", "x"], "--port is required"),
        (["expose", "host", "db", "--address", "taken", "--port", "80"], "Service taken already defined"),
        (["unexpose", "host", "db", "--address", "taken"], "Could not find target db for service interface taken"),
    ]
    try:
        for args, message in cases:
            out = site_env.skupper(*args)
            assert out.returncode != 0, args
            assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
            assert message in out.stderr, (args, out.stderr)
            assert _state(ns) == before, args
    finally:
        holder.close()


def test_ten_concurrent_creates(site_env):
    ns = site_env.namespace
    init_site(site_env, ns, "west")
    cli = [sys.executable, "-m", "skupper_podman.cli", "--platform", "podman", "service", "create"]
    procs = [subprocess.Popen([*cli, f"svc{i}", str(9000 + i), "-n", ns], env=site_env.env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(10)]
    results = [(p.wait(240), p.communicate()[1]) for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert sorted(_services_json(ns)) == sorted(f"svc{i}" for i in range(10))
    names = podman_cli("ps", "-a", "--filter", f"label={NAMESPACE_LABEL}={ns}", "--filter", "label=skupper.io/address",
                       "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == sorted(f"{ns}-svc{i}" for i in range(10))
    # the ten service routers are edge routers of this site: not counted as other sites
    assert _ok(site_env.skupper("status")).stdout.rstrip().endswith(
        "It is not connected to any other sites. It has 10 exposed services.")


def test_python_api_tls_expose_unexpose(site_env):
    from skupper_podman import InitOptions, Services, pki

    ns = site_env.namespace
    site = _site(ns)
    site.init(InitOptions(site_name="api", ingress_hosts=["host.containers.internal"], bind_port=free_port(),
                          bind_port_edge=free_port(), timeout=60))
    before = _state(ns)
    services = Services(site)
    services.expose("10.0.0.8", "secure", [8443], protocol="http2", tls=True)
    cert_dir = site.files.path(site.vol("skupper-router-certs"), "skupper-tls-secure")
    cert = (cert_dir / "tls.crt").read_bytes()
    service_ca = site.files.read(site.vol("skupper-service-ca"), "tls.crt")
    assert pki.issued_by(cert, service_ca) and pki.dns_names(cert) == ["secure"]
    assert site.files.read(site.vol("skupper-service-client"), "ca.crt") == service_ca
    assert _wait_for(lambda: "api-secure" in _edge_peers(ns))
    profiles = _live(ns, "api-secure", "sslProfile")
    assert profiles["skupper-tls-secure"]["certFile"] == "/etc/skupper-router-certs/skupper-tls-secure/tls.crt"
    listener = _live(ns, "api-secure", "httpListener")["secure:8443"]
    assert listener["sslProfile"] == "skupper-tls-secure" and listener["protocolVersion"] == "HTTP2"
    services.bind("secure", "10.0.0.9")
    assert set(_live(ns, "api-secure", "httpConnector")) == {"secure@10.0.0.8:8443:8443", "secure@10.0.0.9:8443:8443"}
    assert services.unexpose("10.0.0.8", "secure") is False
    assert set(_live(ns, "api-secure", "httpConnector")) == {"secure@10.0.0.9:8443:8443"}
    assert services.unexpose("10.0.0.9", "secure") is True
    assert not cert_dir.exists() and services.list() == []
    assert _state(ns) == before
    assert site.delete() is True


# -- data plane: traffic through linked sites --------------------------------------------------

SERVER = """
import http.server, os
token = os.environ["TOKEN"].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(token)))
        self.end_headers()
        self.wfile.write(token)
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""

CLIENT = """
import ssl, sys, time, urllib.request
url, seconds, cafile = sys.argv[1], float(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else None)
context = ssl.create_default_context(cafile=cafile) if cafile else None
deadline, last = time.monotonic() + seconds, None
while time.monotonic() < deadline:
    try:
        print(urllib.request.urlopen(url, timeout=10, context=context).read().decode())
        sys.exit(0)
    except Exception as err:
        last = err
        time.sleep(0.5)
sys.exit(f"no answer from {url}: {last}")
"""

H2C_SERVER = """
import os, socket, threading
import h2.config, h2.connection, h2.events
token = os.environ["TOKEN"].encode()
def serve(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while data := sock.recv(65535):
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                conn.send_headers(event.stream_id, [(":status", "200"), ("content-length", str(len(token)))])
                conn.send_data(event.stream_id, token, end_stream=True)
        sock.sendall(conn.data_to_send())
    sock.close()
server = socket.create_server(("0.0.0.0", 8080))
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""

H2C_CLIENT = """
import socket, sys, time
import h2.connection, h2.events
def get(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    conn = h2.connection.H2Connection()
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"),
                          (":authority", f"{host}:{port}")], end_stream=True)
    sock.sendall(conn.data_to_send())
    body = b""
    while data := sock.recv(65535):
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                body += event.data
            if isinstance(event, h2.events.StreamEnded):
                return body.decode()
        sock.sendall(conn.data_to_send())
    raise ConnectionError("closed before the response ended")
deadline, last = time.monotonic() + 60, None
while time.monotonic() < deadline:
    try:
        print(get(sys.argv[1], int(sys.argv[2])))
        sys.exit(0)
    except Exception as err:
        last = err
        time.sleep(0.5)
sys.exit(f"no h2c answer: {last!r}")
"""


def _h2_mounts() -> list[str]:
    """Bind-mount the test venv's pure-Python HTTP/2 packages (h2 and its deps) at /h2lib."""
    import h2
    import hpack
    import hyperframe

    args = ["-e", "PYTHONPATH=/h2lib"]
    for module in (h2, hpack, hyperframe):
        folder = Path(module.__file__).parent
        args += ["-v", f"{folder}:/h2lib/{folder.name}:ro"]
    return args


def _backend(site_env, ns: str, name: str, token: str, script: str = SERVER, extra: tuple[str, ...] = ()) -> str:
    container = f"{ns}-{name}"
    podman_cli("run", "-d", "--name", container, "--label", f"{NAMESPACE_LABEL}={ns}", "--network", f"{ns}-skupper",
               "--network-alias", name, "-e", f"TOKEN={token}", *extra, site_env.image, "python3", "-c", script)
    return container


def _fetch(site_env, ns: str, url: str, ca_dir: Path | None = None, seconds: float = 60, check: bool = True) -> str:
    """GET ``url`` from a client container on the site network (retrying up to ``seconds``)."""
    args = ["run", "--rm", "--label", f"{NAMESPACE_LABEL}={ns}", "--network", f"{ns}-skupper"]
    if ca_dir is not None:
        args += ["-v", f"{ca_dir}:/ca:ro,z"]
    args += [site_env.image, "python3", "-c", CLIENT, url, str(seconds)]
    args += ["/ca/ca.crt"] if ca_dir is not None else []
    out = podman_cli(*args, check=False)
    assert out.returncode == 0 or not check, out.stderr
    return out.stdout.strip() if out.returncode == 0 else ""


def _link(site_env, tmp_path: Path, frm: str, to: str, cost: int = 1) -> None:
    token = tmp_path / f"{to}-{uuid.uuid4().hex[:4]}.token"
    _ok(site_env.skupper("token", "create", str(token), namespace=to))
    _ok(site_env.skupper("link", "create", str(token), "--cost", str(cost), namespace=frm))
    _ok(site_env.skupper("link", "status", "--wait", "60", namespace=frm))


@pytest.fixture
def linked(site_env, tmp_path):
    west, east = site_env.namespace, "e" + uuid.uuid4().hex[:8]
    init_site(site_env, west, "west")
    init_site(site_env, east, "east")
    _link(site_env, tmp_path, east, west)
    yield west, east
    sweep_namespace(east)


def test_http_backend_reached_through_linked_sites(site_env, linked):
    west, east = linked
    token = uuid.uuid4().hex
    _backend(site_env, west, "backend-target", token)
    out = _ok(site_env.skupper("expose", "host", "backend-target", "--address", "backend", "--port", "8080",
                               namespace=west))
    assert out.stdout == "host backend-target exposed as backend\n"
    host_port = free_port()
    _ok(site_env.skupper("service", "create", "backend", "8080", "--host-ip", "127.0.0.1",
                         "--host-port", f"8080:{host_port}", namespace=east))
    assert _fetch(site_env, east, "http://backend:8080/") == token

    def from_host() -> str:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=5).read().decode()
        except OSError:
            return ""
    assert _wait_for(lambda: from_host() == token, timeout=30)
    text = _ok(site_env.skupper("service", "status", namespace=east)).stdout
    assert f"ip: 127.0.0.1 - ports: {host_port} -> 8080" in text


def test_http2_service_carries_h2c(site_env, linked):
    west, east = linked
    token = uuid.uuid4().hex
    mounts = _h2_mounts()
    _backend(site_env, west, "grpc-target", token, H2C_SERVER, tuple(mounts))
    _ok(site_env.skupper("expose", "host", "grpc-target", "--address", "grpc", "--port", "8080",
                         "--protocol", "http2", namespace=west))
    _ok(site_env.skupper("service", "create", "grpc", "8080", "--protocol", "http2", namespace=east))
    out = podman_cli("run", "--rm", "--label", f"{NAMESPACE_LABEL}={east}", "--network", f"{east}-skupper", *mounts,
                     site_env.image, "python3", "-c", H2C_CLIENT, "grpc", "8080", check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == token
    (data,) = json.loads(_ok(site_env.skupper("service", "status", "-o", "json", namespace=east)).stdout)
    assert data["protocol"] == "http2" and data["connected"] is True


def test_tls_service_verified_with_the_service_ca(site_env, linked, tmp_path):
    west, east = linked
    token = uuid.uuid4().hex
    _backend(site_env, west, "backend-target", token)
    _ok(site_env.skupper("expose", "host", "backend-target", "--address", "backend", "--port", "8080", namespace=west))
    _ok(site_env.skupper("service", "create", "backend", "8080", "--generate-tls-secrets", namespace=east))
    site = _site(east)
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / "ca.crt").write_bytes(site.files.read(site.vol("skupper-service-client"), "ca.crt"))
    assert _fetch(site_env, east, "https://backend:8080/", ca_dir) == token


def test_lower_cost_target_preferred_with_failover(site_env, tmp_path):
    east, west, north = site_env.namespace, "w" + uuid.uuid4().hex[:8], "n" + uuid.uuid4().hex[:8]
    try:
        for ns, name in ((east, "east"), (west, "west"), (north, "north")):
            init_site(site_env, ns, name)
        _link(site_env, tmp_path, east, west, cost=1)
        _link(site_env, tmp_path, east, north, cost=5)
        for ns in (west, north):
            _backend(site_env, ns, "backend-target", ns)
            _ok(site_env.skupper("expose", "host", "backend-target", "--address", "backend", "--port", "8080",
                                 namespace=ns))
        _ok(site_env.skupper("service", "create", "backend", "8080", namespace=east))
        assert _fetch(site_env, east, "http://backend:8080/") == west
        podman_cli("stop", "-t", "0", f"{west}-backend")  # west's service router goes away
        assert _wait_for(lambda: _fetch(site_env, east, "http://backend:8080/", seconds=5, check=False) == north,
                         timeout=60)
        podman_cli("start", f"{west}-backend")
        assert _wait_for(lambda: _fetch(site_env, east, "http://backend:8080/", seconds=5, check=False) == west,
                         timeout=60)
    finally:
        sweep_namespace(west)
        sweep_namespace(north)


PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()
    print("open")
except ConnectionRefusedError:
    print("refused")
"""


def test_service_port_opens_only_once_a_target_is_bound(site_env, linked):
    """The router's tcpListener stays closed (connection refused, not a hang) until a connector
    for its address exists somewhere in the network; binding a target on the other site opens it."""
    west, east = linked
    token = uuid.uuid4().hex
    _ok(site_env.skupper("service", "create", "backend", "8080", namespace=east))

    def probe() -> str:
        return podman_cli("run", "--rm", "--label", f"{NAMESPACE_LABEL}={east}", "--network", f"{east}-skupper",
                          site_env.image, "python3", "-c", PROBE, "backend", "8080").stdout.strip()

    assert probe() == "refused"
    _backend(site_env, west, "backend-target", token)
    _ok(site_env.skupper("expose", "host", "backend-target", "--address", "backend", "--port", "8080",
                         namespace=west))
    assert _wait_for(lambda: probe() == "open", timeout=30)
    assert _fetch(site_env, east, "http://backend:8080/") == token
