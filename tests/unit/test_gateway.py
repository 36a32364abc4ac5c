"""Gateways without Podman: the 1.5 gateway YAML, the gateway router config against the router
2.5.3 schema, bundles, and the operations on a fake site whose management (and the gateway
router's) is a test responder."""
from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from skupper_podman import pki
from skupper_podman.errors import InputError, ResourceConflict, SkupperError
from skupper_podman.gateway import bundle, operations
from skupper_podman.gateway.model import (
    Endpoint,
    Gateway,
    GatewayConfig,
    GatewayService,
    check_name,
    parse_config,
)
from skupper_podman.gateway.operations import Gateways, parse_expose_ports
from skupper_podman.gateway.routerconf import check_schema, render
from skupper_podman.paths import SITE_CA, SiteLayout
from skupper_podman.services.operations import Services
from tests.helpers import FakeSite, free_port

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "router_double"))

from skrouterd_double.schema import Schema

DOCS_YAML = """\
name: database
bindings:
- name: database
  host: localhost
  service:
    address: database:5432
    protocol: tcp
    ports:
    - 5432
  target_ports:
  - 5432
qdr-listeners:
- name: amqp
  host: localhost
  port: 5672
"""


def _gateway(config: GatewayConfig, kind: str = "podman") -> Gateway:
    return Gateway(config=config, kind=kind, router_id="skupper-gateway-west-gw", site_id="site-1",
                   edge_host="skupper-router", edge_port=45671, url="amqp://127.0.0.1:40000", image="img:1")


# -- the YAML ----------------------------------------------------------------------------------

def test_the_documented_yaml_parses_as_one_binding_on_one_port():
    config = parse_config(DOCS_YAML, "database.yaml")
    assert config.name == "database"
    assert config.bindings == [Endpoint("database", "localhost", GatewayService("database", 5432), 5432)]
    assert config.forwards == [] and config.qdr_listeners == [{"name": "amqp", "host": "localhost", "port": 5672}]


def test_exported_yaml_reads_back_the_same():
    config = parse_config(DOCS_YAML + "forwards:\n- host: 127.0.0.1\n  service: {address: web, protocol: http2, "
                          "ports: [8080]}\n  target_ports: [18080]\n", "x.yaml")
    again = parse_config(config.to_yaml(), "again.yaml")
    assert again == config
    assert again.forwards[0].service.router_address == "web:8080" and again.forwards[0].local_port == 18080


@pytest.mark.parametrize("text, line, words", [
    ("name: Bad_Name\n", 1, "Gateway name must consist of lower case letters"),
    ("name: gw\nbindings:\n  - host: h\n    service: {address: db, ports: [x]}\n", 4, "'x' is not a port"),
    ("name: gw\nbindings:\n  - host: h\n    service: {address: db, protocol: udp, ports: [1]}\n", 4,
     "udp is not a valid mapping"),
    ("name: gw\nbindings:\n  - host: h\n    service: {ports: [1]}\n", 4, "bindings[0].service.address is required"),
    ("name: gw\nbindings:\n  - host: h\n    service: {address: DB, ports: [1]}\n", 4, "Invalid service name"),
    ("name: gw\nbindings: [\n", 3, "not YAML"),
    ("name: gw\nsurprise: 1\n", 2, "unknown field config.surprise"),
    ("name: gw\nforwards: 7\n", 2, "forwards must be a list"),
    ("name: gw\nbindings:\n- service: {address: a, ports: [1]}\n- service: {address: a, ports: [1]}\n", 4,
     "a:1 is given twice"),
])
def test_a_bad_yaml_is_one_line_naming_the_file_and_the_line(text, line, words):
    with pytest.raises(InputError) as err:
        parse_config(text, "gw.yaml")
    assert f"bad gateway config gw.yaml line {line}" in str(err.value) and words in str(err.value)
    assert "\n" not in str(err.value)


def test_names_follow_the_15_rule():
    assert check_name("vm-root.a1") == "vm-root.a1"
    for bad in ("1abc", "abc-", "ABC", "a_b", ""):
        with pytest.raises(InputError, match="Gateway name must consist"):
            check_name(bad)


def test_expose_ports_take_targets_or_a_host_port_pair():
    assert parse_expose_ports("10.0.0.5", ["8080:80", "9090"]) == ("10.0.0.5", [8080, 9090], [80, 9090])
    assert parse_expose_ports("localhost:3306", []) == ("localhost", [3306], [3306])
    with pytest.raises(InputError):
        parse_expose_ports("localhost", [])
    with pytest.raises(InputError, match="is not a valid port"):
        parse_expose_ports("h", ["80:x"])


