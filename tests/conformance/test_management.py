"""AMQP management against one router: QUERY/READ/CREATE/DELETE, status codes, records of
connections and nodes, live listener creation and the HTTP health endpoint."""

from __future__ import annotations

import socket
import time
import urllib.request
import uuid

import pytest
from proton import Timeout, ulong

import configs
from mgmt_client import PREFIX, ManagementClient

METADATA = '{"id":"6b1f1c3e-0000-4000-8000-000000000001","version":"1.5.5","platform":"podman"}'


# Types whose entities a test may create: the client fixture deletes them afterwards, so the
# tests of this module share one router (per image).
CREATED_TYPES = ("sslProfile", "listener", "connector", "tcpListener", "tcpConnector",
                 "router.config.address")


@pytest.fixture(scope="module")
def router(module_lab):
    entities = [
        configs.router("mgmt-router", metadata=METADATA),
        configs.amqp_listener(),
        configs.http_listener(9090),
        ["address", {"prefix": "mc", "distribution": "multicast"}],
        ["log", {"module": "DEFAULT", "enable": "info+"}],
    ]
    return module_lab.start_and_wait("mgmt", entities=entities, ports=(5672, 9090, 5673))


def _names(client, entity_type: str) -> set[str]:
    return {row["name"] for row in client.rows(entity_type, ["name"])}


@pytest.fixture
def client(router):
    with router.management(container_id="conformance-client") as client:
        before = {t: _names(client, t) for t in CREATED_TYPES}
        yield client
        for entity_type in CREATED_TYPES:
            for name in _names(client, entity_type) - before[entity_type]:
                assert client.delete(entity_type, name).status == 204


def test_router_record_comes_from_query_and_read_is_forbidden(client):
    # The C core agent owns "router": QUERY only, the record named by the router id.
    (row,) = client.rows("router")
    assert row["name"] == row["id"] == "mgmt-router"
    assert row["identity"] == "1"
    assert row["mode"] == "interior"
    assert row["metadata"] == METADATA
    assert row["version"] == "2.5.3"
    assert row["type"] == PREFIX + "router"
    reply = client.read("router", "mgmt-router")
    assert (reply.status, reply.description) == (403, "Forbidden")


def test_query_returns_all_attributes_when_none_are_named(client):
    reply = client.query("listener")
    assert reply.status == 200
    assert {"name", "identity", "type", "host", "port", "role", "http"} <= set(reply.body["attributeNames"])
    rows = {row["name"]: row for row in reply.rows()}
    assert set(rows) == {"amqp", "@9090"}
    assert rows["@9090"]["http"] is True
    assert rows["amqp"]["type"] == PREFIX + "listener"
    assert all(row["identity"] for row in rows.values())


def test_query_with_named_attributes(client):
    reply = client.request("QUERY", entityType=PREFIX + "router.config.address", body={"attributeNames": ["prefix", "distribution"]})
    assert reply.status == 200
    assert reply.body == {"attributeNames": ["prefix", "distribution"], "results": [["mc", "multicast"]]}


def test_query_of_an_unknown_attribute_is_not_found(client):
    # Python agent types (listener): 404
    reply = client.query("listener", ["name", "noSuchAttribute"])
    assert reply.status == 404
    assert reply.description == "Unknown attributes ['noSuchAttribute'] for type io.skupper.router.listener."


def test_core_agent_query_answers_name_for_an_unknown_attribute(client):
    reply = client.query("router", ["id", "noSuchAttribute", "mode"])
    assert reply.status == 200
    assert reply.body == {"attributeNames": ["id", "name", "mode"],
                          "results": [["mgmt-router", "mgmt-router", "interior"]]}


