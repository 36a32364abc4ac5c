"""The collector's state (1.5's rules) and the network status derived from it, replayed from
recorded vanflow messages: Kubernetes sites from the reference's examples, and our own sites
recorded on the real router 2.5.3."""
from __future__ import annotations

import pytest

from skupper_podman.network import vanflow
from skupper_podman.network.flowstate import FlowState
from skupper_podman.network.status import build_status
from tests.flow_messages import load

W, E = "a960b766-20bd-42c8-886d-741f3a9f6aa2", "496ca1de-0c80-4e70-bbb4-d0d6ec2a09c0"


def replay(name: str, state: FlowState | None = None, now: float = 100.0) -> tuple[FlowState, list[str]]:
    """Feed a fixture through the state as the collector does; return it and the FLUSHes sent."""
    state = state or FlowState()
    flushes = []
    for message in load(name):
        got = vanflow.parse(message)
        assert got is not None
        if got.kind == vanflow.BEACON:
            state.beacon(got.properties, now)
        elif got.kind == vanflow.HEARTBEAT:
            ready = state.heartbeat(got.properties, got.to, now)
            if ready is not None:
                flushes.append(ready.direct)
        else:
            state.apply(got.source_id, got.records, now)
    return state, flushes


def test_kubernetes_sites_are_learnt_and_flushed_once_each():
    state, flushes = replay("kube_two_sites.json")
    assert sorted(flushes) == sorted(f"sfe.{i}" for i in (W, E, "plrcg:0", "x7k2d:0"))
    types = sorted(r.type_name for r in state.records.values())
    assert types == sorted(["SITE", "SITE", "PROCESS", "PROCESS", "HOST", "ROUTER", "ROUTER", "LINK", "LINK",
                            "LISTENER", "LISTENER", "CONNECTOR", "FLOW"])
    assert "plrcg:99" not in state.records  # an update to an unknown identity is dropped
    assert state.records["plrcg:7"].source == "plrcg:0"  # .flows records belong to their router


def test_kubernetes_network_status():
    state, _ = replay("kube_two_sites.json")
    status = build_status(state, W)
    west, east = status.site("west"), status.site("east")
    assert [s.name for s in status.sites] == ["west", "east"]
    assert (west.location, west.namespace, west.version, west.platform) == ("local", "west", "1.5.5", "kubernetes")
    assert [(p.site_id, p.namespace, p.direction) for p in west.linked_sites] == [(E, "east", "incoming")]
    assert [(p.site_id, p.direction) for p in east.linked_sites] == [(W, "outgoing")]
    assert [(s.address, s.protocol, s.listeners, s.connectors) for s in east.services] == [("backend:8080", "tcp", 1, 1)]
    assert [(s.address, s.listeners, s.connectors) for s in west.services] == [("backend:8080", 1, 0)]
    assert east.location == "remote" and west.routers[0].name.startswith("west-")


def test_end_time_deletes_and_start_time_is_required():
    state, _ = replay("kube_two_sites.json")
    state.apply("plrcg:0", ({0: 2, 1: "plrcg:1", 4: 1},), 100.0)
    assert "plrcg:1" not in state.records
    assert build_status(state, W).site("west").linked_sites == []
    state.apply("plrcg:0", ({0: 4, 1: "plrcg:50", 19: "x:1"},), 100.0)  # no StartTime: not added
    assert "plrcg:50" not in state.records


def test_silent_sources_are_purged_with_their_records():
    state, _ = replay("kube_two_sites.json", FlowState(purge_after=60))
    assert state.purge(150.0) == []
    state.sources[E].last_heard = state.sources["x7k2d:0"].last_heard = 200.0
    purged = sorted(s.id for s in state.purge(161.0))
    assert purged == sorted([W, "plrcg:0"])
    assert {r.source for r in state.records.values()} == {E, "x7k2d:0"}
    assert [s.name for s in build_status(state, E).sites] == ["east"]


def test_snapshot_round_trip_keeps_types_and_names():
    state, _ = replay("kube_two_sites.json")
    again = FlowState.from_snapshot(state.snapshot())
    assert {i: r.attributes for i, r in again.records.items()} == {i: r.attributes for i, r in state.records.items()}
    assert set(again.sources) == set(state.sources)


@pytest.mark.parametrize("fixture", ["real_router_three_sites.json"])
def test_our_sites_recorded_on_the_real_router(fixture):
    state, flushes = replay(fixture)
    status = build_status(state, "")
    names = {s.name: s for s in status.sites}
    assert set(names) == {"rec-a", "rec-b", "rec-c"}
    linked = {n: {status.site(p.site_id).name: p.direction for p in s.linked_sites} for n, s in names.items()}
    assert linked == {"rec-a": {"rec-b": "incoming"}, "rec-b": {"rec-a": "outgoing", "rec-c": "incoming"},
                      "rec-c": {"rec-b": "outgoing"}}
    assert all(s.platform == "podman" and s.namespace == "" for s in names.values())
    assert [s.address for s in names["rec-a"].services] == ["backend:8080"]
    assert flushes


def test_a_restarted_router_replaces_its_stale_self():
    state, _ = replay("kube_two_sites.json")
    router = {0: 1, 1: "newer:0", 2: W, 3: 1800000000000000, 30: "0/west-skupper-router-867f5ddcd8-zzzzz"}
    state.sources["newer:0"] = state.sources["plrcg:0"]
    state.apply("newer:0", (router,), 100.0)  # the old router's links stay until it is purged
    assert build_status(state, W).site("west").linked_sites == []  # the newer router has no link yet
    state.apply("newer:0", ({0: 2, 1: "newer:1", 2: "newer:0", 3: 1, 30: "east-skupper-router-5c9b7d6f4-x7k2d",
                             34: "incoming"},), 100.0)
    assert [p.site_id for p in build_status(state, W).site("west").linked_sites] == [E]
