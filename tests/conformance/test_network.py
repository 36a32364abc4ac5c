"""Router networks: mutual-TLS links between routers, connector status, topology
(router.node), remote management agents, edges, and forgetting a lost router."""

from __future__ import annotations

import re
import time
from typing import Any, Callable

import pytest
from proton import Delivery
from proton.utils import SendException

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


def link_up(router, name: str = "link1") -> bool:
    """The connector's link is open: status SUCCESS *and* an opened-connection message (SUCCESS
    alone only means a connection attempt is under way)."""
    state = connector_state(router, name)
    return state["connectionStatus"] == "SUCCESS" and "Connection Opened" in state["connectionMsg"]


def settled_link(router, peer: str) -> bool:
    """``router`` has exchanged link states with its neighbour ``peer``: its own record lists
    the peer in its link state and the peer's record has a router link and a cost."""
    with router.management() as client:
        rows = {r["id"]: r for r in client.rows("router.node", ["id", "nextHop", "linkState",
                                                                 "routerLink", "cost"])}
    me = next(r for r in rows.values() if r["nextHop"] == "(self)")
    other = rows.get(peer) or {}
    return peer in me["linkState"] and other.get("routerLink") is not None and other.get("cost") is not None


def roles(router, container: str) -> list[tuple[str, str]]:
    """(role, dir) of the connections ``router`` has with ``container``, sorted."""
    with router.management() as client:
        rows = client.rows("connection", ["container", "role", "dir"])
    return sorted((r["role"], r["dir"]) for r in rows if r["container"] == container)


def with_ls_max_age(entities: list, seconds: int) -> list:
    """``entities`` with the router's remoteLsMaxAgeSeconds set (how long a lost router stays
    in router.node; 60 s by default)."""
    entities[0][1]["remoteLsMaxAgeSeconds"] = str(seconds)
    return entities


def test_mtls_link_between_two_interiors(lab, site_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    eventually(lambda: link_up(b))
    state = connector_state(b)
    assert re.fullmatch(r"\[C\d+\] Connection Opened: dir=out host=site-a:55671 encrypted=TLSv1\.3 "
                        r"auth=EXTERNAL user=\(null\) container_id=site-a", state["connectionMsg"]), state
    eventually(lambda: node_ids(a) == {"site-a", "site-b"} and node_ids(b) == {"site-a", "site-b"})
    # 2.5.3 opens two inter-router-data connections beside the inter-router one, all over TLS
    eventually(lambda: roles(a, "site-b") == [("inter-router", "in")] + [("inter-router-data", "in")] * 2)
    eventually(lambda: roles(b, "site-a") == [("inter-router", "out")] + [("inter-router-data", "out")] * 2)

    with a.management() as client:
        rows = client.rows("connection", ["container", "role", "dir", "isEncrypted", "isAuthenticated", "host"])
        (link,) = [r for r in rows if r["role"] == "inter-router"]
        assert link["container"] == "site-b" and link["dir"] == "in"
        assert link["isEncrypted"] is True and link["isAuthenticated"] is True
        assert link["host"].startswith(lab.ip("site-b") + ":")
        data = [r for r in rows if r["role"] == "inter-router-data"]
        assert all(r["isEncrypted"] and r["host"].startswith(lab.ip("site-b") + ":") for r in data)
    eventually(lambda: settled_link(a, "site-b"))
    with a.management() as client:
        nodes = {r["id"]: r for r in client.rows("router.node", ["id", "nextHop", "cost", "address"])}
        assert nodes["site-a"]["nextHop"] == "(self)" and nodes["site-a"]["cost"] is None
        assert nodes["site-b"]["cost"] == 1 and nodes["site-b"]["nextHop"] is None
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
    eventually(lambda: link_up(e))

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
        # one connection per edge link (no inter-router-data ones)
        edges = [r for r in client.rows("connection", ["container", "role", "dir"]) if r["container"] == "edge-e"]
        assert edges == [{"container": "edge-e", "role": "edge", "dir": "in"}]
        # edges are not routers of the interior network, nor management nodes
        assert {r["id"] for r in client.rows("router.node", ["id"])} == {"site-a", "site-b"}
        assert sorted(client.request("GET-MGMT-NODES").body) == [
            "amqp:/_topo/0/site-a/$management", "amqp:/_topo/0/site-b/$management"]
    with e.management() as client:
        # an edge lists no router.node records at all, and no management nodes
        assert client.rows("router.node", ["id"]) == []
        assert client.request("GET-MGMT-NODES").body == []


def test_router_node_cost_is_the_sum_of_link_costs(lab, site_ca):
    lab.ip("site-b")
    lab.ip("site-c")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    b_entities = dialling_router(lab, site_ca, "site-b", "site-a", listen=True, site_ca=site_ca, cost=2)
    lab.start_and_wait("site-b", entities=b_entities)
    lab.start_and_wait("site-c", entities=dialling_router(lab, site_ca, "site-c", "site-b", cost=3))

    def nodes():
        # the costs follow the link states, which come a little after the nodes appear
        with a.management() as client:
            rows = {r["id"]: r for r in client.rows("router.node", ["id", "nextHop", "cost"])}
        complete = set(rows) == {"site-a", "site-b", "site-c"} and None not in (
            rows["site-b"]["cost"], rows["site-c"]["cost"])
        return rows if complete else None

    rows = eventually(nodes)
    assert rows["site-b"]["cost"] == 2
    assert rows["site-c"]["cost"] == 5 and rows["site-c"]["nextHop"] == "site-b"


def test_client_certificate_from_another_ca_keeps_the_connector_connecting(lab, site_ca, other_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"))
    # B's link certificate and CA come from a CA that A does not trust (and B does not trust A).
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, other_ca, "site-b", "site-a"))
    state = eventually(lambda: (s := connector_state(b))["connectionMsg"] and s)
    assert state["connectionMsg"].startswith("Connection to site-a:55671 failed: ")
    assert "SSL Failure" in state["connectionMsg"]
    assert not link_up(b)
    assert node_ids(a) == {"site-a"} and node_ids(b) == {"site-b"}
    assert roles(a, "site-b") == [] and roles(b, "site-a") == []


