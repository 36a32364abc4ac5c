"""Services without Podman: validation, port mapping, the JSON store, config rendering and the
create/bind/unbind/delete flows against a fake Podman and a fake management agent."""
from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from skupper_podman import pki
from skupper_podman.cli.service_commands import status_text
from skupper_podman.errors import DamagedState, InputError, ManagementError, PodmanError, ResourceConflict, RouterUnavailable
from skupper_podman.podman.records import ContainerRecord
from skupper_podman.router.config import RouterConfig, ServiceTarget
from skupper_podman.services.model import (
    ServiceDefinition,
    host_port_mapping,
    parse_labels,
    parse_port,
    parse_service_args,
    split_list,
    target_port_mapping,
    validate_address,
    validate_host,
)
from skupper_podman.services.operations import Services, ServiceStatus
from skupper_podman.services.store import ServiceStore
from skupper_podman.paths import INTERNAL, ROUTER_CERTS, SERVICES
from skupper_podman.site.lifecycle import CONFIG_FILE, SERVICES_FILE
from tests.helpers import SITE_ID, FakeSite, free_port


# -- names, ports, hosts, labels ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "backend", "my-svc-2", "x" * 63])
def test_valid_service_names(name):
    validate_address(name)


def test_invalid_service_name_messages():
    with pytest.raises(InputError) as err:
        validate_address("Backend")
    assert str(err.value).startswith('Invalid service name: ["a DNS-1035 label must consist of lower case')
    assert str(err.value).endswith("regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')\"]")
    with pytest.raises(InputError, match=r'^Invalid service name: \["must be no more than 63 characters"\]$'):
        validate_address("a" * 64)
    for bad in ("1abc", "abc-", "a_b", "a.b", ""):
        with pytest.raises(InputError, match="Invalid service name"):
            validate_address(bad)


def test_ports_and_create_arguments():
    assert parse_port("8080") == 8080 and parse_port(1) == 1 and parse_port("65535") == 65535
    for bad, message in (("http", "http is not a valid port."), ("0", "Port 0 is outside valid range."),
                         ("65536", "Port 65536 is outside valid range."), ("-1", "Port -1 is outside")):
        with pytest.raises(InputError, match=message):
            parse_port(bad)
    assert parse_service_args(["backend", "8080", "9090"]) == ("backend", [8080, 9090])
    assert parse_service_args(["backend:8080"]) == ("backend", [8080])
    with pytest.raises(InputError, match="^Name and port must be specified$"):
        parse_service_args(["backend"])
    with pytest.raises(InputError, match="^Name and port must be specified$"):
        parse_service_args([])
    with pytest.raises(InputError, match="^extra argument: 9090$"):
        parse_service_args(["backend:8080", "9090"])


def test_target_port_mapping_rules():
    assert target_port_mapping([8080, 9090]) == {8080: 8080, 9090: 9090}
    assert target_port_mapping([8080, 9090], ["80", "90"]) == {8080: 80, 9090: 90}
    assert target_port_mapping([8080, 9090], ["9090:90", "8080:80"]) == {8080: 80, 9090: 90}
    cases = [
        (["80"], "service defines 2 ports but only 1 mapped (all ports must be mapped)"),
        (["x:80", "90"], "invalid source port: x"),
        (["8080:y", "90"], "invalid target port: y"),
        (["8080:70000", "90"], "invalid target port: 70000"),
        (["7:80", "90"], "source port not defined in service: 7"),
    ]
    for items, message in cases:
        with pytest.raises(InputError) as err:
            target_port_mapping([8080, 9090], items)
        assert str(err.value) == message


def test_host_port_mapping_rules():
    assert host_port_mapping([8080]) == {8080: 8080}
    assert host_port_mapping([8080, 9090], ["18080", "9090:19090"]) == {8080: 18080, 9090: 19090}
    cases = [
        (["1", "2", "3"], "service defines 2 ports but only 3 mapped (all ports must be mapped)"),
        (["a:1", "2"], "invalid service port: a"),
        (["8080:b", "2"], "invalid host port: b"),
        (["7:1", "2"], "7 is not a valid service port"),
    ]
    for items, message in cases:
        with pytest.raises(InputError) as err:
            host_port_mapping([8080, 9090], items)
        assert str(err.value) == message


