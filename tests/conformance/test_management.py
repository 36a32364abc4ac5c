"""AMQP management against one router: QUERY/READ/CREATE/DELETE, status codes, records of
connections and nodes, live listener creation and the HTTP health endpoint."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

import configs
from mgmt_client import PREFIX, ManagementClient

METADATA = '{"id":"6b1f1c3e-0000-4000-8000-000000000001","version":"1.5.5","platform":"podman"}'


@pytest.fixture
def router(lab):
    entities = [
        configs.router("mgmt-router", metadata=METADATA),
        configs.amqp_listener(),
        configs.http_listener(9090),
        ["address", {"prefix": "mc", "distribution": "multicast"}],
        ["log", {"module": "DEFAULT", "enable": "info+"}],
    ]
    return lab.start_and_wait("mgmt", entities=entities, ports=(5672, 9090, 5673))


@pytest.fixture
def client(router):
    with router.management(container_id="conformance-client") as client:
        yield client


def test_read_router_record(client):
    reply = client.read("router", "router/mgmt-router")
    assert reply.status == 200
    assert reply.body["id"] == "mgmt-router"
    assert reply.body["mode"] == "interior"
    assert reply.body["metadata"] == METADATA
    assert reply.body["version"] == "2.5.3"
    assert reply.body["type"] == PREFIX + "router"


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
    assert client.query("listener", ["name", "noSuchAttribute"]).status == 404


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


def test_duplicate_name_is_a_bad_request(client):
    assert client.create("sslProfile", "dup", {"caCertFile": "/x"}).status == 201
    assert client.create("sslProfile", "dup", {"caCertFile": "/y"}).status == 400


def test_operations_the_type_does_not_allow_are_not_implemented(client):
    assert client.create("router", "another", {"id": "another"}).status == 501
    assert client.delete("router", "router/mgmt-router").status == 501
    assert client.request("FROBNICATE").status == 501


def test_read_of_another_type_is_a_bad_request(client):
    assert client.read("connector", "amqp").status == 400


def test_connection_records_describe_the_management_client(client):
    rows = client.rows("connection", ["container", "host", "role", "dir", "opened", "isEncrypted",
                                      "isAuthenticated", "operStatus"])
    mine = [row for row in rows if row["container"] == "conformance-client"]
    assert len(mine) == 1
    row = mine[0]
    assert row["role"] == "normal" and row["dir"] == "in" and row["opened"] is True
    assert row["isEncrypted"] is False and row["operStatus"] == "up"
    host, port = row["host"].rsplit(":", 1)
    assert socket.inet_aton(host) and port.isdigit()


def test_router_node_lists_itself(client):
    rows = client.rows("router.node", ["id", "nextHop", "address"])
    assert {"id": "mgmt-router", "nextHop": "(self)", "address": "amqp:/_topo/0/mgmt-router"} in rows


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
