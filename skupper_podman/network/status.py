"""``network status``: every site of the network, its links and services, from vanflow records.

``build_status`` is the pure derivation (``vanflow.md`` §8-§9): one entry per SITE record; for
each site its routers (ROUTER records whose Parent is the site), the site's printable router
(the one named after the site), that router's LINKs mapped to peer sites through the peer
router's name, and the services (LISTENER/CONNECTOR records grouped by VanAddress) of all the
site's routers. ``network_status(site)`` applies it to the site controller's report.

Where 1.5.5 picks the first router whose name merely starts with the site name (so a service
router can hide a site's links) and fails the whole command on a site with no such router, we
prefer the router named exactly like the site (1.6's rule) and leave such a site's links empty.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from skupper_podman.network import vanflow
from skupper_podman.network.flowstate import FlowRecord, FlowState

if TYPE_CHECKING:
    from skupper_podman.site.lifecycle import Site


@dataclass
class LinkedSite:
    site_id: str
    namespace: str
    direction: str
    name: str = ""


@dataclass
class RouterLink:
    name: str
    direction: str
    cost: int = 0


@dataclass
class RouterInfo:
    name: str
    mode: str
    image_name: str
    image_version: str
    links: list[RouterLink] = field(default_factory=list)


@dataclass
class ServiceInfo:
    address: str
    protocol: str
    listeners: int = 0
    connectors: int = 0


@dataclass
class NetworkSite:
    site_id: str
    name: str
    namespace: str
    version: str
    platform: str
    location: str  # "local", "remote", or "" for gateways
    linked_sites: list[LinkedSite] = field(default_factory=list)
    services: list[ServiceInfo] = field(default_factory=list)
    routers: list[RouterInfo] = field(default_factory=list)


@dataclass
class NetworkStatus:
    local_site_id: str
    sites: list[NetworkSite] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def site(self, name_or_id: str) -> NetworkSite | None:
        return next((s for s in self.sites if name_or_id in (s.name, s.site_id)), None)


def _short(router: FlowRecord) -> str:
    name = str(router.get("Name", ""))
    return name.split("/", 1)[1] if "/" in name else name


def _printable(router: FlowRecord, site_name: str) -> bool:
    short = _short(router)
    return short.startswith((site_name, "skupper-gateway"))


def _main_router(routers: list[FlowRecord], site_name: str) -> FlowRecord | None:
    exact = [r for r in routers if _short(r) == site_name]
    return (exact or [r for r in routers if _printable(r, site_name)] or [None])[0]


def _location(site_id: str, local_id: str) -> str:
    if site_id == local_id:
        return "local"
    return "" if site_id.startswith("gateway") else "remote"


def build_status(state: FlowState, local_site_id: str) -> NetworkStatus:
    """The network status document from a collector's records (pure)."""
    sites = {r.identity: r for r in state.of_type(vanflow.SITE)}
    routers: dict[str, list[FlowRecord]] = {}
    # newest first: a restarted router is a new source, and its old record lives until purged
    for router in sorted(state.of_type(vanflow.ROUTER), key=lambda r: (-int(r.get("StartTime") or 0), r.identity)):
        routers.setdefault(str(router.get("Parent", "")), []).append(router)
    router_site = {_short(r): sid for sid, rs in routers.items() if sid in sites
                   for r in rs if _short(r).startswith(str(sites[sid].get("Name", "")))}
    children: dict[str, list[FlowRecord]] = {}
    for record in state.records.values():
        if record.type in (vanflow.LINK, vanflow.LISTENER, vanflow.CONNECTOR):
            children.setdefault(str(record.get("Parent", "")), []).append(record)
    status = NetworkStatus(local_site_id)
    for sid, record in sites.items():
        status.sites.append(_site(sid, record, routers.get(sid, []), router_site, sites, children, local_site_id))
    status.sites.sort(key=lambda s: (s.location != "local", s.name, s.site_id))
    return status


def _site(sid: str, record: FlowRecord, routers: list[FlowRecord], router_site: dict[str, str],
          sites: dict[str, FlowRecord], children: dict[str, list[FlowRecord]], local_id: str) -> NetworkSite:
    name = str(record.get("Name", ""))
    entry = NetworkSite(site_id=sid, name=name, namespace=str(record.get("Namespace", "")),
                        version=str(record.get("Version", "")), platform=str(record.get("Platform", "")),
                        location=_location(sid, local_id))
    main = _main_router(routers, name)
    for link in children.get(main.identity, []) if main is not None else []:
        if link.type != vanflow.LINK:
            continue
        peer = router_site.get(str(link.get("Name", "")))
        if peer == sid or any(ls.site_id == (peer or "") for ls in entry.linked_sites):
            continue
        peer_record = sites.get(peer or "")
        entry.linked_sites.append(LinkedSite(
            site_id=peer or "", namespace=str(peer_record.get("Namespace", "")) if peer_record else "",
            direction=str(link.get("Direction", "")), name=str(peer_record.get("Name", "")) if peer_record else ""))
    services: dict[str, ServiceInfo] = {}
    for router in routers:
        for child in children.get(router.identity, []):
            if child.type == vanflow.LINK or not child.get("VanAddress"):
                continue
            address = str(child.get("VanAddress"))
            info = services.setdefault(address, ServiceInfo(address, str(child.get("Protocol", ""))))
            if child.type == vanflow.LISTENER:
                info.listeners += 1
            else:
                info.connectors += 1
        if _printable(router, name):
            entry.routers.append(RouterInfo(
                name=_short(router), mode=str(router.get("Mode", "")), image_name=str(router.get("ImageName", "")),
                image_version=str(router.get("ImageVersion", "")),
                links=[RouterLink(str(c.get("Name", "")), str(c.get("Direction", "")), int(c.get("LinkCost", 0) or 0))
                       for c in children.get(router.identity, [])
                       if c.type == vanflow.LINK and router_site.get(str(c.get("Name", ""))) != sid]))
    entry.services = sorted(services.values(), key=lambda s: s.address)
    return entry


def network_status(site: Site) -> NetworkStatus:
    """The whole network as the site's controller knows it (see ``collector.read_report``)."""
    from skupper_podman.network.collector import read_report

    report = read_report(site)
    return build_status(report.state, report.site_id)