def test_wrong_san_fails_only_with_verify_hostname(lab, site_ca):
    lab.ip("site-b")
    lab.ip("site-c")
    a = lab.start_and_wait("site-a", entities=listening_router(lab, site_ca, "site-a"), aliases=("not-in-san",))
    strict = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "not-in-san"))
    loose = lab.start_and_wait("site-c", entities=dialling_router(lab, site_ca, "site-c", "not-in-san",
                                                                  verifyHostname=False))
    eventually(lambda: link_up(loose))
    state = eventually(lambda: (s := connector_state(strict))["connectionMsg"] and s)
    assert not link_up(strict)
    assert "certificate verify failed" in state["connectionMsg"]
    eventually(lambda: node_ids(a) == {"site-a", "site-c"})


def test_success_only_means_a_connection_attempt_is_under_way(lab, site_ca):
    """connectionStatus reads SUCCESS (with an empty connectionMsg) while a connection is being
    set up, here for ever: A's listeners name an sslProfile A does not have, so A accepts the
    TCP connection and never answers the TLS handshake. No link, no connection record."""
    lab.ip("site-b")
    entities = [e for e in listening_router(lab, site_ca, "site-a") if e[0] != "sslProfile"]
    a = lab.start_and_wait("site-a", entities=entities)
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    for _ in range(3):
        assert connector_state(b) == {"name": "link1", "connectionStatus": "SUCCESS", "connectionMsg": ""}
        assert roles(b, "site-a") == [] and node_ids(b) == {"site-b"} and node_ids(a) == {"site-a"}


