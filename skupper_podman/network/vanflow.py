"""The vanflow wire protocol of Skupper 1.5 / router 2.5.3: addresses, codes, encoding, messages.

Shared by the site controller (which runs inside the router image, so this module imports only
the standard library and ``proton``) and by the library's collector. Everything here follows
``vanflow.md``: keys are AMQP ``uint``, TypeOfRecord ``uint``, times and counters ``ulong``,
strings ``str`` (never ``symbol``); a RECORD body is a list of maps.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from proton import Message, symbol, uint, ulong

PROTOCOL_VERSION = 1
BEACON_ADDRESS = "mc/sfe.all"
BEACON, HEARTBEAT, RECORD, FLUSH = "BEACON", "HEARTBEAT", "RECORD", "FLUSH"
SOURCE_ROUTER, SOURCE_CONTROLLER = "ROUTER", "CONTROLLER"
SUB_ADDRESSES = (".flows", ".logs", ".heartbeats")  # a source's addresses beside mc/sfe.<id>

# record types (TypeOfRecord values)
SITE, ROUTER, LINK, CONTROLLER, LISTENER, CONNECTOR, FLOW, PROCESS = range(8)
HOST, LOG = 13, 14
TYPE_NAMES = {
    0: "SITE", 1: "ROUTER", 2: "LINK", 3: "CONTROLLER", 4: "LISTENER", 5: "CONNECTOR", 6: "FLOW",
    7: "PROCESS", 8: "IMAGE", 9: "INGRESS", 10: "EGRESS", 11: "COLLECTOR", 12: "PROCESS_GROUP",
    13: "HOST", 14: "LOG",
}

ATTRIBUTE_NAMES = (
    "TypeOfRecord", "Identity", "Parent", "StartTime", "EndTime", "CounterFlow", "PeerIdentity",
    "ProcessIdentity", "SiblingOrdinal", "Location", "Provider", "Platform", "Namespace", "Mode",
    "SourceHost", "DestHost", "Protocol", "SourcePort", "DestPort", "VanAddress", "ImageName",
    "ImageVersion", "HostName", "Octets", "Latency", "TransitLatency", "Backlog", "Method", "Result",
    "Reason", "Name", "Trace", "BuildVersion", "LinkCost", "Direction", "OctetRate", "OctetsOut",
    "OctetsUnacked", "WindowClosures", "WindowSize", "FlowCountL4", "FlowCountL7", "FlowRateL4",
    "FlowRateL7", "Duration", "Image", "Group", "StreamIdentity", "LogSeverity", "LogText",
    "SourceFile", "SourceLine", "Version", "Policy", "Target",
)
ATTR = {name: code for code, name in enumerate(ATTRIBUTE_NAMES)}
TYPE_OF_RECORD, IDENTITY, PARENT, START_TIME, END_TIME = 0, 1, 2, 3, 4
# attributes the router sends as ulong (vanflow.h "uint" attributes, counters included)
ULONG_ATTRIBUTES = frozenset({3, 4, 8, 23, 24, 25, 26, 33, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 47, 48, 51})


def now_us() -> int:
    """Wall clock in microseconds since the epoch (vanflow times)."""
    return time.time_ns() // 1000


def name_of(code: int) -> str:
    return ATTRIBUTE_NAMES[code] if 0 <= code < len(ATTRIBUTE_NAMES) else str(code)


def encode(attributes: Mapping[int, Any]) -> dict:
    """One record as the AMQP map collectors accept: uint keys, uint type, ulong times and counters."""
    out: dict = {}
    for code, value in attributes.items():
        if value is None:
            continue
        if code == TYPE_OF_RECORD:
            out[uint(code)] = uint(int(value))
        elif code in ULONG_ATTRIBUTES:
            out[uint(code)] = ulong(int(value))
        else:
            out[uint(code)] = str(value)
    return out


def decode(data: Any) -> dict[int, Any] | None:
    """A received record map as ``{code: plain value}``; None when it is no record (no type or id).

    Accepts what real routers and controllers send: keys of any integer type, symbols as strings.
    """
    if not isinstance(data, Mapping):
        return None
    out: dict[int, Any] = {}
    for key, value in data.items():
        if isinstance(key, bool) or not isinstance(key, int):
            continue
        if isinstance(value, (symbol, str)):
            out[int(key)] = str(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out[int(key)] = int(value)
    if not isinstance(out.get(IDENTITY), str) or not isinstance(out.get(TYPE_OF_RECORD), int):
        return None
    return out


def record_address(source_id: str) -> str:
    return f"mc/sfe.{source_id}"


def direct_address(source_id: str) -> str:
    return f"sfe.{source_id}"


def beacon_message(source_id: str, source_type: str = SOURCE_CONTROLLER, version: str = "") -> Message:
    """A controller BEACON as the 1.5 Go controller sends it (string keys, JSON string body)."""
    address, direct = record_address(source_id), direct_address(source_id)
    body = json.dumps({"version": PROTOCOL_VERSION, "sourceType": source_type, "address": address,
                       "direct": direct, "identity": source_id}, separators=(",", ":"))
    return Message(address=BEACON_ADDRESS, subject=BEACON, body=body, properties={
        "v": uint(PROTOCOL_VERSION), "sourceType": source_type, "address": address, "direct": direct,
        "id": source_id})


def heartbeat_message(source_id: str) -> Message:
    """A controller HEARTBEAT: ``to`` is the record address (not the link's ``.heartbeats``)."""
    return Message(address=record_address(source_id), subject=HEARTBEAT, properties={
        "v": uint(PROTOCOL_VERSION), "now": ulong(now_us()), "id": source_id})


def record_message(parent_id: str, records: Iterable[Mapping[int, Any]]) -> Message:
    return Message(address=record_address(parent_id), subject=RECORD, body=[encode(r) for r in records])


def flush_message(direct: str) -> Message:
    return Message(address=direct, subject=FLUSH)


@dataclass(frozen=True)
class Received:
    """A vanflow message as a collector sees it."""

    kind: str
    to: str
    properties: dict[str, Any]
    records: tuple[dict[int, Any], ...] = ()

    @property
    def source_id(self) -> str:
        """The id a message refreshes: ``id`` of beacons and heartbeats, ``to`` of records."""
        if self.kind == RECORD:
            source = self.to.removeprefix("mc/sfe.")
            for suffix in SUB_ADDRESSES:
                source = source.removesuffix(suffix)
            return source
        return str(self.properties.get("id", ""))


def parse(message: Message) -> Received | None:
    """Classify a received message by subject; None for anything that is not vanflow."""
    kind = str(message.subject or "")
    if kind not in (BEACON, HEARTBEAT, RECORD, FLUSH):
        return None
    props = {str(k): (str(v) if isinstance(v, symbol) else v) for k, v in (message.properties or {}).items()}
    records: tuple[dict[int, Any], ...] = ()
    if kind == RECORD and isinstance(message.body, (list, tuple)):
        records = tuple(r for r in (decode(item) for item in message.body) if r is not None)
    return Received(kind, str(message.address or ""), props, records)