def test_only_the_core_agent_pages_queries(client):
    def query(entity_type, **paging):
        reply = client.request("QUERY", entityType=PREFIX + entity_type, body={"attributeNames": ["identity"]},
                               **paging)
        assert reply.status == 200
        return reply.body["results"]

    logs = query("log")
    assert len(logs) > 3
    assert query("log", offset=1, count=2) == logs  # the Python agent ignores offset and count
    connections = query("connection")
    assert query("connection", offset=0, count=1) == connections[:1]
    assert query("connection", offset=len(connections), count=5) == []
    assert query("connection", count=0) == connections


def test_query_with_the_type_in_type_only_works_for_core_agent_types(client):
    reply = client.request("QUERY", type=PREFIX + "router", body={"attributeNames": ["id"]})
    assert (reply.status, reply.body["results"]) == (200, [["mgmt-router"]])
    reply = client.request("QUERY", type=PREFIX + "listener", body={"attributeNames": ["name"]})
    assert (reply.status, reply.description) == (400, PREFIX + "listener: No name or identity provided")


def test_create_read_delete_ssl_profile(client):
    attrs = {"certFile": "/etc/x/tls.crt", "privateKeyFile": "/etc/x/tls.key", "caCertFile": "/etc/x/ca.crt"}
    created = client.create("sslProfile", "link1-profile", attrs)
    assert created.status == 201, created.description
    assert created.body["name"] == "link1-profile"
    assert created.body["caCertFile"] == "/etc/x/ca.crt"
    assert created.body["type"] == PREFIX + "sslProfile"
    read = client.read("sslProfile", "link1-profile")
    assert read.status == 200 and read.body["identity"] == created.body["identity"]
    assert client.request("READ", type=PREFIX + "sslProfile", identity=created.body["identity"]).status == 200
    assert client.delete("sslProfile", "link1-profile").status == 204
    assert client.read("sslProfile", "link1-profile").status == 404
    assert client.delete("sslProfile", "link1-profile").status == 404


def test_create_coerces_values_like_skmanage_sends_them(client):
    reply = client.create("tcpConnector", "backend@10.0.0.5:8080:8080",
                          {"host": "10.0.0.5", "port": 8080, "address": "backend:8080",
                           "siteId": "site-1", "verifyHostname": "false"})
    assert reply.status == 201, reply.description
    assert reply.body["port"] == "8080"
    assert reply.body["verifyHostname"] is False
    (row,) = client.rows("tcpConnector", ["name", "address", "port", "host"])
    assert row == {"name": "backend@10.0.0.5:8080:8080", "address": "backend:8080", "port": "8080",
                   "host": "10.0.0.5"}
    assert client.delete("tcpConnector", "backend@10.0.0.5:8080:8080").status == 204
    assert client.rows("tcpConnector", ["name"]) == []


def test_tcp_listener_is_stored_with_defaults(client):
    reply = client.create("tcpListener", "echo:9000", {"port": "9000", "address": "echo:9000", "siteId": "s"})
    assert reply.status == 201, reply.description
    (row,) = client.rows("tcpListener", ["name", "host", "port", "address", "operStatus"])
    assert row["host"] == "0.0.0.0" and row["port"] == "9000" and row["address"] == "echo:9000"
    # No connector for the address anywhere in the network: the real router keeps it down.
    assert row["operStatus"] == "down"


def test_tcp_listener_needs_an_address_and_an_existing_ssl_profile(client):
    reply = client.create("tcpListener", "noaddress", {"port": "9001"})
    assert (reply.status, reply.description) == (500, "CError: Python: KeyError: ('address',)")
    reply = client.create("tcpListener", "noprofile", {"port": "9002", "address": "a", "sslProfile": "nope"})
    assert (reply.status, reply.description) == (400, "Invalid tcpListener configuration: see logs for details.")
    assert client.rows("tcpListener", ["name"]) == []