def test_hosts_labels_and_lists():
    for host in ("10.0.0.5", "fe80::1", "backend", "host.containers.internal", "db_1.example.com"):
        assert validate_host(host) == host
    with pytest.raises(InputError, match="^a hostname or IP is required$"):
        validate_host("")
    for bad in ("a:80", "user@host", "a/b", "a b", "-a"):
        with pytest.raises(InputError, match="^invalid hostname or ip$"):
            validate_host(bad)
    assert parse_labels(["app=web,tier=front", "team=x"]) == {"app": "web", "tier": "front", "team": "x"}
    assert parse_labels(["example.com/owner=me"]) == {"example.com/owner": "me"}
    with pytest.raises(InputError, match='invalid label "oops"'):
        parse_labels(["oops"])
    assert split_list(["80,81", "82"]) == ["80", "81", "82"]


# -- definitions -------------------------------------------------------------------------------

def _validation_error(**fields) -> str:
    with pytest.raises(InputError) as err:
        ServiceDefinition(**{"address": "web", "ports": [80], **fields}).validate()
    return str(err.value)


def test_definition_validation_messages():
    assert _validation_error(protocol="udp") == "udp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."
    assert _validation_error(protocol="http", aggregate="xml") == \
        "xml is not a valid aggregation strategy. Choose 'json' or 'multipart'."
    assert _validation_error(protocol="tcp", aggregate="json") == "The aggregate option is currently only valid for http"
    assert _validation_error(protocol="http2", event_channel=True) == \
        "The event-channel option is currently only valid for http"
    assert _validation_error(protocol="http", aggregate="json", event_channel=True) == \
        "Only one of aggregate and event-channel can be specified for a given service."
    assert _validation_error(protocol="http", tls_credentials="skupper-tls-web") == \
        "The TLS support is only available for http2 and tcp protocols"
    assert _validation_error(ports=[80, 80]) == "duplicate port in [80, 80]"
    assert _validation_error(ports=[]) == "Name and port must be specified"
    assert _validation_error(targets=[ServiceTarget("h", {80: 0})]) == "Bad target port number. Target: h Port: 0"
    # event channels work (1.5 rejected every one of them)
    ServiceDefinition("web", [80], protocol="http", event_channel=True).validate()
    ServiceDefinition("web", [80], protocol="tcp", tls_credentials="skupper-tls-web").validate()
    ServiceDefinition("web", [80], protocol="http2", tls_credentials="skupper-tls-web").validate()


def test_definition_json_is_the_1_5_format():
    example = {"nginx": {"address": "nginx", "protocol": "tcp", "ports": [8080], "exposeIngress": "",
                         "targets": [{"name": '*domain.EgressResolverHost={"host":"nginx","ports":{"8080":8080}}',
                                      "targetPorts": {"8080": 8080}, "service": "nginx"}]}}
    definition = ServiceDefinition.from_json(example["nginx"])
    assert definition.targets == [ServiceTarget("nginx", {8080: 8080})]
    assert definition.to_json() == example["nginx"]
    full = ServiceDefinition("web", [80, 443], protocol="http", targets=[ServiceTarget("10.0.0.9", {443: 8443, 80: 8080})],
                             labels={"a": "b"}, aggregate="json", tls_credentials="skupper-tls-web", origin="o")
    data = full.to_json()
    assert list(data) == ["address", "protocol", "ports", "aggregate", "labels", "origin", "exposeIngress",
                          "targets", "tlsCredentials"]
    assert data["targets"][0]["name"] == \
        '*domain.EgressResolverHost={"host":"10.0.0.9","ports":{"443":8443,"80":8080}}'
    assert ServiceDefinition.from_json(json.loads(json.dumps(data))) == full


def test_tls_credentials_from_the_1_5_expose_quirk_mean_the_real_profile():
    definition = ServiceDefinition.from_json({"address": "web", "protocol": "http2", "ports": [80],
                                              "tlsCredentials": "web", "targets": []})
    assert definition.tls and definition.tls_profile == "skupper-tls-web"
    assert definition.spec().tls_profile == "skupper-tls-web"


# -- the JSON store ----------------------------------------------------------------------------

def test_store_reads_missing_and_empty_files(tmp_path):
    store = ServiceStore(tmp_path / SERVICES_FILE)
    assert store.load() == {}
    store.path.write_text("")
    assert store.load() == {}
    store.path.write_text("{}")
    assert store.load() == {}
    for damaged, why in (("[1]", "not a JSON object"), ("{nope", "not JSON"), (b"\xff{}", "not JSON"),
                         ('{"a": 1}', "a service entry is malformed"),
                         ('{"a": {"ports": ["x"]}}', "a service entry is malformed")):
        store.path.write_bytes(damaged.encode() if isinstance(damaged, str) else damaged)
        with pytest.raises(DamagedState, match=f"damaged services file {store.path}: {why}"):
            store.load()