# -- the router config -------------------------------------------------------------------------

def test_the_gateway_router_config_passes_the_router_schema():
    config = parse_config(DOCS_YAML + "forwards:\n- host: 127.0.0.1\n  service: {address: web, protocol: http2, "
                          "ports: [8080]}\n  target_ports: [18080]\n", "x.yaml")
    pairs = json.loads(render(_gateway(config), "/opt/skupper"))
    schema = Schema.load(str(REPO / "skupper_podman/router/schema/skrouter-2.5.3.json"))
    for entity_type, attrs in pairs:
        schema.validate_entity(entity_type, attrs)
    schema.validate_config(pairs)
    by_type = {t: a for t, a in pairs}
    assert by_type["router"]["mode"] == "edge" and by_type["router"]["id"] == "skupper-gateway-west-gw"
    assert by_type["connector"] == {
        "name": "conn1", "role": "edge", "host": "skupper-router", "port": "45671", "cost": 1,
        "verifyHostname": True, "sslProfile": "conn1-profile", "maxFrameSize": 16384, "maxSessionFrames": 640}
    assert by_type["sslProfile"]["certFile"] == "/opt/skupper/skupper-router-certs/conn1-profile/tls.crt"
    assert by_type["tcpConnector"] == {"name": "database-egress-database:5432", "host": "localhost",
                                       "port": "5432", "address": "database:5432",
                                       "siteId": "skupper-gateway-west-gw"}
    assert by_type["httpListener"]["name"] == "database-ingress-web:8080"
    assert by_type["httpListener"]["protocolVersion"] == "HTTP2" and by_type["httpListener"]["port"] == "18080"
    assert by_type["listener"] == {"name": "amqp", "host": "localhost", "port": 5672}


def test_a_local_gateway_listens_for_management_on_its_loopback_port():
    pairs = json.loads(render(_gateway(GatewayConfig("gw")), "/opt/skupper"))
    assert [a for t, a in pairs if t == "listener"] == [{"name": "amqp", "host": "127.0.0.1", "port": 40000}]


def test_the_schema_check_refuses_what_the_router_would():
    with pytest.raises(InputError, match="tcpConnector has no attribute colour"):
        check_schema([("tcpConnector", {"name": "x", "colour": "red"})])
    with pytest.raises(InputError, match="connector.role cannot be 'boss'"):
        check_schema([("connector", {"name": "x", "role": "boss"})])
    with pytest.raises(InputError, match="no such entity type"):
        check_schema([("gizmo", {})])


# -- bundles -----------------------------------------------------------------------------------

def test_bundle_holds_yaml_config_credential_and_posix_scripts(tmp_path):
    ca = pki.new_ca("skupper-site-ca")
    credential = pki.issue(ca, "gw", ["host.example"])
    config = parse_config(DOCS_YAML, "database.yaml")
    gateway = dataclasses.replace(_gateway(config, "bundle"), url="")
    text = render(gateway, "${QDR_CONF_DIR}")
    path = bundle.write_bundle(gateway, credential, text, tmp_path, SiteLayout("west", data_dir=tmp_path))
    assert path == tmp_path / "database.tar.gz" and path.stat().st_mode & 0o777 == 0o600
    with tarfile.open(path) as archive:
        members = {m.name: m for m in archive.getmembers()}
        read = {name: archive.extractfile(m).read().decode() for name, m in members.items()}
    assert set(members) == {"database.yaml", "config/skrouterd.json", "launch.py", "remove.py",
                            "service/database.service", "skupper-router-certs/conn1-profile/tls.crt",
                            "skupper-router-certs/conn1-profile/tls.key", "skupper-router-certs/conn1-profile/ca.crt"}
    assert members["skupper-router-certs/conn1-profile/tls.key"].mode == 0o600
    assert members["launch.py"].mode == 0o755
    assert parse_config(read["database.yaml"], "x") == config
    assert "${QDR_CONF_DIR}/skupper-router-certs/conn1-profile/tls.key" in read["config/skrouterd.json"]
    assert "gateway_image=${QDROUTERD_IMAGE:-img:1}" in read["launch.py"]
    assert "skupper-podman.io/namespace=west" in read["launch.py"]
    for script in ("launch.py", "remove.py"):
        checked = subprocess.run(["sh", "-n"], input=read[script], text=True, capture_output=True, check=False)
        assert checked.returncode == 0, checked.stderr
    unknown = subprocess.run(["sh", "-c", read["launch.py"], "launch.py", "-t", "lxc"], capture_output=True, text=True, check=False)
    assert unknown.returncode == 2 and "gateway type must be one of service, docker or podman" in unknown.stderr


