"""Router networks: mutual-TLS links between routers, connector status, topology
(router.node), remote management agents, edges, and forgetting a lost router."""

from __future__ import annotations

import time
from typing import Any, Callable

import configs
from mgmt_client import PREFIX

INTERIOR_PORT, EDGE_PORT = 55671, 45671


def eventually(check: Callable[[], Any], timeout: float = 15, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with its last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except Exception as exc:  # e.g. management not answering yet
            result = exc
        if result and not isinstance(result, Exception):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {result!r}")
        time.sleep(interval)


def listening_router(lab, site_ca, name: str, mode: str = "interior", sans: tuple[str, ...] = ()):
    """An interior router with Skupper's inter-router and edge listeners (mTLS)."""
    site_ca.issue(lab.config_dir(name) / "skupper-internal", "skupper-router", ("skupper-router", name, *sans))
    entities = [configs.router(name, mode), configs.amqp_listener(),
                configs.ssl_profile("skupper-internal")]
    if mode == "interior":
        entities += [configs.mtls_listener("interior-listener", INTERIOR_PORT, "skupper-internal", "inter-router"),
                     configs.mtls_listener("edge-listener", EDGE_PORT, "skupper-internal", "edge")]
    return entities


def dialling_router(lab, ca, name: str, peer: str, mode: str = "interior", port: int = INTERIOR_PORT,
                    listen: bool = False, site_ca=None, **connector_attrs):
    """A router whose config has a link (sslProfile + connector) to ``peer``, like `link create`."""
    role = "inter-router" if mode == "interior" else "edge"
    entities = (listening_router(lab, site_ca, name, mode) if listen else
                [configs.router(name, mode), configs.amqp_listener()])
    ca.issue(lab.config_dir(name) / "link1-profile", peer)
    entities += [configs.ssl_profile("link1-profile"),
                 configs.connector("link1", peer, port, "link1-profile", role=role, **connector_attrs)]
    return entities


def node_ids(router) -> set[str]:
    with router.management() as client:
        return {row["id"] for row in client.rows("router.node", ["id"])}


def connector_state(router, name: str = "link1") -> dict[str, Any]:
    with router.management() as client:
        rows = client.rows("connector", ["name", "connectionStatus", "connectionMsg"])
    return next(row for row in rows if row["name"] == name)


def test_mtls_link_between_two_interiors(lab, site_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    eventually(lambda: connector_state(b)["connectionStatus"] == "SUCCESS")
    state = connector_state(b)
    assert "Connection Opened" in state["connectionMsg"] and "TLSv1" in state["connectionMsg"]
    eventually(lambda: node_ids(a) == {"site-a", "site-b"} and node_ids(b) == {"site-a", "site-b"})

    with a.management() as client:
        rows = client.rows("connection", ["container", "role", "dir", "isEncrypted", "isAuthenticated", "host"])
        (link,) = [r for r in rows if r["role"] == "inter-router"]
        assert link["container"] == "site-b" and link["dir"] == "in"
        assert link["isEncrypted"] is True and link["isAuthenticated"] is True
        assert link["host"].startswith(lab.ip("site-b") + ":")
        nodes = {r["id"]: r for r in client.rows("router.node", ["id", "nextHop", "cost", "address"])}
        assert nodes["site-a"]["nextHop"] == "(self)"
        assert nodes["site-b"]["cost"] == 1
        assert nodes["site-b"]["address"] == "amqp:/_topo/0/site-b"
    with b.management() as client:
        rows = client.rows("connection", ["container", "role", "dir", "host"])
        (link,) = [r for r in rows if r["role"] == "inter-router"]
        assert link == {"container": "site-a", "role": "inter-router", "dir": "out",
                        "host": f"site-a:{INTERIOR_PORT}"}


def test_remote_management_agents_across_a_link(lab, site_ca):
    lab.ip("site-b")
    lab.ip("edge-e")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    e = lab.start_and_wait("edge-e", entities=dialling_router(lab, site_ca, "edge-e", "site-a", mode="edge",
                                                              port=EDGE_PORT))
    eventually(lambda: node_ids(a) == {"site-a", "site-b"})
    eventually(lambda: connector_state(e)["connectionStatus"] == "SUCCESS")

    def remote_router_id(client, agent):
        reply = client.request("QUERY", agent=agent, via_anonymous=True, entityType=PREFIX + "router",
                               body={"attributeNames": ["id", "mode"]})
        assert reply.status == 200, reply
        return reply.body["results"]

    with b.management() as client:
        assert eventually(lambda: remote_router_id(client, "amqp:/_topo/0/site-a/$management")) == [["site-a", "interior"]]
        assert eventually(lambda: remote_router_id(client, "amqp:/_edge/edge-e/$management")) == [["edge-e", "edge"]]
    with e.management() as client:
        assert remote_router_id(client, "amqp:/_topo/0/site-b/$management") == [["site-b", "interior"]]
    with a.management() as client:
        edges = [r for r in client.rows("connection", ["container", "role", "dir"]) if r["role"] == "edge"]
        assert edges == [{"container": "edge-e", "role": "edge", "dir": "in"}]
        # edges are not routers of the interior network
        assert {r["id"] for r in client.rows("router.node", ["id"])} == {"site-a", "site-b"}


def test_router_node_cost_is_the_sum_of_link_costs(lab, site_ca):
    lab.ip("site-b")
    lab.ip("site-c")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b_entities = dialling_router(lab, site_ca, "site-b", "site-a", listen=True, site_ca=site_ca, cost=2)
    lab.start_and_wait("site-b", entities=b_entities)
    lab.start_and_wait("site-c", entities=dialling_router(lab, site_ca, "site-c", "site-b", cost=3))

    def nodes():
        with a.management() as client:
            rows = {r["id"]: r for r in client.rows("router.node", ["id", "nextHop", "cost"])}
        return rows if set(rows) == {"site-a", "site-b", "site-c"} else None

    rows = eventually(nodes)
    assert rows["site-b"]["cost"] == 2
    assert rows["site-c"]["cost"] == 5 and rows["site-c"]["nextHop"] == "site-b"


def test_client_certificate_from_another_ca_keeps_the_connector_connecting(lab, site_ca, other_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    # B's link certificate and CA come from a CA that A does not trust (and B does not trust A).
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, other_ca, "site-b", "site-a"))
    state = eventually(lambda: (s := connector_state(b))["connectionMsg"] and s)
    time.sleep(1)
    state = connector_state(b)
    assert state["connectionStatus"] != "SUCCESS"
    assert "SSL" in state["connectionMsg"] or "failed" in state["connectionMsg"]
    assert node_ids(a) == {"site-a"}


def test_wrong_san_fails_only_with_verify_hostname(lab, site_ca):
    lab.ip("site-b")
    lab.ip("site-c")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"), aliases=("not-in-san",))
    strict = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "not-in-san"))
    loose = lab.start_and_wait("site-c", entities=dialling_router(lab, site_ca, "site-c", "not-in-san",
                                                                  verifyHostname=False))
    eventually(lambda: connector_state(loose)["connectionStatus"] == "SUCCESS")
    state = eventually(lambda: (s := connector_state(strict))["connectionMsg"] and s)
    assert state["connectionStatus"] != "SUCCESS"
    assert "certificate verify failed" in state["connectionMsg"]
    eventually(lambda: node_ids(a) == {"site-a", "site-c"})


