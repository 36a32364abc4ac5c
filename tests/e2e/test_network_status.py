"""``skupper network status`` across three of our sites: A <- B <- C (B links to A, C links to B).

Every site lists all three with the right linked sites, directions and services; a deleted link
disappears, and a deleted site is purged (the purge time is shortened for the test with
SKUPPER_FLOW_PURGE_SECONDS; 1.5's default stays 60 s).
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

from skupper_podman._util import poll
from tests.conftest import init_site, sweep_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

PURGE = 15


def wait_for(predicate, timeout: float):
    return poll(predicate, timeout, interval=1.0)


def network(site_env, ns: str) -> dict:
    out = site_env.skupper("network", "status", "-o", "json", namespace=ns)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def by_name(doc: dict) -> dict[str, dict]:
    return {s["name"]: s for s in doc["sites"]}


def links_of(doc: dict, name: str) -> dict[str, str]:
    names = {s["site_id"]: s["name"] for s in doc["sites"]}
    site = by_name(doc).get(name) or {"linked_sites": []}
    return {names.get(ls["site_id"], ls["site_id"]): ls["direction"] for ls in site["linked_sites"]}


EXPECTED = {"net-a": {"net-b": "incoming"}, "net-b": {"net-a": "outgoing", "net-c": "incoming"},
            "net-c": {"net-b": "outgoing"}}


def complete(doc: dict) -> bool:
    return set(by_name(doc)) >= set(EXPECTED) and all(links_of(doc, n) == EXPECTED[n] for n in EXPECTED)


@pytest.fixture
def three_sites(site_env, tmp_path):
    site_env.env["SKUPPER_FLOW_PURGE_SECONDS"] = str(PURGE)
    a, b, c = site_env.namespace, "b" + uuid.uuid4().hex[:8], "c" + uuid.uuid4().hex[:8]
    init_site(site_env, a, "net-a")
    init_site(site_env, b, "net-b")
    started_c = time.monotonic()
    init_site(site_env, c, "net-c")
    for issuer, joiner in ((a, b), (b, c)):
        token = tmp_path / f"{issuer}.token"
        assert site_env.skupper("token", "create", str(token), namespace=issuer).returncode == 0
        out = site_env.skupper("link", "create", str(token), namespace=joiner)
        assert out.returncode == 0, out.stderr
    yield a, b, c, started_c
    sweep_namespace(b)
    sweep_namespace(c)


@pytest.mark.usefixtures("flow_router")
def test_three_sites_links_services_link_delete_and_site_delete(site_env, three_sites):
    a, b, c, started_c = three_sites
    assert site_env.skupper("service", "create", "backend", "8080", namespace=a).returncode == 0
    bind = site_env.skupper("service", "bind", "backend", "host", "10.99.0.8", namespace=a)
    assert bind.returncode == 0, bind.stderr
    assert site_env.skupper("service", "create", "frontend", "9090", namespace=c).returncode == 0

    docs = {}
    for ns in (a, b, c):
        docs[ns] = wait_for(lambda ns=ns: (d := network(site_env, ns)) and complete(d) and d, 120)
        assert docs[ns], f"incomplete network status on {ns}: {network(site_env, ns)}"
    print(f"\nFIGURE: init of net-c to complete network status everywhere: {time.monotonic() - started_c:.1f} s")
    sites = by_name(docs[b])
    assert [s["location"] for s in docs[b]["sites"]].count("local") == 1 and sites["net-b"]["location"] == "local"
    assert sites["net-a"]["location"] == "remote" and sites["net-a"]["platform"] == "podman"
    assert all(s["namespace"] == "" and s["version"] == "1.5.5" for s in docs[b]["sites"])

    def services(ns: str, site: str) -> dict:
        return {s["address"]: s for s in by_name(network(site_env, ns))[site]["services"]}

    assert wait_for(lambda: "backend:8080" in services(c, "net-a") and "frontend:9090" in services(a, "net-c"), 60)
    backend = services(c, "net-a")["backend:8080"]
    assert backend["protocol"] == "tcp" and backend["listeners"] >= 1 and backend["connectors"] >= 1
    assert services(a, "net-c")["frontend:9090"]["connectors"] == 0

    text = site_env.skupper("network", "status", namespace=b).stdout
    a_id, b_id = sites["net-a"]["site_id"], sites["net-b"]["site_id"]
    assert text.startswith("Sites:\n") and f"[local] {b_id}() " in text and f"[remote] {a_id}() " in text
    assert "site name: net-b" in text and "version: 1.5.5" in text and "Linked sites:" in text
    assert f"{a_id}()\n" in text and "direction: outgoing" in text and "direction: incoming" in text

    # C's link to B goes: within the purge time B and C no longer show it
    assert site_env.skupper("link", "delete", "link1", namespace=c).returncode == 0
    unlinked = wait_for(lambda: links_of(network(site_env, b), "net-b") == {"net-a": "outgoing"}, PURGE + 30)
    assert unlinked, network(site_env, b)

    # C deleted: it is purged from A's view
    assert site_env.skupper("delete", namespace=c).returncode == 0
    gone = wait_for(lambda: "net-c" not in by_name(network(site_env, a)), PURGE + 40)
    assert gone, network(site_env, a)
