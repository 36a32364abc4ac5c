"""vanflow messages as JSON fixtures that keep their AMQP types, and back.

A value is stored as ``[type, value]`` (``uint``, ``ulong``, ``long``, ``symbol``, ``str``,
``null``, ``list``, ``map``) so a fixture replays exactly what a router or controller sent:
uint keys, ulong times, symbol app-property keys of router beacons, null bodies.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proton import Message, symbol, uint, ulong

FIXTURES = Path(__file__).parent / "unit" / "flow_fixtures"


def typed(value: Any) -> list:
    if value is None:
        return ["null", None]
    for kind, cls in (("uint", uint), ("ulong", ulong), ("symbol", symbol)):
        if type(value) is cls:
            return [kind, str(value) if kind == "symbol" else int(value)]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["long", value]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, (list, tuple)):
        return ["list", [typed(v) for v in value]]
    if isinstance(value, dict):
        return ["map", [[typed(k), typed(v)] for k, v in value.items()]]
    return ["str", str(value)]


def untyped(item: list) -> Any:
    kind, value = item
    if kind == "null":
        return None
    simple = {"uint": uint, "ulong": ulong, "symbol": symbol, "long": int, "str": str, "bool": bool}
    if kind in simple:
        return simple[kind](value)
    if kind == "list":
        return [untyped(v) for v in value]
    return {untyped(k): untyped(v) for k, v in value}


def to_fixture(message: Message) -> dict:
    return {"to": message.address, "subject": message.subject,
            "properties": typed(dict(message.properties or {})), "body": typed(message.body)}


def from_fixture(data: dict) -> Message:
    return Message(address=data["to"], subject=data["subject"], properties=untyped(data["properties"]),
                   body=untyped(data["body"]))


def load(name: str) -> list[Message]:
    """The messages of ``tests/unit/flow_fixtures/<name>``, in the order they were received."""
    return [from_fixture(item) for item in json.loads((FIXTURES / name).read_text())["messages"]]
