"""``network status``: the sites of the service network, in Skupper 1.5's tree format."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from skupper_podman.cli.app import app, handle, sub_app
from skupper_podman.cli.options import Namespace, Output, Verbose
from skupper_podman.cli.output import emit, fail
from skupper_podman.cli.site_commands import not_enabled, open_site
from skupper_podman.errors import SkupperError

if TYPE_CHECKING:
    from skupper_podman.network.status import NetworkSite, NetworkStatus

network_app = sub_app("Show information about the sites and services included in the network.")
app.add_typer(network_app, name="network")


@dataclass
class Node:
    """One line of 1.5's list formatter, with sorted ``key: value`` details under it."""

    item: str
    details: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def child(self, item: str, details: dict[str, str] | None = None) -> Node:
        node = Node(item, details or {})
        self.children.append(node)
        return node


def render(node: Node, level: int = 0, last: dict[int, bool] | None = None) -> list[str]:
    """1.5's tree: ``├─``/``╰─`` branches, ``│`` rails, details (empty ones left out) indented below."""
    last = {} if last is None else last
    rails = "".join("   " if last.get(i) else "│  " for i in range(1, level))
    branch = ("╰─ " if last.get(level) else "├─ ") if level else ""
    lines = [rails + branch + node.item]
    pad = "".join("   " if last.get(i) else "│  " for i in range(1, level + 1))
    lines += [f"{pad}{key}: {value}" for key, value in sorted(node.details.items()) if value]
    for index, child in enumerate(node.children):
        last[level + 1] = index == len(node.children) - 1
        lines += render(child, level + 1, last)
    return lines


def _site_node(site: NetworkSite, verbose: bool) -> Node:
    where = {"local": "[local]", "remote": "[remote]"}.get(site.location, "")
    node = Node(f"{where} {site.site_id}({site.namespace}) ",  # 1.5's spaces, trailing one included
                {"site name": site.name, "namespace": site.namespace, "version": site.version or "-"})
    if site.linked_sites:
        linked = node.child("Linked sites:")
        for peer in site.linked_sites:
            linked.child(f"{peer.site_id}({peer.namespace})", {"direction": peer.direction})
    if site.services:
        services = node.child("Services:")
        for service in site.services:
            services.child(f"{service.address} ({service.protocol})",
                           {"listeners": str(service.listeners), "connectors": str(service.connectors)})
    if verbose and site.routers:
        routers = node.child("Routers:")
        for router in site.routers:
            entry = routers.child(f"name: {router.name}", {"image name": router.image_name,
                                                          "image version": router.image_version})
            if router.links:
                links = entry.child("Links:")
                for link in router.links:
                    details = {"direction": link.direction, "cost": str(link.cost) if link.cost > 0 else ""}
                    links.child(f"name:  {link.name}", details)
    return node


def status_text(status: NetworkStatus, verbose: bool = False, site_name: str = "") -> str:
    root = Node("Sites:")
    for site in status.sites:
        if not site_name or site.name == site_name:
            root.children.append(_site_node(site, verbose))
    return "\n".join(render(root))


@network_app.command("status")
def network_status(
    namespace: Namespace = "",
    verbose: Verbose = False,
    site: Annotated[str | None, typer.Option("--site", "-s", metavar="NAME",
                                                help="Filter by a specific site name.")] = None,
    output: Output = "text",
) -> None:
    """Shows information about the current site, and connected sites."""
    from skupper_podman.network.status import network_status as compute

    current = open_site(namespace)
    try:
        if not current.exists():
            fail(not_enabled(current))
        result = compute(current)
    except SkupperError as err:
        handle(err)
    emit(result.to_dict(), output, lambda: status_text(result, verbose, site or ""))
