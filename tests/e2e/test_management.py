"""The management client against the site's own router (the real skupper-router 2.5.3 in CI):
paged QUERY results larger than a page from both of the router's agents, and errors as one
line with the router's status code."""
from __future__ import annotations

import time

import pytest

from skupper_podman.errors import ManagementError
from skupper_podman.router.management import QUERY_PAGE_SIZE
from tests.conftest import init_site

pytestmark = pytest.mark.e2e


def test_large_queries_page_through_both_agents(site_env):
    from skupper_podman import Site

    init_site(site_env, site_env.namespace, "big")
    count = QUERY_PAGE_SIZE * 2 + 17
    with Site.open(site_env.namespace).management(timeout=30) as client:
        for i in range(count):
            # router.config.address is answered by the router's C core agent ...
            client.create("router.config.address", f"bulk{i}", {"prefix": f"bulk/{i}", "distribution": "closest"})
        for i in range(QUERY_PAGE_SIZE + 3):
            # ... tcpConnector by its embedded Python agent; neither dials anything until used
            client.create("tcpConnector", f"tc{i}", {"address": f"bulk-{i}", "host": "127.0.0.1", "port": str(1000 + i)})
        addresses = client.query("router.config.address", ["name", "prefix"])
        connectors = client.query("tcpConnector", ["name", "port"])
    assert sorted(r["name"] for r in addresses if r["name"].startswith("bulk")) == sorted(f"bulk{i}" for i in range(count))
    assert {r["prefix"] for r in addresses} >= {f"bulk/{i}" for i in range(count)}
    assert len(connectors) == QUERY_PAGE_SIZE + 3
    assert {r["port"] for r in connectors} == {str(1000 + i) for i in range(QUERY_PAGE_SIZE + 3)}


def test_router_errors_are_one_line_with_their_status(site_env):
    from skupper_podman import Site

    init_site(site_env, site_env.namespace, "errs")
    with Site.open(site_env.namespace).management() as client:
        client.create("tcpConnector", "dup", {"address": "dup", "host": "127.0.0.1", "port": "9"})
        with pytest.raises(ManagementError) as duplicate:
            client.create("tcpConnector", "dup", {"address": "dup", "host": "127.0.0.1", "port": "9"})
        with pytest.raises(ManagementError) as missing:
            client.delete("tcpConnector", "no-such-connector")
        # the client still works after refusals
        assert client.ping()["id"] == "errs"
    assert duplicate.value.status_code == 400 and "\n" not in str(duplicate.value)
    assert str(duplicate.value).startswith("router refused CREATE tcpConnector dup: 400")
    assert missing.value.status_code == 404 and "\n" not in str(missing.value)


def test_messages_larger_than_a_frame_and_idle_pauses(site_env):
    """Requests and replies bigger than the router's 16 KiB frames go through whole, and a client
    left idle past the router's idle time-out (8 s: it then drops the connection) still works."""
    from skupper_podman import Site

    init_site(site_env, site_env.namespace, "frames")
    prefix = "big/" + "x" * 40_000
    with Site.open(site_env.namespace).management() as client:
        client.create("router.config.address", "big", {"prefix": prefix, "distribution": "closest"})
        assert client.read("router.config.address", "big")["prefix"] == prefix
        time.sleep(9)
        assert client.ping()["id"] == "frames"