# -- operations on a fake site -----------------------------------------------------------------

class FakeRunner:
    """A gateway runner that only records what it was asked."""

    kind = "podman"
    working_dir_in_process = False

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []

    def check(self, site, gateway: str) -> None:
        if gateway in self.started:
            raise ResourceConflict(f"a container named {gateway} already exists")

    def start(self, site, gateway: Gateway, directory: Path) -> None:
        self.started.append(gateway.name)

    def stop(self, site, gateway: str) -> None:
        self.stopped.append(gateway)

    def state(self, site, gateway: str) -> str:
        return "running" if gateway in self.started and gateway not in self.stopped else "missing"


class EdgeSite(FakeSite):
    """A fake site that offers its edge listener to gateways."""

    def get(self):
        return dataclasses.replace(super().get(), bind_port=55671, bind_port_edge=45671)


@pytest.fixture
def gateways(tmp_path, service_ca, responder, monkeypatch):
    site = EdgeSite(tmp_path, service_ca, responder.url)
    site.files.write_all(site.vol(SITE_CA), pki.new_ca("skupper-site-ca").files())
    # the gateway router's management is the same responder; its router id attaches to the site
    monkeypatch.setattr(operations, "free_local_port", lambda: responder.port)
    responder.add("router", "gw-router", id="skupper-gateway-west-gw", mode="edge", version="2.5.3")
    responder.add("connection", "gw-edge", container="skupper-gateway-west-gw", role="edge", dir="in")
    Services(site).store.add(_definition())
    return Gateways(site, connect_timeout=5, runners={"podman": FakeRunner()})


def _definition():
    from skupper_podman.services.model import ServiceDefinition

    return ServiceDefinition(address="backend", ports=[8080, 9090])


def _volume_files(gw: Gateways) -> dict[str, bytes]:
    root = gw.store.directory("gw")
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def test_init_stores_a_credential_from_the_site_ca_and_starts_the_router(gateways):
    gateway = gateways.init("gw", "podman")
    assert gateways.runner("podman").started == ["gw"]
    assert gateway.router_id == "skupper-gateway-west-gw" and gateway.edge_host == "skupper-router"
    ca = gateways.site.files.read(gateways.site.vol(SITE_CA), "tls.crt")
    assert pki.issued_by(gateways.store.credential("gw").cert_pem, ca)
    key = gateways.store.directory("gw") / "skupper-router-certs/conn1-profile/tls.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert [s.connected for s in gateways.status()] == [True]
    with pytest.raises(ResourceConflict, match="gateway gw already exists"):
        gateways.init("gw", "podman")


def test_bind_and_forward_change_the_live_router_and_the_config(gateways, responder):
    gateways.init("gw", "podman")
    gateways.bind("backend", "127.0.0.1", ["18080", "19090"], name="gw")
    live = responder.records("tcpConnector")
    assert sorted(live) == ["gw-egress-backend:8080", "gw-egress-backend:9090"]
    assert live["gw-egress-backend:8080"]["port"] == "18080"
    config = json.loads((gateways.store.directory("gw") / "config/skrouterd.json").read_text())
    assert sorted(a["name"] for t, a in config if t == "tcpConnector") == sorted(live)
    ports = [str(free_port()), str(free_port())]
    gateways.forward("backend", ports, loopback=True, name="gw")
    assert {r["host"] for r in responder.records("tcpListener").values()} == {"127.0.0.1"}
    gateways.unbind("backend", name="gw")
    gateways.unforward("backend", name="gw")
    assert responder.records("tcpConnector") == {} and responder.records("tcpListener") == {}
    assert gateways.store.get("gw").config.bindings == []


def test_a_refused_change_leaves_the_router_and_the_files_as_they_were(gateways, responder):
    gateways.init("gw", "podman")
    gateways.bind("backend", "127.0.0.1", ["18080", "19090"], name="gw")
    before, live = _volume_files(gateways), responder.records("tcpConnector")
    with pytest.raises(InputError, match="service not found for nosuch"):
        gateways.bind("nosuch", "h", ["1"], name="gw")
    with pytest.raises(InputError, match="already bound"):
        gateways.bind("backend", "h", ["1", "2"], name="gw")
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        with pytest.raises(ResourceConflict, match=f"port {busy.getsockname()[1]} is already in use"):
            gateways.forward("backend", [busy.getsockname()[1], 1], name="gw")
    responder.behaviour.status = (500, "boom")
    with pytest.raises(SkupperError):
        gateways.unbind("backend", name="gw")
    responder.behaviour.status = None
    assert _volume_files(gateways) == before and responder.records("tcpConnector") == live