def test_listener_and_connector_may_name_a_missing_ssl_profile(client):
    # Only their connections fail (see test_tls); the entities are created.
    reply = client.create("listener", "noprofile", {"port": "5999", "sslProfile": "nope"})
    assert reply.status == 201, reply.description
    reply = client.create("connector", "noprofile-c", {"host": "127.0.0.1", "port": "5998", "sslProfile": "nope"})
    assert reply.status == 201, reply.description
    assert client.rows("connector", ["name", "sslProfile"]) == [{"name": "noprofile-c", "sslProfile": "nope"}]


@pytest.mark.parametrize("entity_type, attributes", [
    ("connector", {"host": "x", "port": "1", "role": "sideways"}),
    ("connector", {"host": "x", "port": "1", "noSuchAttribute": 1}),
    ("listener", {"port": "not-a-port-number-or-service", "cost": "cheap"}),
    ("noSuchType", {}),
    ("connector", {"host": "x", "port": "1", "connectionStatus": "SUCCESS"}),
], ids=["bad-enum", "unknown-attribute", "bad-integer", "unknown-type", "read-only-attribute"])
def test_invalid_create_is_a_bad_request(client, entity_type, attributes):
    reply = client.create(entity_type, "bad", attributes)
    assert reply.status == 400, reply
    assert client.rows("connector", ["name"]) == []


def test_identity_cannot_be_given_in_create(client):
    reply = client.create("sslProfile", "p", {"caCertFile": "/x", "identity": "sslProfile/p"})
    assert (reply.status, reply.description) == (400, "Cannot set attribute 'identity' in CREATE")


def test_duplicate_name_is_a_bad_request(client):
    assert client.create("sslProfile", "dup", {"caCertFile": "/x"}).status == 201
    reply = client.create("sslProfile", "dup", {"caCertFile": "/y"})
    assert reply.status == 400 and "duplicates unique attribute 'name'" in reply.description
    reply = client.create("router.config.address", "a1", {"prefix": "p1", "distribution": "closest"})
    assert reply.status == 201 and reply.body["identity"].isdigit()
    reply = client.create("router.config.address", "a1", {"prefix": "p2", "distribution": "closest"})
    assert (reply.status, reply.description) == (400, "Name conflicts with an existing entity")


def test_operations_the_type_does_not_allow(client):
    # The core agent forbids changing the router; the Python agent lists what a type allows.
    assert client.create("router", "another", {"id": "another"}).status == 403
    assert client.delete("router", "mgmt-router").status == 403
    reply = client.request("UPDATE", type=PREFIX + "listener", name="amqp", body={})
    assert (reply.status, reply.description) == (
        501, "Operation 'UPDATE' not implemented for 'io.skupper.router.listener' ['CREATE', 'DELETE', 'READ']")
    reply = client.request("FROBNICATE")
    assert reply.status == 501
    assert reply.description.startswith("Operation 'FROBNICATE' not implemented for 'io.skupper.router.management'")


def test_some_core_agent_requests_get_no_reply(router):
    with router.management(timeout=1.5) as client:
        for operation, properties in (("UPDATE", {"type": PREFIX + "router", "name": "mgmt-router"}),
                                      ("CREATE", {"type": PREFIX + "connection", "name": "c"})):
            with pytest.raises(Timeout):
                client.request(operation, body={}, **properties)


def test_replies_are_pre_settled(client):
    replies = [client.query("router", ["id"]), client.query("listener", ["name"]),
               client.read("sslProfile", "nothing"), client.read("router", "mgmt-router"),
               client.request("GET-MGMT-NODES")]
    assert [r.status for r in replies] == [200, 200, 404, 403, 200]
    assert all(r.presettled for r in replies)


# (binary ids are echoed too, but python-qpid-proton hands them over as a memoryview of a
# buffer it has already freed, so their value cannot be checked from here)
CORRELATION_IDS = {"int": 7, "ulong": ulong(8), "uuid": uuid.UUID(int=9), "string": "cid-10"}
CORE_TYPES = ("router", "connection", "router.link", "router.address", "router.config.address",
              "router.config.autoLink", "tcpConnection", "httpRequestInfo")
