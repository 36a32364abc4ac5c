"""Router configs have Skupper 1.5's layout and pass the real router 2.5.3 schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from skupper_podman.errors import DamagedState, InputError
from skupper_podman.router import config as rc
from skupper_podman.router.logging_spec import (
    LEVELS, MODULES, LogEntry, format_router_logging, parse_router_logging)

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "skupper_podman" / "router" / "schema" / "skrouter-2.5.3.json"
sys.path.insert(0, str(REPO / "tests" / "router_double"))

from skrouterd_double.schema import Schema, SchemaError  # noqa: E402

SITE_ID = "0f3c3a9e-9b6e-4d8e-a3f1-6f1e5c1d2b7a"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(str(SCHEMA_FILE))


@pytest.fixture(scope="module")
def site_text() -> str:
    return rc.site_config("host1-alice-3f2a1", SITE_ID, parse_router_logging("ROUTER_CORE:debug,info"))


def _assert_schema_valid(schema: Schema, text: str) -> list:
    """Every entity of the file passes the schema, entity by entity and as a whole file."""
    pairs = json.loads(text)
    for entity_type, attrs in pairs:
        full = "router.config.address" if entity_type == "address" else entity_type
        schema.validate_entity(full, attrs)
    return schema.validate_config(pairs)


# -- the site config ---------------------------------------------------------------------------

def test_site_config_shape_and_order(site_text):
    pairs = json.loads(site_text)
    assert [t for t, _ in pairs] == ["router", "sslProfile", "sslProfile", "sslProfile",
                                     "listener", "listener", "listener", "listener", "listener",
                                     "address", "log", "log"]
    router = pairs[0][1]
    assert list(router) == ["id", "mode", "helloMaxAgeSeconds", "metadata"]
    assert router["id"] == "host1-alice-3f2a1" and router["mode"] == "interior"
    assert router["helloMaxAgeSeconds"] == "3"
    assert json.loads(router["metadata"]) == {"id": SITE_ID, "version": "1.5.5", "platform": "podman"}
    assert router["metadata"] == '{"id":"%s","version":"1.5.5","platform":"podman"}' % SITE_ID


def test_site_config_listeners(site_text):
    listeners = {a["name"]: a for t, a in json.loads(site_text) if t == "listener"}
    assert list(listeners) == ["@9090", "amqp", "amqps", "interior-listener", "edge-listener"]
    assert listeners["@9090"] == {"name": "@9090", "role": "normal", "port": 9090, "http": True,
                                  "httpRootDir": "disabled", "healthz": True, "metrics": True}
    assert listeners["amqp"] == {"name": "amqp", "host": "localhost", "port": 5672}
    assert listeners["amqps"] == {"name": "amqps", "port": 5671, "sslProfile": "skupper-amqps",
                                  "saslMechanisms": "EXTERNAL", "authenticatePeer": True}
    for name, role, port in (("interior-listener", "inter-router", 55671), ("edge-listener", "edge", 45671)):
        assert listeners[name] == {"name": name, "role": role, "port": port, "sslProfile": "skupper-internal",
                                   "saslMechanisms": "EXTERNAL", "authenticatePeer": True,
                                   "maxFrameSize": 16384, "maxSessionFrames": 640}
    assert all(isinstance(a["port"], int) for a in listeners.values())


def test_site_config_ssl_profiles_and_address(site_text):
    pairs = json.loads(site_text)
    profiles = {a["name"]: a for t, a in pairs if t == "sslProfile"}
    base = "/etc/skupper-router-certs"
    for name in ("skupper-amqps", "skupper-internal"):
        assert list(profiles[name].items()) == [
            ("name", name), ("certFile", f"{base}/{name}/tls.crt"),
            ("privateKeyFile", f"{base}/{name}/tls.key"), ("caCertFile", f"{base}/{name}/ca.crt")]
    assert profiles["skupper-service-client"] == {
        "name": "skupper-service-client", "caCertFile": f"{base}/skupper-service-client/ca.crt"}
    assert ["address", {"prefix": "mc", "distribution": "multicast"}] in pairs
    assert [a for t, a in pairs if t == "log"] == [{"module": "ROUTER_CORE", "enable": "debug+"},
                                                  {"module": "DEFAULT", "enable": "info+"}]


def test_site_config_without_logging_has_no_log_entities():
    pairs = json.loads(rc.site_config("s", SITE_ID))
    assert "log" not in [t for t, _ in pairs]


def test_site_config_is_go_marshal_indent_text(site_text):
    assert site_text.startswith('[\n    [\n        "router",\n        {\n            "id": ')
    assert not site_text.endswith("\n")
    assert site_text == json.dumps(json.loads(site_text), indent=4)


def test_every_site_entity_passes_the_router_schema(schema, site_text):
    validated = _assert_schema_valid(schema, site_text)
    router = validated[0][1]
    assert router["helloMaxAgeSeconds"] == 3  # the router reads the string "3" as an integer
    listeners = [a for t, a in validated if t == "io.skupper.router.listener"]
    assert all(a["port"].isdigit() for a in listeners)


def test_values_needing_escapes_stay_valid_json(schema):
    text = rc.site_config('odd "name" <&> é', SITE_ID)
    assert "\\u003c\\u0026\\u003e" in text and "é" in text
    assert json.loads(text)[0][1]["id"] == 'odd "name" <&> é'
    _assert_schema_valid(schema, text)


# -- the schema check catches mistakes -----------------------------------------------------------

def test_schema_check_catches_an_unknown_attribute(schema, site_text):
    pairs = json.loads(site_text)
    pairs[4][1]["routeContainer"] = True  # a 1.5 Go field the 2.5.3 router does not have
    with pytest.raises(SchemaError, match="Unknown attribute 'routeContainer'"):
        schema.validate_config(pairs)


def test_schema_check_catches_a_wrong_type(schema, site_text):
    pairs = json.loads(site_text)
    pairs[0][1]["helloMaxAgeSeconds"] = "three"
    with pytest.raises(SchemaError, match="helloMaxAgeSeconds"):
        schema.validate_config(pairs)
    pairs = json.loads(site_text)
    pairs[-1][1]["module"] = "AUTHSERVICE"
    with pytest.raises(SchemaError, match="'module'"):
        schema.validate_config(pairs)


# -- the model ---------------------------------------------------------------------------------

def test_parse_dumps_round_trip_is_exact(site_text):
    assert rc.RouterConfig.parse(site_text).dumps() == site_text


def test_parse_reorders_types_and_attributes_and_fixes_types():
    text = json.dumps([
        ["log", {"enable": "info+", "module": "DEFAULT"}],
        ["listener", {"port": "5672", "host": "localhost", "name": "amqp"}],
        ["connector", {"port": 55671, "host": "h", "name": "link1", "cost": 2}],
        ["router", {"metadata": "{}", "helloMaxAgeSeconds": 3, "id": "r"}],
        ["policy", {"maxConnections": 10}],
    ])
    config = rc.RouterConfig.parse(text)
    assert config.types() == ["router", "connector", "listener", "log", "policy"]
    out = json.loads(config.dumps())
    assert out[0] == ["router", {"id": "r", "helloMaxAgeSeconds": "3", "metadata": "{}"}]
    assert list(out[1][1]) == ["name", "host", "port", "cost"] and out[1][1]["port"] == "55671"
    assert out[2][1] == {"name": "amqp", "host": "localhost", "port": 5672}
    assert out[4] == ["policy", {"maxConnections": 10}]


def test_add_replaces_by_name_and_remove(site_text):
    config = rc.RouterConfig.parse(site_text)
    config.add("listener", {"name": "amqp", "host": "127.0.0.1", "port": 5672})
    names = [a["name"] for a in config.entities("listener")]
    assert names == ["@9090", "amqp", "amqps", "interior-listener", "edge-listener"]
    assert config.get("listener", "amqp")["host"] == "127.0.0.1"
    assert config.remove("listener", "amqp") is True
    assert config.remove("listener", "amqp") is False
    assert config.get("listener", "amqp") is None


def test_address_and_log_are_keyed_by_prefix_and_module(site_text):
    config = rc.RouterConfig.parse(site_text)
    config.add("address", {"prefix": "mc", "distribution": "closest"})
    config.add("log", {"module": "DEFAULT", "enable": "trace+"})
    assert config.entities("address") == [{"prefix": "mc", "distribution": "closest"}]
    assert config.get("log", "DEFAULT") == {"module": "DEFAULT", "enable": "trace+"}
    assert config.log_entries() == [LogEntry("ROUTER_CORE", "debug+"), LogEntry("DEFAULT", "trace+")]


def test_returned_attributes_are_copies(site_text):
    config = rc.RouterConfig.parse(site_text)
    config.get("listener", "amqp")["host"] = "changed"
    config.entities("listener")[0]["port"] = 1
    config.copy().remove("listener", "amqps")
    assert config.dumps() == site_text


def test_metadata_and_version_update(site_text):
    config = rc.RouterConfig.parse(site_text)
    assert config.metadata() == {"id": SITE_ID, "version": "1.5.5", "platform": "podman"}
    config.set_metadata(version="1.5.6")
    assert config.router()["metadata"] == '{"id":"%s","version":"1.5.6","platform":"podman"}' % SITE_ID
    assert config.router()["id"] == "host1-alice-3f2a1"


@pytest.mark.parametrize("text", ["not json", "{}", '[["router"]]', '[["router", []]]', "[[1, {}]]",
                                  '[["router", {"id": "x"}]', b"\xff\xfe", "[" * 100000])
def test_parse_rejects_malformed_files(text):
    with pytest.raises(DamagedState, match="damaged router config skrouterd.json: "):
        rc.RouterConfig.parse(text, "skrouterd.json")


def test_router_property_needs_a_router():
    with pytest.raises(DamagedState, match="no router entity"):
        rc.RouterConfig.parse("[]").router()


def test_profile_paths():
    assert rc.profile_paths("link1-profile") == {
        "certFile": "/etc/skupper-router-certs/link1-profile/tls.crt",
        "privateKeyFile": "/etc/skupper-router-certs/link1-profile/tls.key",
        "caCertFile": "/etc/skupper-router-certs/link1-profile/ca.crt"}
    assert rc.profile_paths("skupper-service-client", simple=True) == {
        "caCertFile": "/etc/skupper-router-certs/skupper-service-client/ca.crt"}


# -- links ---------------------------------------------------------------------------------------

def test_link_entities(schema, site_text):
    entities = rc.link_entities("link1", "host2.example.com", 55671, cost=3)
    assert entities == [
        ("sslProfile", rc.ssl_profile("link1-profile")),
        ("connector", {"name": "link1", "role": "inter-router", "host": "host2.example.com",
                       "port": "55671", "cost": 3, "verifyHostname": True,
                       "sslProfile": "link1-profile", "maxFrameSize": 16384, "maxSessionFrames": 640}),
    ]
    for entity_type, attrs in entities:  # created live via management too
        schema.validate_entity(entity_type, attrs, creating=True)
    config = rc.RouterConfig.parse(site_text)
    for entity_type, attrs in entities:
        config.add(entity_type, attrs)
    text = config.dumps()
    types = [t for t, _ in json.loads(text)]
    assert types.index("connector") > types.index("sslProfile") and types.index("connector") < types.index("listener")
    _assert_schema_valid(schema, text)


def test_edge_link_role():
    assert rc.link_entities("link2", "h", "45671", role="edge")[1][1]["role"] == "edge"


# -- service routers ---------------------------------------------------------------------------

def _service(protocol: str, **extra) -> rc.ServiceSpec:
    return rc.ServiceSpec(address="backend", ports=(8080, 9090), protocol=protocol,
                          targets=(rc.ServiceTarget("10.0.0.5", {8080: 80, 9090: 9090}),), **extra)


def test_tcp_service_config(schema):
    logging = [LogEntry("DEFAULT", "info+")]
    text = rc.service_config("host1-alice", SITE_ID, _service("tcp"), logging=logging)
    pairs = json.loads(text)
    assert [t for t, _ in pairs] == ["router", "sslProfile", "connector", "listener",
                                     "tcpConnector", "tcpConnector", "tcpListener", "tcpListener", "log"]
    router = pairs[0][1]
    assert router["id"] == "host1-alice-backend" and router["mode"] == "edge"
    assert router["helloMaxAgeSeconds"] == "3" and json.loads(router["metadata"])["id"] == SITE_ID
    assert pairs[1][1] == rc.ssl_profile("skupper-internal")
    assert pairs[2][1] == {"name": "uplink", "role": "edge", "host": "skupper-router", "port": "45671",
                           "sslProfile": "skupper-internal"}
    assert pairs[3][1] == {"name": "amqp", "host": "127.0.0.1", "port": 5672}
    assert pairs[4][1] == {"name": "backend@10.0.0.5:8080:80", "host": "10.0.0.5", "port": "80",
                           "address": "backend:8080", "siteId": f"{SITE_ID}-backend", "verifyHostname": False}
    assert pairs[6][1] == {"name": "backend:8080", "port": "8080", "address": "backend:8080", "siteId": SITE_ID}
    assert pairs[8][1] == {"module": "DEFAULT", "enable": "info+"}
    validated = _assert_schema_valid(schema, text)
    assert validated[6][1]["host"] == "0.0.0.0"  # router default for the listener


def test_http_service_config(schema):
    text = rc.service_config("s", SITE_ID, _service("http", aggregate="json"))
    pairs = json.loads(text)
    listeners = [a for t, a in pairs if t == "httpListener"]
    connectors = [a for t, a in pairs if t == "httpConnector"]
    assert listeners[0] == {"name": "backend:8080", "port": "8080", "address": "backend:8080",
                            "siteId": SITE_ID, "aggregation": "json"}
    assert "verifyHostname" not in connectors[0] and connectors[0]["aggregation"] == "json"
    _assert_schema_valid(schema, text)


def test_http2_tls_service_config(schema):
    spec = _service("http2", tls_profile="skupper-tls-backend")
    text = rc.service_config("s", SITE_ID, spec, uplink_host="ns1-skupper-router")
    pairs = json.loads(text)
    assert [a["name"] for t, a in pairs if t == "sslProfile"] == ["skupper-internal", "skupper-tls-backend"]
    assert [a["host"] for t, a in pairs if t == "connector"] == ["ns1-skupper-router"]
    listener = next(a for t, a in pairs if t == "httpListener")
    connector = next(a for t, a in pairs if t == "httpConnector")
    assert listener["protocolVersion"] == "HTTP2" and listener["sslProfile"] == "skupper-tls-backend"
    assert connector["protocolVersion"] == "HTTP2" and connector["verifyHostname"] is False
    assert connector["sslProfile"] == "skupper-tls-backend"
    _assert_schema_valid(schema, text)


def test_tcp_tls_and_event_channel_fields():
    spec = rc.ServiceSpec(address="a", ports=(1,), protocol="tcp", tls_profile="skupper-tls-a")
    (_, listener), = rc.service_listener_entities(spec, SITE_ID)
    assert listener["sslProfile"] == "skupper-tls-a"
    spec = rc.ServiceSpec(address="a", ports=(1,), protocol="http", event_channel=True)
    (entity_type, listener), = rc.service_listener_entities(spec, SITE_ID)
    assert entity_type == "httpListener" and listener["eventChannel"] is True


def test_service_connectors_for_a_bind_are_creatable(schema):
    target = rc.ServiceTarget("db.example.com", {5432: 15432})
    for protocol in rc.PROTOCOLS:
        entities = rc.service_connector_entities(_service(protocol), SITE_ID, target)
        assert [a["name"] for _, a in entities] == ["backend@db.example.com:5432:15432"]
        for entity_type, attrs in entities:
            schema.validate_entity(entity_type, attrs, creating=True)


def test_service_without_targets_has_only_listeners():
    spec = rc.ServiceSpec(address="web", ports=(80,))
    pairs = json.loads(rc.service_config("s", SITE_ID, spec))
    assert [t for t, _ in pairs] == ["router", "sslProfile", "connector", "listener", "tcpListener"]


def test_bad_service_protocol():
    with pytest.raises(InputError, match="udp is not a valid mapping. Choose 'tcp', 'http' or 'http2'."):
        rc.ServiceSpec(address="a", ports=(1,), protocol="udp")


# -- --router-logging ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec,expected", [
    ("info", [LogEntry("DEFAULT", "info+")]),
    ("trace+", [LogEntry("DEFAULT", "trace+")]),
    ("ROUTER_CORE:debug", [LogEntry("ROUTER_CORE", "debug+")]),
    ("ROUTER_CORE:debug,info", [LogEntry("ROUTER_CORE", "debug+"), LogEntry("DEFAULT", "info+")]),
    ("DEFAULT:notice,warning", [LogEntry("DEFAULT", "warning+")]),
    ("TCP_ADAPTOR:error:ignored", [LogEntry("TCP_ADAPTOR", "error+")]),
    ("", []),
    (None, []),
])
def test_parse_router_logging(spec, expected):
    assert parse_router_logging(spec) == expected


@pytest.mark.parametrize("spec,message", [
    ("NOPE:debug", "Bad value for --router-logging: Invalid logging module for router: NOPE"),
    ("router_core:debug", "Bad value for --router-logging: Invalid logging module for router: router_core"),
    ("AUTHSERVICE:info", "Bad value for --router-logging: Invalid logging module for router: AUTHSERVICE"),
    ("loud", "Bad value for --router-logging: Invalid logging level for router: loud"),
    ("ROUTER:INFO", "Bad value for --router-logging: Invalid logging level for router: INFO"),
    # SkupperError collapses runs of whitespace in its one-line message.
    ("info,", "Bad value for --router-logging: Invalid logging level for router:"),
    (" info", "Bad value for --router-logging: Invalid logging level for router: info"),
])
def test_parse_router_logging_errors(spec, message):
    with pytest.raises(InputError) as caught:
        parse_router_logging(spec)
    assert str(caught.value) == message


def test_logging_modules_and_levels_are_accepted_by_the_router(schema):
    for module in MODULES:
        schema.validate_entity("log", {"module": module, "enable": "info+"})
    assert set(LEVELS) >= {"trace", "critical+", "info+"}


def test_format_router_logging_round_trips():
    entries = parse_router_logging("ROUTER_CORE:debug,info")
    assert format_router_logging(entries) == "ROUTER_CORE:debug+,info+"
    assert parse_router_logging(format_router_logging(entries)) == entries