def test_store_add_get_remove(tmp_path):
    store = ServiceStore(tmp_path / SERVICES_FILE)
    store.add(ServiceDefinition("b", [2]))
    store.add(ServiceDefinition("a", [1], targets=[ServiceTarget("h", {1: 10})]))
    with pytest.raises(InputError, match="^Service a already defined$"):
        store.add(ServiceDefinition("a", [5]))
    raw = json.loads(store.path.read_text())
    assert list(raw) == ["a", "b"] and raw["a"]["ports"] == [1]
    assert store.get("a").targets == [ServiceTarget("h", {1: 10})]
    assert store.lock_path.name == "skupper-services.json.lock" and store.lock_path.exists()
    assert store.remove("a").address == "a" and store.remove("a") is None
    with pytest.raises(InputError, match="^Service a not defined$"):
        store.get("a")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_store_edit_is_not_written_when_the_block_fails(tmp_path):
    store = ServiceStore(tmp_path / SERVICES_FILE)
    store.add(ServiceDefinition("a", [1]))
    with pytest.raises(RuntimeError):
        with store.edit() as services:
            services.pop("a")
            raise RuntimeError("boom")
    assert list(store.load()) == ["a"]


def _add_in_process(path: str, index: int) -> None:
    ServiceStore(path).add(ServiceDefinition(f"svc{index}", [8000 + index]))


def test_store_concurrent_processes_lose_nothing(tmp_path):
    path = str(tmp_path / SERVICES_FILE)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_in_process, args=(path, i)) for i in range(24)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert sorted(ServiceStore(path).load()) == sorted(f"svc{i}" for i in range(24))