PYTHON_TYPES = ("router.node", "listener", "sslProfile", "log", "management")


def test_correlation_ids_survive_by_agent_and_kind(client):
    """The C core agent (router, connection, router.link, router.address, router.config.*,
    tcpConnection, httpRequestInfo) echoes every correlation id; the Python agent (everything else, GET-* included) keeps
    string ones and answers None for numbers and uuids."""
    seen = {}
    for kind, correlation_id in CORRELATION_IDS.items():
        for entity_type in CORE_TYPES + PYTHON_TYPES:
            reply = client.exchange("QUERY", correlation_id=correlation_id, entityType=PREFIX + entity_type,
                                    body={"attributeNames": ["identity"]})
            assert reply.status == 200, (entity_type, reply)
            seen[kind, entity_type] = reply.correlation_id
        seen[kind, "GET-MGMT-NODES"] = client.exchange("GET-MGMT-NODES", correlation_id=correlation_id).correlation_id
    expected = {}
    for kind, correlation_id in CORRELATION_IDS.items():
        for what in CORE_TYPES + PYTHON_TYPES + ("GET-MGMT-NODES",):
            kept = what in CORE_TYPES or kind == "string"
            expected[kind, what] = correlation_id if kept else None
    assert seen == expected


def test_connection_records_describe_the_management_client(client):
    rows = client.rows("connection", ["container", "host", "role", "dir", "opened", "isEncrypted",
                                      "isAuthenticated", "operStatus", "sasl", "user", "protocol",
                                      "identity", "name"])
    mine = [row for row in rows if row["container"] == "conformance-client"]
    assert len(mine) == 1
    row = mine[0]
    assert row["role"] == "normal" and row["dir"] == "in" and row["opened"] is True
    assert row["isEncrypted"] is False and row["operStatus"] == "up" and row["protocol"] == "amqp"
    # ANONYMOUS counts as authenticated
    assert (row["sasl"], row["user"], row["isAuthenticated"]) == ("ANONYMOUS", "anonymous", True)
    assert row["identity"].isdigit() and row["name"] == "connection/" + row["host"]
    host, port = row["host"].rsplit(":", 1)
    assert socket.inet_aton(host) and port.isdigit()


def test_router_node_lists_itself(client):
    rows = client.rows("router.node", ["id", "nextHop", "address", "cost", "routerLink"])
    assert rows == [{"id": "mgmt-router", "nextHop": "(self)", "address": "amqp:/_topo/0/mgmt-router",
                     "cost": None, "routerLink": None}]


def test_management_nodes_include_this_router(client):
    reply = client.request("GET-MGMT-NODES")
    assert (reply.status, reply.body) == (200, ["amqp:/_topo/0/mgmt-router/$management"])


def test_own_topological_management_address_reaches_the_agent(client):
    reply = client.request("QUERY", agent="amqp:/_topo/0/mgmt-router/$management", via_anonymous=True,
                           entityType=PREFIX + "router", body={"attributeNames": ["id"]})
    assert reply.status == 200 and reply.body["results"] == [["mgmt-router"]]


def test_healthz_answers_on_the_http_listener(router):
    with urllib.request.urlopen(f"http://127.0.0.1:{router.ports[9090]}/healthz", timeout=5) as response:
        assert response.status == 200


def _connect_management(router, port):
    with ManagementClient(router.url(port), timeout=3) as other:
        return other.rows("router", ["id"])


def test_live_create_of_a_listener_listens_at_once_and_delete_stops_it(router, client):
    reply = client.create("listener", "extra", {"host": "0.0.0.0", "port": 5673})
    assert reply.status == 201, reply.description
    deadline = time.monotonic() + 5
    while True:
        try:
            assert _connect_management(router, 5673) == [{"id": "mgmt-router"}]
            break
        except AssertionError:
            raise
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert client.delete("listener", "extra").status == 204
    with pytest.raises(Exception):
        _connect_management(router, 5673)