def test_delete_stops_the_router_and_removes_the_volume_and_retire_names_gateways(gateways):
    gateways.init("gw", "podman")
    assert gateways.retire() == ["Gateway gw (podman container ut-gw) removed"]
    assert gateways.delete("gw") == "podman"
    assert gateways.store.names() == [] and gateways.runner("podman").stopped[-1] == "gw"
    with pytest.raises(InputError, match="gateway gw not found"):
        gateways.delete("gw")


def test_a_damaged_gateway_is_listed_with_its_problem_and_can_be_deleted(gateways, responder):
    responder.add("connection", "other-edge", container="skupper-gateway-west-other", role="edge", dir="in")
    gateways.init("gw", "podman")
    gateways.init("other", "podman")
    (gateways.store.directory("gw") / "gateway.json").write_text("{not json")
    found = {s.name: s for s in gateways.status()}
    assert found["gw"].state == "damaged" and "gateway gw is damaged" in found["gw"].problem
    assert found["other"].problem == ""
    assert gateways.delete("gw") == "podman"
    assert [s.name for s in gateways.status()] == ["other"]


def test_status_text_is_the_15_tree():
    from skupper_podman.cli.gateway_commands import status_text
    from skupper_podman.gateway.operations import GatewayStatus

    status = GatewayStatus(name="vm-root", type="podman", router_id="r1", state="running", connected=True,
                           revoked=False, version="2.5.3",
                           bindings=[{"name": "mydb:3306", "protocol": "tcp", "address": "mydb:3306",
                                      "host": "localhost", "service_port": 3306, "port": 3306}])
    assert status_text([status]) == (
        "Gateway Definition:\n"
        "╰─ vm-root type:podman version:2.5.3\n"
        "   ├─ Router: r1 running, connected to the site\n"
        "   ╰─ Bindings:\n"
        "      ╰─ mydb:3306 tcp mydb:3306 localhost 3306")
    assert status_text([]) == "No gateway definition found"


# -- the command line --------------------------------------------------------------------------

NO_PODMAN = {"CONTAINER_HOST": "unix:///nonexistent/podman.sock"}


@pytest.mark.parametrize("args, message", [
    (["gateway", "init", "--type", "vm"], "vm is not a valid gateway type. Choose 'service', 'docker' or 'podman'."),
    (["gateway", "forward", "db", "abc"], "Error: abc is not a valid forward port"),
    (["gateway", "bind", "db", "localhost"],
     "Error: gateway bind requires <address> <host> <port...> or <address> <host:port>"),
    (["gateway", "unexpose", "db", "--delete-last=maybe"],
     'invalid argument "maybe" for "--delete-last" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
    (["gateway", "expose", "db", "localhost", "--protocol", "udp"],
     "udp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."),
])
def test_bad_command_lines_are_refused_before_any_podman_work(skupper_cli, args, message):
    out = skupper_cli("--platform", "podman", *args, **NO_PODMAN)
    assert out.returncode == 1 and out.stderr.strip() == message, out.stderr


def test_a_service_gateway_dials_an_ingress_host_of_this_machine(service_ca, tmp_path, monkeypatch):
    from skupper_podman.gateway.operations import _local_edge

    site = EdgeSite(tmp_path, service_ca)
    addresses = {"far.example": "203.0.113.9", "here.example": "127.0.0.1"}

    def resolve(host, port, type=0):  # getaddrinfo's own keyword names
        if host not in addresses:
            raise OSError("unknown host")
        return [(socket.AF_INET, type, 6, "", (addresses[host], port))]

    monkeypatch.setattr(operations.socket, "getaddrinfo", resolve)
    info = dataclasses.replace(site.get(), server_cert=pki.issue(
        service_ca, "skupper-router", ["skupper-router", "nowhere.example", "far.example", "here.example"]).cert_pem)
    assert _local_edge(info, "service") == ("here.example", True, {})
    assert _local_edge(info, "podman") == ("skupper-router", True, {"skupper-router": "127.0.0.1"})
    del addresses["here.example"]
    info = dataclasses.replace(info)
    assert _local_edge(info, "service") == ("far.example", True, {})
    addresses.clear()
    assert _local_edge(dataclasses.replace(info), "service") == ("127.0.0.1", False, {})
