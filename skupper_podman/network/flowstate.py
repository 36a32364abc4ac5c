"""What a vanflow collector knows: event sources and their live records, with 1.5's rules.

Pure state, no I/O (it also runs inside the site controller, so it imports only the standard
library and ``vanflow``). The rules are the Go collector's (``vanflow.md`` §7):

* a BEACON with a new ``id`` makes a new event source (its addresses are to be subscribed);
* a HEARTBEAT whose ``to`` (minus ``mc/``) is a pending source's ``direct`` arms its FLUSH;
* a record is added only when StartTime > 0 and EndTime = 0 (a FLOW: any StartTime); later
  records for a known identity merge their attributes (1.5 keeps only some; keeping all only
  means later values show), EndTime > 0 deletes it; updates to unknown identities are dropped;
* a source not heard for ``purge_after`` seconds (1.5: 60) is purged with every record it sent.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

try:
    from skupper_podman.network import vanflow
except ImportError:  # inside the controller container the modules sit side by side
    import vanflow  # type: ignore[no-redef]

PURGE_AFTER = 60.0


@dataclass
class EventSource:
    """A router or controller that announced itself with a beacon."""

    id: str
    type: str
    address: str
    direct: str
    last_heard: float
    flush_pending: bool = True
    flushes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "address": self.address, "direct": self.direct,
                "lastHeard": self.last_heard, "flushes": self.flushes}


@dataclass
class FlowRecord:
    """One live record: its type, identity, the source that sent it, and its attributes."""

    type: int
    identity: str
    source: str
    attributes: dict[int, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(vanflow.ATTR[name], default)

    @property
    def type_name(self) -> str:
        return vanflow.TYPE_NAMES.get(self.type, str(self.type))

    def to_json(self) -> dict[str, Any]:
        """Attributes by name, as ``debug dump`` and the snapshot file hold them."""
        attrs = {vanflow.name_of(code): value for code, value in sorted(self.attributes.items())}
        return {"type": self.type_name, "source": self.source, **attrs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowRecord:
        attrs = {vanflow.ATTR[k]: v for k, v in data.items() if k in vanflow.ATTR}
        type_code = next((c for c, n in vanflow.TYPE_NAMES.items() if n == data.get("type")), -1)
        attrs[vanflow.TYPE_OF_RECORD] = type_code
        return cls(type_code, str(attrs.get(vanflow.IDENTITY, "")), str(data.get("source", "")), attrs)


@dataclass(frozen=True)
class Change:
    """What applying a message changed, for event logs and iterating collectors."""

    what: str  # "source", "added", "updated", "deleted", "purged"
    type: str
    identity: str


class FlowState:
    """Sources and records of the whole network, as learnt from vanflow messages."""

    def __init__(self, purge_after: float = PURGE_AFTER) -> None:
        self.purge_after = purge_after
        self.sources: dict[str, EventSource] = {}
        self.records: dict[str, FlowRecord] = {}

    # -- messages --------------------------------------------------------------------------
    def beacon(self, props: dict[str, Any], now: float) -> EventSource | None:
        """Refresh or create the source; return it when it is new (to be subscribed)."""
        source_id = str(props.get("id") or "")
        address, direct = str(props.get("address") or ""), str(props.get("direct") or "")
        if not source_id or not address or not direct:
            return None
        known = self.sources.get(source_id)
        if known is not None:
            known.last_heard = now
            return None
        source = EventSource(source_id, str(props.get("sourceType") or ""), address, direct, now)
        self.sources[source_id] = source
        return source

    def heartbeat(self, props: dict[str, Any], to: str, now: float) -> EventSource | None:
        """Refresh liveness; return the source whose FLUSH this heartbeat arms (once)."""
        source = self.sources.get(str(props.get("id") or ""))
        if source is not None:
            source.last_heard = now
        direct = to.removeprefix("mc/")
        ready = next((s for s in self.sources.values() if s.flush_pending and s.direct == direct), None)
        if ready is not None:
            ready.flush_pending = False
            ready.flushes += 1
        return ready

    def apply(self, source_id: str, records: tuple[dict[int, Any], ...], now: float) -> list[Change]:
        """Apply a RECORD message's records (sent to ``mc/sfe.<source_id>``)."""
        source = self.sources.get(source_id)
        if source is not None:
            source.last_heard = now
        return [c for c in (self._apply_one(source_id, r) for r in records) if c is not None]

    def _apply_one(self, source_id: str, attrs: dict[int, Any]) -> Change | None:
        rtype, identity = attrs[vanflow.TYPE_OF_RECORD], attrs[vanflow.IDENTITY]
        known = self.records.get(identity)
        ended = int(attrs.get(vanflow.END_TIME) or 0) > 0
        if known is None:
            start = int(attrs.get(vanflow.START_TIME) or 0)
            if ended or start <= 0:
                return None
            self.records[identity] = FlowRecord(rtype, identity, source_id, dict(attrs))
            return Change("added", vanflow.TYPE_NAMES.get(rtype, str(rtype)), identity)
        if ended:
            del self.records[identity]
            return Change("deleted", known.type_name, identity)
        before = dict(known.attributes)
        known.attributes.update({k: v for k, v in attrs.items() if k != vanflow.TYPE_OF_RECORD})
        return Change("updated", known.type_name, identity) if known.attributes != before else None

    # -- liveness --------------------------------------------------------------------------
    def purge(self, now: float) -> list[EventSource]:
        """Drop sources silent for longer than ``purge_after`` and every record they sent."""
        silent = [s for s in self.sources.values() if now - s.last_heard > self.purge_after]
        for source in silent:
            del self.sources[source.id]
            for identity in [i for i, r in self.records.items() if r.source == source.id]:
                del self.records[identity]
        return silent

    # -- reading ---------------------------------------------------------------------------
    def of_type(self, rtype: int) -> Iterator[FlowRecord]:
        return (r for r in self.records.values() if r.type == rtype)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able copy: sources and records by name (what the controller writes to its file)."""
        return {"sources": [s.to_json() for s in self.sources.values()],
                "records": [r.to_json() for r in self.records.values()]}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], purge_after: float = PURGE_AFTER) -> FlowState:
        state = cls(purge_after)
        for item in data.get("sources") or []:
            state.sources[item["id"]] = EventSource(item["id"], item.get("type", ""), item.get("address", ""),
                                                    item.get("direct", ""), float(item.get("lastHeard", 0)),
                                                    False, int(item.get("flushes", 0)))
        for item in data.get("records") or []:
            record = FlowRecord.from_json(item)
            if record.identity:
                state.records[record.identity] = record
        return state
