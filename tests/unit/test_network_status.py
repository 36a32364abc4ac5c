"""Skupper 1.5's site counting over router records."""
from __future__ import annotations

from skupper_podman.network.topology import EDGE_WARNING, RouterRecord, count_sites


def r(rid, site, to=(), edge=False):
    return RouterRecord(router_id=rid, edge=edge, site_id=site, connected_to=list(to))


def test_alone():
    c = count_sites([r("west", "W")], "W")
    assert (c.total, c.direct, c.indirect) == (0, 0, 0)


def test_direct_in_both_directions_and_indirect():
    routers = [r("west", "W"), r("east", "E", to=["west"]), r("north", "N", to=["east"])]
    west = count_sites(routers, "W")
    assert (west.total, west.direct, west.indirect) == (2, 1, 1)
    east = count_sites(routers, "E")
    assert (east.total, east.direct, east.indirect) == (2, 2, 0)


def test_service_routers_of_known_sites_are_not_sites():
    routers = [r("west", "W"), r("west-backend", "W", to=[], edge=True), r("gw", "west-gw", edge=True)]
    c = count_sites(routers, "W")
    assert c.total == 0


def test_edge_with_two_uplinks_warns():
    routers = [r("west", "W"), r("e1", "X", to=["west", "east"], edge=True)]
    assert count_sites(routers, "W").warnings == [EDGE_WARNING]
