"""How many sites a site is connected to, computed from the live router network (1.5 §12).

``gather_routers`` asks the site router (and, through it, every other router) over AMQP
management; ``count_sites`` is the pure counting rule of Skupper 1.5's ``ConnectedSitesInfo``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from skupper_podman.errors import ManagementError, RouterUnavailable
from skupper_podman.router.management import ManagementClient, edge_agent, interior_agent

EDGE_WARNING = (
    "There are edge uplinks to distinct networks, please verify topology (connected counts may not be accurate)."
)


@dataclass
class RouterRecord:
    """One router of the network: its id, mode, metadata and outbound inter-router peers."""

    router_id: str
    edge: bool
    site_id: str = ""
    version: str = ""
    platform: str = ""
    connected_to: list[str] = field(default_factory=list)


@dataclass
class SiteCounts:
    total: int = 0
    direct: int = 0
    indirect: int = 0
    warnings: list[str] = field(default_factory=list)
    sites: list[RouterRecord] = field(default_factory=list)


def _metadata(client: ManagementClient, node: str | None) -> dict[str, str]:
    rows = client.query("router", ["id", "metadata"], node=node)
    if not rows:
        return {}
    try:
        meta = json.loads(rows[0].get("metadata") or "{}")
    except (TypeError, ValueError):
        meta = {}
    return meta if isinstance(meta, dict) else {}


def _connections(client: ManagementClient, node: str | None) -> list[dict]:
    return client.query("connection", ["container", "role", "dir", "host"], node=node)


def gather_routers(client: ManagementClient, local_id: str) -> list[RouterRecord]:
    """Every interior router known to the local router, plus the edge routers attached to them.

    Routers that stopped answering (stale entries while the network converges) are skipped,
    as 1.5 skips ``RELEASED``/timeout answers.
    """
    nodes = client.query("router.node", ["id", "nextHop"])
    interior_ids = [n["id"] for n in nodes] or [local_id]
    if local_id not in interior_ids:
        interior_ids.insert(0, local_id)
    records: list[RouterRecord] = []
    edge_ids: list[str] = []
    for rid in interior_ids:
        agent = None if rid == local_id else interior_agent(rid)
        try:
            conns = _connections(client, agent)
            meta = _metadata(client, agent)
        except (ManagementError, RouterUnavailable):
            continue
        records.append(_record(rid, False, meta, conns))
        edge_ids += [c["container"] for c in conns if c.get("role") == "edge" and c.get("dir") == "in"]
    for eid in dict.fromkeys(edge_ids):
        try:
            agent = edge_agent(eid)
            records.append(_record(eid, True, _metadata(client, agent), _connections(client, agent)))
        except (ManagementError, RouterUnavailable):
            continue
    return records


def _record(router_id: str, edge: bool, meta: dict, conns: list[dict]) -> RouterRecord:
    role = "edge" if edge else "inter-router"
    return RouterRecord(
        router_id=router_id,
        edge=edge,
        site_id=str(meta.get("id", "")),
        version=str(meta.get("version", "")),
        platform=str(meta.get("platform", "")),
        connected_to=[c["container"] for c in conns if c.get("role") == role and c.get("dir") == "out"],
    )


def count_sites(routers: list[RouterRecord], site_id: str) -> SiteCounts:
    """Skupper 1.5's counting: filter service routers, then direct/indirect from self."""
    interior_sites = {r.site_id for r in routers if not r.edge}
    interior_ids = [r.router_id for r in routers if not r.edge]
    kept = [
        r
        for r in routers
        if not r.edge
        or not (r.site_id in interior_sites or any(r.site_id.startswith(f"{i}-") for i in interior_ids))
    ]
    counts = SiteCounts(sites=kept)
    me = next((r for r in kept if r.site_id == site_id and not r.edge), None)
    if me is None:
        return counts
    counts.total = len(kept) - 1
    counts.direct = len(me.connected_to) + sum(1 for r in kept if me.router_id in r.connected_to)
    counts.indirect = counts.total - counts.direct
    if any(r.edge and len(r.connected_to) > 1 for r in kept):
        counts.warnings.append(EDGE_WARNING)
    return counts
