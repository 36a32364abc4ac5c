"""The router-double schema validator against facts of the real skupper-router 2.5.3 schema."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "skupper_podman" / "router" / "schema" / "skrouter-2.5.3.json"
sys.path.insert(0, str(REPO / "tests" / "router_double"))

from skrouterd_double.schema import Schema, SchemaError  # noqa: E402


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(str(SCHEMA_FILE))


def test_full_type_accepts_short_and_full_names(schema):
    assert schema.full_type("listener") == "io.skupper.router.listener"
    assert schema.full_type("io.skupper.router.tcpConnector") == "io.skupper.router.tcpConnector"
    assert schema.full_type("router.config.address") == "io.skupper.router.router.config.address"


@pytest.mark.parametrize("name", ["nosuch", "io.skupper.router.nosuch", "", "address"])
def test_full_type_rejects_unknown_types(schema, name):
    # "address" is only a config-file alias; management requests must use the full type.
    with pytest.raises(SchemaError, match="No such entity type"):
        schema.full_type(name)


def test_attribute_names_include_inherited_entity_attributes(schema):
    names = schema.attribute_names("tcpListener")
    assert names[:4] == ["address", "host", "backlog", "port"]
    assert names[-3:] == ["name", "identity", "type"]
    assert "operStatus" in names


def test_operations_are_inherited(schema):
    assert schema.operations("listener") == ["CREATE", "DELETE", "READ"]
    assert schema.operations("log") == ["UPDATE", "READ"]
    assert schema.operations("router") == ["READ"]
    management_ops = schema.operations("management")
    assert {"QUERY", "GET-TYPES", "GET-SCHEMA", "GET-MGMT-NODES"} <= set(management_ops)


def test_is_a_follows_extends(schema):
    assert schema.is_a("listener", "configurationEntity")
    assert schema.is_a("connection", "operationalEntity")
    assert schema.is_a("management", "org.amqp.management")
    assert not schema.is_a("connection", "configurationEntity")


def test_tcp_listener_port_is_a_string_and_defaults_apply(schema):
    result = schema.validate_entity("tcpListener", {"name": "backend:8080", "port": 8080,
                                                    "address": "backend:8080"})
    assert result["port"] == "8080"
    assert result["host"] == "0.0.0.0"
    assert result["backlog"] == 0
    assert result["authenticatePeer"] is False
    assert result["encapsulation"] == "legacy"
    assert result["type"] == "io.skupper.router.tcpListener"


def test_listener_port_string_and_connector_defaults(schema):
    assert schema.validate_entity("listener", {"port": 55671})["port"] == "55671"
    connector = schema.validate_entity("connector", {"name": "link1", "host": "h", "port": "55671"})
    assert connector["verifyHostname"] is True
    assert connector["cost"] == 1
    assert connector["role"] == "normal"


def test_router_hello_max_age_digit_string_becomes_integer(schema):
    result = schema.validate_entity("router", {"id": "site", "helloMaxAgeSeconds": "3"})
    assert result["helloMaxAgeSeconds"] == 3
    assert result["mode"] == "standalone"
    # The schema's default for area is the integer 0 on a string attribute.
    assert result["area"] == "0"


@pytest.mark.parametrize("text,expected", [("yes", True), ("On", True), ("TRUE", True),
                                           ("no", False), ("off", False), ("False", False),
                                           (True, True), (False, False)])
def test_boolean_words(schema, text, expected):
    assert schema.validate_entity("listener", {"authenticatePeer": text})["authenticatePeer"] is expected


@pytest.mark.parametrize("value", ["maybe", 1, "1", [True]])
def test_boolean_rejects_other_values(schema, value):
    with pytest.raises(SchemaError) as caught:
        schema.validate_entity("listener", {"authenticatePeer": value})
    assert caught.value.attribute == "authenticatePeer"
    assert "io.skupper.router.listener" in str(caught.value)


@pytest.mark.parametrize("value", ["abc", "3.5", 3.5, True, [], {}])
def test_integer_rejects_non_integers(schema, value):
    with pytest.raises(SchemaError) as caught:
        schema.validate_entity("listener", {"maxFrameSize": value})
    assert caught.value.attribute == "maxFrameSize"


def test_invalid_values_are_worded_like_the_real_router(schema):
    # the messages skupper-router 2.5.3 prints (observed), which do not name the attribute
    with pytest.raises(SchemaError, match=r"invalid literal for int\(\) with base 10: 'cheap'"):
        schema.validate_entity("connector", {"cost": "cheap"})
    with pytest.raises(SchemaError, match=r"Invalid value for enum\['normal', 'inter-router', "
                                          r"'route-container', 'edge', 'inter-edge'\]: 'sideways'"):
        schema.validate_entity("listener", {"role": "sideways"})
    with pytest.raises(SchemaError, match="Invalid Boolean value ''maybe''"):
        schema.validate_entity("listener", {"authenticatePeer": "maybe"})


def test_integer_accepts_signed_digit_strings(schema):
    assert schema.validate_entity("listener", {"maxFrameSize": " 16384 "})["maxFrameSize"] == 16384
    assert schema.validate_entity("listener", {"cost": "-1"})["cost"] == -1


def test_string_rejects_containers_and_stringifies_scalars(schema):
    assert schema.validate_entity("tcpConnector", {"host": "h", "port": 9, "address": "a"})["port"] == "9"
    with pytest.raises(SchemaError, match="'host'"):
        schema.validate_entity("tcpConnector", {"host": ["h"], "port": "9", "address": "a"})


def test_unknown_attribute_fails_naming_type_and_attribute(schema):
    with pytest.raises(SchemaError) as caught:
        schema.validate_entity("tcpListener", {"port": "1", "proxyProfile": "x"})
    assert "Unknown attribute 'proxyProfile'" in str(caught.value)
    assert caught.value.entity_type == "io.skupper.router.tcpListener"


def test_bad_role_enum_fails(schema):
    with pytest.raises(SchemaError, match="'boss'") as caught:
        schema.validate_entity("listener", {"role": "boss"})
    assert caught.value.attribute == "role"


def test_enum_accepts_tags_and_indexes_like_the_router(schema):
    assert schema.validate_entity("listener", {"role": "inter-router"})["role"] == "inter-router"
    assert schema.validate_entity("listener", {"role": 4})["role"] == "inter-edge"
    with pytest.raises(SchemaError):
        schema.validate_entity("listener", {"role": 5})


def test_missing_required_attribute_fails(schema):
    with pytest.raises(SchemaError, match="Missing required attribute 'module'") as caught:
        schema.validate_entity("log", {"enable": "info+"})
    assert caught.value.entity_type == "io.skupper.router.log"


def test_none_values_count_as_absent(schema):
    result = schema.validate_entity("connector", {"host": None, "sslProfile": None})
    assert result["host"] == "127.0.0.1"
    assert "sslProfile" not in result


def test_map_list_and_properties_types(schema):
    assert schema.validate_entity("vhost", {"hostname": "h", "groups": {"g": {}}})["groups"] == {"g": {}}
    with pytest.raises(SchemaError, match="'groups'"):
        schema.validate_entity("vhost", {"hostname": "h", "groups": [1]})
    with pytest.raises(SchemaError, match="'openProperties'"):
        schema.validate_entity("listener", {"openProperties": {"clé": 1}})
    assert schema.validate_entity("router.link", {"ingressHistogram": (1, 2)})["ingressHistogram"] == [1, 2]


def test_deprecated_name_is_moved_and_conflicts_fail(schema):
    moved = schema.validate_entity("httpConnector", {"port": "80", "address": "a", "verifyHostName": "no"})
    assert moved["verifyHostname"] is False and "verifyHostName" not in moved
    with pytest.raises(SchemaError, match="Both"):
        schema.validate_entity("httpConnector", {"verifyHostName": "no", "verifyHostname": True})


def test_creating_rejects_read_only_attributes(schema):
    with pytest.raises(SchemaError, match="Cannot set attribute 'connectionStatus' in CREATE"):
        schema.validate_entity("connector", {"name": "c", "connectionStatus": "UP"}, creating=True)
    # Reading back (not creating) may carry read-only attributes.
    assert schema.validate_entity("connector", {"connectionStatus": "UP"})["connectionStatus"] == "UP"
    assert schema.validate_entity("connector", {"name": "c", "identity": "1"}, creating=True)["name"] == "c"


def test_type_attribute_must_match(schema):
    assert schema.validate_entity("listener", {"type": "listener"})["type"] == "io.skupper.router.listener"
    with pytest.raises(SchemaError, match="'type'"):
        schema.validate_entity("listener", {"type": "connector"})


def test_validate_entity_does_not_modify_its_input(schema):
    attrs = {"port": 1, "role": "edge"}
    schema.validate_entity("listener", attrs)
    assert attrs == {"port": 1, "role": "edge"}


def test_validate_config_normalises_a_file(schema):
    config = [
        ["router", {"id": "s", "mode": "interior"}],
        ["listener", {"name": "amqp", "host": "localhost", "port": 5672}],
        ["address", {"prefix": "mc", "distribution": "multicast"}],
        ["log", {"module": "DEFAULT", "enable": "info+"}],
        ["tcp-listener", {"name": "b", "port": "9", "address": "b", "site-id": "x"}],
    ]
    result = schema.validate_config(config)
    assert [t for t, _ in result] == [
        "io.skupper.router.router", "io.skupper.router.listener",
        "io.skupper.router.router.config.address", "io.skupper.router.log",
        "io.skupper.router.tcpListener"]
    assert result[1][1]["port"] == "5672"
    assert result[4][1]["siteId"] == "x"


def test_validate_config_accepts_a_file_without_router(schema):
    # the real 2.5.3 then runs a standalone router with a made-up id
    assert [t for t, _ in schema.validate_config([["listener", {"name": "a"}]])] == [
        "io.skupper.router.listener"]


@pytest.mark.parametrize("config,message", [
    ([["router", {"id": "a"}], ["router", {"id": "b"}]], "Adding io.skupper.router.router singleton"),
    ([["router", {}], ["listener", {"name": "x"}], ["connector", {"name": "x"}]], "duplicates"),
    ([["router", {}], ["listener"]], "not a \\[type, attributes\\] pair"),
    ({"router": {}}, "must be a list"),
    ([["router", {}], ["bogus", {}]], "No such entity type"),
    ([["router", {"mode": "boss"}]], "Invalid value for enum.*'boss'"),
])
def test_validate_config_rejects_bad_files(schema, config, message):
    with pytest.raises(SchemaError, match=message):
        schema.validate_config(config)