def test_connector_retries_until_the_peer_starts(lab, site_ca):
    lab.ip("site-a")
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    time.sleep(1)
    assert connector_state(b)["connectionStatus"] == "CONNECTING"
    lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    eventually(lambda: connector_state(b)["connectionStatus"] == "SUCCESS", timeout=10)
    eventually(lambda: node_ids(b) == {"site-a", "site-b"})


def test_a_lost_router_is_forgotten(lab, site_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    eventually(lambda: node_ids(a) == {"site-a", "site-b"})
    b.container.kill()
    started = time.monotonic()
    eventually(lambda: node_ids(a) == {"site-a"}, timeout=10)
    assert time.monotonic() - started < 6
    with a.management() as client:
        reply = None
        try:
            reply = client.request("QUERY", agent="amqp:/_topo/0/site-b/$management", via_anonymous=True,
                                   entityType=PREFIX + "router", body={"attributeNames": ["id"]})
        except Exception as exc:  # RELEASED: no route to the stale router
            assert "RELEASED" in type(exc).__name__ or "38" in str(exc) or "Timeout" in type(exc).__name__
        assert reply is None


def test_live_link_create_and_delete_through_management(lab, site_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b_entities = dialling_router(lab, site_ca, "site-b", "site-a")[:2]  # router + amqp listener only
    site_ca.issue(lab.config_dir("site-b") / "link1-profile", "site-b")
    b = lab.start_and_wait("site-b", entities=b_entities)
    profile = configs.ssl_profile("link1-profile")[1]
    connector = configs.connector("link1", "site-a", INTERIOR_PORT, "link1-profile", cost=1,
                                  verifyHostname=True, maxFrameSize=16384, maxSessionFrames=640)[1]
    with b.management() as client:
        assert client.create("sslProfile", "link1-profile", {k: v for k, v in profile.items() if k != "name"}).status == 201
        assert client.create("connector", "link1", {k: v for k, v in connector.items() if k != "name"}).status == 201
    eventually(lambda: node_ids(a) == {"site-a", "site-b"})
    with b.management() as client:
        assert client.delete("connector", "link1").status == 204
    eventually(lambda: node_ids(a) == {"site-a"}, timeout=8)
    eventually(lambda: node_ids(b) == {"site-b"}, timeout=8)
