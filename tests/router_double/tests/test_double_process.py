"""The double as a host process: management leniencies and behaviour not visible from the
conformance suite."""

from __future__ import annotations

import urllib.request

from mgmt_client import PREFIX, ManagementClient


def test_query_takes_the_type_property_only_for_core_agent_types(host_router, free_port):
    # As on the real 2.5.3: the C core agent reads the entity type from "type" when
    # "entityType" is absent; the Python agent then wants a name or identity.
    port = free_port()
    router = host_router([["router", {"id": "h1"}], ["listener", {"host": "127.0.0.1", "port": port}]])
    router.wait_port(port)
    with ManagementClient("amqp://127.0.0.1:%d" % port) as client:
        reply = client.request("QUERY", type=PREFIX + "router", body={"attributeNames": ["id"]})
        assert (reply.status, reply.body["results"]) == (200, [["h1"]])
        reply = client.request("QUERY", type=PREFIX + "listener", body={"attributeNames": ["name"]})
        assert reply.status == 400 and "No name or identity provided" in reply.description
        reply = client.request("QUERY", type="org.amqp.management", name="self", body={"attributeNames": ["type"]})
        assert reply.status == 200
        assert [PREFIX + "listener"] in reply.body["results"]


def test_management_node_operations(host_router, free_port):
    port = free_port()
    router = host_router([["router", {"id": "h2", "mode": "interior"}],
                          ["listener", {"host": "127.0.0.1", "port": port}]])
    router.wait_port(port)
    with ManagementClient("amqp://127.0.0.1:%d" % port) as client:
        types = client.request("GET-TYPES")
        assert types.status == 200 and PREFIX + "listener" in types.body
        ops = client.request("GET-OPERATIONS", entityType=PREFIX + "sslProfile")
        assert ops.body == {PREFIX + "sslProfile": ["CREATE", "DELETE", "READ"]}
        attrs = client.request("GET-ATTRIBUTES", entityType=PREFIX + "router.node")
        assert "nextHop" in attrs.body[PREFIX + "router.node"]
        assert client.request("GET-MGMT-NODES").body == ["amqp:/_topo/0/h2/$management"]


def test_metrics_and_unknown_paths_on_the_http_listener(host_router, free_port):
    amqp, http = free_port(), free_port()
    router = host_router([["router", {"id": "h3"}], ["listener", {"host": "127.0.0.1", "port": amqp}],
                          ["listener", {"name": "@http", "host": "127.0.0.1", "port": http, "http": True}]])
    router.wait_port(http)
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5) as response:
        assert b"qdr_connections_total" in response.read()
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/nothing" % http, timeout=5)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


def test_sigterm_ends_the_process_with_code_0(host_router, free_port):
    port = free_port()
    router = host_router([["router", {"id": "h4"}], ["listener", {"host": "127.0.0.1", "port": port}]])
    router.wait_port(port)
    output = router.stop()
    assert router.process.returncode == 0
    assert "Operational" in output


def test_adaptor_naming_an_unknown_ssl_profile_stops_the_router(host_router, free_port):
    router = host_router([["router", {"id": "h5"}],
                          ["tcpListener", {"port": free_port(), "address": "a", "sslProfile": "missing"}]])
    assert router.process.wait(10) != 0
    output = router.process.stdout.read()
    assert "failed to find sslProfile 'missing'" in output
    assert "Router start-up failed: Python: ValidationError: Invalid tcpListener configuration" in output