def test_connector_retries_until_the_peer_listens(lab, site_ca):
    lab.ip("site-b")
    entities = listening_router(lab, site_ca, "site-a")
    listener = next(e for e in entities if e[1].get("name") == "interior-listener")
    a = lab.start_and_wait("site-a", entities=[e for e in entities if e is not listener])
    b = lab.start_and_wait("site-b", entities=dialling_router(lab, site_ca, "site-b", "site-a"))
    # nothing listens on site-a:55671 yet: the attempts are refused
    state = eventually(lambda: (s := connector_state(b))["connectionMsg"] and s)
    assert state["connectionMsg"] == ("Connection to site-a:55671 failed: proton:io Connection refused - "
                                      "disconnected site-a:55671")
    assert not link_up(b) and node_ids(b) == {"site-b"}
    with a.management() as client:
        reply = client.create("listener", "interior-listener",
                              {k: v for k, v in listener[1].items() if k != "name"})
        assert reply.status == 201, reply.description
    # the next attempt comes at most 5 s after the last failed one
    eventually(lambda: link_up(b), timeout=12)
    eventually(lambda: node_ids(b) == {"site-a", "site-b"})


def test_a_lost_router_stays_listed_until_its_link_state_ages_out(lab, site_ca):
    """Once two routers have exchanged link states, a router that goes away stays in the
    other's router.node (without routerLink) until its link state is remoteLsMaxAgeSeconds old
    (60 s by default, 5 s here); messages to it find no route meanwhile."""
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=with_ls_max_age(listening_router(lab, site_ca, "site-a"), 5))
    b = lab.start_and_wait("site-b", entities=with_ls_max_age(
        dialling_router(lab, site_ca, "site-b", "site-a"), 5))
    eventually(lambda: settled_link(a, "site-b") and settled_link(b, "site-a"))
    b.container.kill()
    killed = time.monotonic()
    eventually(lambda: roles(a, "site-b") == [], timeout=5)
    with a.management() as client:
        rows = {r["id"]: r for r in client.rows("router.node", ["id", "routerLink", "nextHop"])}
    assert time.monotonic() - killed < 4, "too slow to see the stale entry"
    assert rows["site-b"]["routerLink"] is None and rows["site-b"]["nextHop"] is None
    with a.management(timeout=3) as client:
        # listed, but no route to it: a request is released at once
        with pytest.raises(SendException) as caught:
            client.request("QUERY", agent="amqp:/_topo/0/site-b/$management", via_anonymous=True,
                           entityType=PREFIX + "router", body={"attributeNames": ["id"]})
        assert caught.value.state == Delivery.RELEASED
    assert "site-b" in node_ids(a)
    eventually(lambda: node_ids(a) == {"site-a"}, timeout=12)
    assert time.monotonic() - killed > 3


def test_live_link_create_and_delete_through_management(lab, site_ca):
    lab.ip("site-b")
    a = lab.start_and_wait("site-a", entities=with_ls_max_age(listening_router(lab, site_ca, "site-a"), 5))
    b_entities = with_ls_max_age(dialling_router(lab, site_ca, "site-b", "site-a")[:2], 5)  # router + amqp listener
    site_ca.issue(lab.config_dir("site-b") / "link1-profile", "site-b")
    b = lab.start_and_wait("site-b", entities=b_entities)
    profile = configs.ssl_profile("link1-profile")[1]
    connector = configs.connector("link1", "site-a", INTERIOR_PORT, "link1-profile", cost=1,
                                  verifyHostname=True, maxFrameSize=16384, maxSessionFrames=640)[1]
    with b.management() as client:
        assert client.create("sslProfile", "link1-profile", {k: v for k, v in profile.items() if k != "name"}).status == 201
        reply = client.create("connector", "link1", {k: v for k, v in connector.items() if k != "name"})
        assert reply.status == 201
        # the first attempt starts after the reply
        assert (reply.body["connectionStatus"], reply.body["connectionMsg"]) == ("CONNECTING", "")
    eventually(lambda: settled_link(a, "site-b") and settled_link(b, "site-a"))
    with b.management() as client:
        assert client.delete("connector", "link1").status == 204
    # the link's connections close at once; the routers forget each other with the link state
    eventually(lambda: roles(a, "site-b") == [] and roles(b, "site-a") == [], timeout=3)
    eventually(lambda: node_ids(a) == {"site-a"}, timeout=12)
    eventually(lambda: node_ids(b) == {"site-b"}, timeout=12)
