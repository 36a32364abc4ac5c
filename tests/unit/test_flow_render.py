"""``network status`` text: Skupper 1.5's list formatter (pkg/utils/formatter/list.go) exactly."""
from __future__ import annotations

from skupper_podman.cli.network_commands import status_text
from skupper_podman.network.status import (
    LinkedSite,
    NetworkSite,
    NetworkStatus,
    ServiceInfo,
)


def test_tree_as_1_5_prints_it():
    status = NetworkStatus("id1", [
        NetworkSite("id1", "a", "", "1.5.5", "podman", "local", [LinkedSite("id2", "", "outgoing")]),
        NetworkSite("id2", "b", "east", "", "kubernetes", "remote"),
    ])
    assert status_text(status).splitlines() == [
        "Sites:",
        "├─ [local] id1() ",
        "│  site name: a",
        "│  version: 1.5.5",
        "│  ╰─ Linked sites:",
        "│     ╰─ id2()",
        "│        direction: outgoing",
        "╰─ [remote] id2(east) ",
        "   namespace: east",
        "   site name: b",
        "   version: -",
    ]


def test_services_and_site_filter():
    status = NetworkStatus("id1", [
        NetworkSite("id1", "a", "", "1.5.5", "podman", "local", services=[ServiceInfo("backend:8080", "tcp", 1, 1)]),
        NetworkSite("gateway-x", "gw", "", "1.5.5", "podman", ""),
    ])
    text = status_text(status, site_name="a")
    assert "gateway-x" not in text
    assert text.splitlines()[-4:] == ["   ╰─ Services:", "      ╰─ backend:8080 (tcp)", "         connectors: 1",
                                      "         listeners: 1"]
    assert " gateway-x() " in status_text(status)  # gateways carry no [local]/[remote]