def test_store_concurrent_threads_lose_nothing(tmp_path):
    path = tmp_path / SERVICES_FILE
    threads = [threading.Thread(target=_add_in_process, args=(str(path), i)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ServiceStore(path).load()) == 16


def test_store_waits_for_the_lock(tmp_path):
    store = ServiceStore(tmp_path / SERVICES_FILE)
    store.add(ServiceDefinition("first", [1]))
    fd = os.open(store.lock_path, os.O_RDWR)  # its own open file: flock conflicts even in-process
    fcntl.flock(fd, fcntl.LOCK_EX)
    writer = threading.Thread(target=_add_in_process, args=(str(store.path), 7))
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive() and list(store.load()) == ["first"]
    os.close(fd)
    writer.join(10)
    assert not writer.is_alive() and sorted(store.load()) == ["first", "svc7"]


# -- the status tree ---------------------------------------------------------------------------

def _status(**fields) -> ServiceStatus:
    base = dict(address="nginx", protocol="tcp", ports=[8080], targets=[], labels={}, tls=False,
                container="nginx", state="running", connected=True, router_id="west-nginx")
    return ServiceStatus(**{**base, **fields})


def test_status_tree_is_the_1_5_tree():
    assert status_text([], False) == "No services defined"
    svc = _status(host_ports={8080: 18080}, targets=[{"host": "10.0.0.5", "ports": {8080: 8080}}])
    assert status_text([svc], False) == "\n".join([
        "Services exposed through Skupper:",
        "╰─ nginx:8080 (tcp)",
        "   ├─ Host ports:",
        "   │  ╰─ ip: * - ports: 18080 -> 8080",
        "   ╰─ Targets:",
        "      ╰─ host: 10.0.0.5 - ports: map[8080:8080]",
    ])


def test_status_tree_many_ports_labels_and_problems():
    web = _status(address="web", protocol="http", ports=[80, 443], labels={"b": "2", "a": "1"},
                  host_ip="127.0.0.1", host_ports={443: 8443, 80: 8080})
    down = _status(address="db", state="missing", container="", connected=None)
    text = status_text([down, web], True)
    assert text == "\n".join([
        "Services exposed through Skupper:",
        "├─ db:8080 (tcp)",
        "│  ╰─ Problem: service container not found",
        "├─ web:80 (http)",
        "│  ├─ Host ports:",
        "│  │  ╰─ ip: 127.0.0.1 - ports: 8080 -> 80, 8443 -> 443",
        "│  ╰─ Labels:",
        "│     ├─ a=1",
        "│     ╰─ b=2",
        "╰─ web:443 (http)",
        "   ├─ Host ports:",
        "   │  ╰─ ip: 127.0.0.1 - ports: 8080 -> 80, 8443 -> 443",
        "   ╰─ Labels:",
        "      ├─ a=1",
        "      ╰─ b=2",
    ])
    assert "Labels" not in status_text([web], False)
    assert _status(state="exited").problem == "container nginx is exited"
    assert _status(connected=False).problem == "router west-nginx is not connected to the site router"
    assert _status(connected=None).problem == ""
    assert _status(host_ports={80: 8080}).to_dict()["host_ports"] == {"80": 8080}


# -- operations against a fake Podman and a fake management agent -----------------------------

def _volume(site: FakeSite, base: str) -> Path:
    return site.files.path(site.vol(base))


def _service_config(site: FakeSite, address: str) -> RouterConfig:
    return RouterConfig.parse((_volume(site, INTERNAL) / address / CONFIG_FILE).read_text())


def _snapshot(site: FakeSite) -> dict:
    files = {str(p.relative_to(site.podman.root)): p.read_bytes()
             for p in site.podman.root.rglob("*") if p.is_file() and not p.name.endswith(".lock")}
    return {"files": files, "containers": sorted(site.podman.ctrs)}


def test_create_writes_definition_config_and_container(site):
    services = Services(site)
    services.create("backend", [8080, 9090], protocol="http", host_ip="127.0.0.1",
                    host_ports=["8080:" + str(free_port()), str(free_port())], labels={"team": "x"})
    assert ServiceStore(_volume(site, SERVICES) / SERVICES_FILE).get("backend").protocol == "http"
    config = _service_config(site, "backend")
    assert config.router()["id"] == "west-backend" and config.router()["mode"] == "edge"
    assert [a["name"] for a in config.entities("httpListener")] == ["backend:8080", "backend:9090"]
    assert config.log_entries()[0].module == "DEFAULT"  # logging copied from the site config
    spec = site.podman.specs["ut-backend"]
    assert spec.aliases == ["backend"] and spec.network == "ut-skupper" and spec.image == "localhost/router:test"
    assert spec.labels == {"team": "x", "application": "skupper", "skupper-podman.io/namespace": "ut",
                           "skupper.io/address": "backend"}
    assert spec.env == {"APPLICATION_NAME": SITE_ID, "QDROUTERD_CONF": "/etc/skupper-router/config/backend/skrouterd.json",
                        "QDROUTERD_CONF_TYPE": "json", "SKUPPER_SITE_ID": SITE_ID}
    assert sorted(m.destination for m in spec.mounts) == sorted([
        "/etc/skupper-router/config/", "/etc/skupper-router-certs/skupper-internal/",
        "/etc/skupper-router-certs/skupper-amqps/", "/etc/skupper-router-certs"])
    assert set(spec.ports) == {"8080/tcp", "9090/tcp"} and spec.ports["8080/tcp"][0][0] == "127.0.0.1"
    assert site.podman.ctrs["ut-backend"].state == "running"
    (status,) = services.status()
    assert status.state == "running" and status.connected is True and status.problem == ""
    assert status.container == "ut-backend" and status.host_ip == "127.0.0.1" and set(status.host_ports) == {8080, 9090}


def test_create_with_tls_issues_the_service_certificate(site, service_ca):
    Services(site).create("secure", [8443], protocol="http2", tls=True)
    folder = _volume(site, ROUTER_CERTS) / "skupper-tls-secure"
    cert = (folder / "tls.crt").read_bytes()
    assert pki.common_name(cert) == "secure" and pki.dns_names(cert) == ["secure"]
    assert pki.issued_by(cert, service_ca.cert_pem) and (folder / "ca.crt").read_bytes() == service_ca.cert_pem
    assert oct(os.stat(folder / "tls.key").st_mode & 0o777) == "0o600"
    config = _service_config(site, "secure")
    assert [p["name"] for p in config.entities("sslProfile")] == ["skupper-internal", "skupper-tls-secure"]
    assert config.entities("httpListener")[0]["sslProfile"] == "skupper-tls-secure"
    Services(site).delete("secure")
    assert not folder.exists() and not (_volume(site, INTERNAL) / "secure").exists()


def test_create_rejects_bad_input_and_changes_nothing(site):
    services = Services(site)
    services.create("taken", [80])
    site.fake.add_container(ContainerRecord("ut-other", "quay.io/someone/else", state="running"))
    busy = free_port()
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", busy))
    holder.listen()
    before = _snapshot(site)
    cases = [
        (dict(address="taken", ports=[81]), InputError, "Service taken already defined"),
        (dict(address="Bad", ports=[80]), InputError, "Invalid service name"),
        (dict(address="x", ports=[70000]), InputError, "Port 70000 is outside valid range."),
        (dict(address="x", ports=[80], protocol="udp"), InputError, "udp is not a valid mapping"),
        (dict(address="x", ports=[80], protocol="http", tls=True), InputError, "only available for http2 and tcp"),
        (dict(address="x", ports=[80], container_name="other"), ResourceConflict, "a container named ut-other already exists"),
        (dict(address="skupper-router-local", ports=[80]), ResourceConflict,
         "a container named skupper-router-local already exists"),
        (dict(address="x", ports=[80, 81], host_ports=["1"]), InputError, "service defines 2 ports but only 1 mapped"),
        (dict(address="x", ports=[80], host_ports=["81:1"]), InputError, "81 is not a valid service port"),
        (dict(address="x", ports=[80], host_ip="127.0.0.1", host_ports=[str(busy)]), ResourceConflict,
         f"ingress port {busy} is already in use"),
        (dict(address="x", ports=[80], host_ip="not-an-ip"), InputError, "invalid host IP: not-an-ip"),
        (dict(address="x", ports=[80], labels={"application": "mine"}), InputError,
         "label application is reserved for Skupper"),
    ]
    try:
        for kwargs, error, message in cases:
            with pytest.raises(error, match=message):
                services.create(kwargs.pop("address"), kwargs.pop("ports"), **kwargs)
            assert _snapshot(site) == before
    finally:
        holder.close()


def test_create_rolls_everything_back_when_the_container_fails(site):
    site.podman.fail_start = True
    before = _snapshot(site)
    with pytest.raises(PodmanError, match="error starting container ut-web - boom"):
        Services(site).create("web", [80], protocol="tcp", tls=True)
    assert _snapshot(site) == before and site.podman.ctrs == {}
    assert not (_volume(site, ROUTER_CERTS) / "skupper-tls-web").exists()


def test_bind_creates_connectors_live_and_in_the_config(site, responder):
    services = Services(site)
    services.create("backend", [8080, 9090])
    services.bind("backend", "10.0.0.5", ["8080:80", "9090:90"])
    creates = [r for r in responder.requests if r.properties.get("operation") == "CREATE"]
    assert {r.to for r in creates} == {"amqp:/_edge/west-backend/$management"}
    assert sorted(r.properties["name"] for r in creates) == ["backend@10.0.0.5:8080:80", "backend@10.0.0.5:9090:90"]
    first = next(r for r in creates if r.properties["name"] == "backend@10.0.0.5:8080:80")
    assert first.properties["type"] == "io.skupper.router.tcpConnector"
    assert first.body == {"host": "10.0.0.5", "port": "80", "address": "backend:8080",
                          "siteId": f"{SITE_ID}-backend", "verifyHostname": False}
    config = _service_config(site, "backend")
    assert [a["name"] for a in config.entities("tcpConnector")] == ["backend@10.0.0.5:8080:80",
                                                                     "backend@10.0.0.5:9090:90"]
    assert services.get("backend").targets == [ServiceTarget("10.0.0.5", {8080: 80, 9090: 90})]
    with pytest.raises(InputError, match="^egress resolver already defined$"):
        services.bind("backend", "10.0.0.5", ["8080:80", "9090:90"])
    with pytest.raises(InputError, match="^Service nope not defined$"):
        services.bind("nope", "10.0.0.5")

    services.unbind("backend", "10.0.0.5")
    deletes = [r for r in responder.requests if r.properties.get("operation") == "DELETE"]
    assert sorted(r.properties["name"] for r in deletes) == sorted(r.properties["name"] for r in creates)
    assert _service_config(site, "backend").entities("tcpConnector") == []
    assert services.get("backend").targets == []
    with pytest.raises(InputError, match="^Could not find target 10.0.0.5 for service interface backend$"):
        services.unbind("backend", "10.0.0.5")


def test_bind_failure_leaves_nothing(site, responder):
    services = Services(site)
    services.create("backend", [8080])
    before = _snapshot(site)
    responder.behaviour.status = (500, "Internal Error")
    with pytest.raises(ManagementError):
        services.bind("backend", "db")
    responder.behaviour.status = None
    assert _snapshot(site) == before


def test_bind_waits_for_the_service_router_then_gives_up(tmp_path, service_ca, responder):
    site = FakeSite(tmp_path, service_ca, responder.url)
    services = Services(site, attach_timeout=0.6)
    services.create("other", [1])  # its router (west-other) never attaches
    before = _snapshot(site)
    started = time.monotonic()
    with pytest.raises(RouterUnavailable, match=r"the router of service other \(west-other\) is not connected"):
        services.bind("other", "db")
    assert time.monotonic() - started >= 0.5
    assert _snapshot(site) == before


def test_bind_to_a_stopped_service_router_only_changes_its_config(site, responder):
    services = Services(site)
    services.create("backend", [8080])
    site.fake.set_state("ut-backend", "exited")
    services.bind("backend", "db")
    assert [a["host"] for a in _service_config(site, "backend").entities("tcpConnector")] == ["db"]
    services.unbind("backend", "db")
    assert _service_config(site, "backend").entities("tcpConnector") == []
    assert [r for r in responder.requests if r.properties.get("operation") in ("CREATE", "DELETE")] == []
    site.podman.ctrs.clear()
    with pytest.raises(PodmanError, match="the container of service backend is missing"):
        services.bind("backend", "db")


def test_bind_accepts_a_connector_the_restarted_router_already_has(site, responder):
    services = Services(site)
    services.create("backend", [8080])
    responder.add("tcpConnector", "backend@db:8080:8080", host="db", port="8080")
    services.bind("backend", "db")
    assert services.get("backend").target("db") is not None


def test_delete_removes_everything_and_unexpose_rules(site, responder):
    services = Services(site)
    services.expose("db", "backend", [8080], target_ports=["5432"])
    assert services.get("backend").targets == [ServiceTarget("db", {8080: 5432})]
    assert [a["port"] for a in _service_config(site, "backend").entities("tcpConnector")] == ["5432"]
    services.bind("backend", "db2")
    with pytest.raises(InputError, match="^Could not find target nope for service interface backend$"):
        services.unexpose("nope", "backend")
    assert services.unexpose("db", "backend") is False
    assert [t.host for t in services.get("backend").targets] == ["db2"]
    assert services.unexpose("db2", "backend") is True
    assert services.list() == [] and site.podman.ctrs == {}
    assert not (_volume(site, INTERNAL) / "backend").exists()
    with pytest.raises(InputError, match="^Service backend not defined$"):
        services.delete("backend")


def test_delete_of_a_service_whose_container_vanished(site):
    services = Services(site)
    services.create("web", [80])
    site.podman.ctrs.clear()
    (status,) = services.status()
    assert status.state == "missing" and status.problem == "service container not found"
    services.delete("web")
    assert services.list() == []


def test_expose_argument_errors(site):
    services = Services(site)
    with pytest.raises(InputError, match="^--address is required$"):
        services.expose("db", "", [80])
    with pytest.raises(InputError, match="^--port is required$"):
        services.expose("db", "web", [])
    with pytest.raises(InputError, match="^invalid hostname or ip$"):
        services.expose("db:80", "web", [80])
    with pytest.raises(InputError, match="^invalid target port: x$"):
        services.expose("db", "web", [80], target_ports=["80:x"])
    assert services.list() == []


def test_bind_looks_its_container_up_by_name_and_status_lists_once(site, responder):
    services = Services(site)
    for address in ("backend", "web", "db"):
        services.create(address, [8080])
    site.fake.calls.clear()
    services.bind("backend", "10.0.0.5")
    assert "containers" not in site.fake.calls  # one inspect by name, no list of every container
    site.fake.calls.clear()
    assert [s.address for s in services.status()] == ["backend", "db", "web"]
    assert site.fake.calls.count("containers") == 1 and "container" not in site.fake.calls


def test_a_service_with_its_own_container_name_is_still_found(site):
    services = Services(site)
    services.create("web", [80], container_name="frontend")
    site.fake.set_state("ut-frontend", "exited")
    services.bind("web", "db")  # found by label: a stopped router only gets its config
    assert [a["host"] for a in _service_config(site, "web").entities("tcpConnector")] == ["db"]
    services.delete("web")
    assert site.podman.ctrs == {}
