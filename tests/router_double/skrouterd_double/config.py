"""Reading a router config file the way skupper-router 2.5.3 does (JSON format only).

A file whose name ends in ``.json`` is a JSON list of ``[type, attributes]`` pairs; lines whose
first non-blank character is ``#`` are dropped first. Any other file would be parsed by the real
router's older ``.conf`` block syntax, which the double does not implement: it is refused with
the real router's "Cannot load configuration file" wording, so a JSON config handed over as
``.conf`` fails like it does on the real router.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Schema, SchemaError


class ConfigError(Exception):
    """The config file cannot be loaded; the message is what the router prints."""


def read_config_text(path: str) -> list[Any]:
    """Parse ``path`` into the raw list of ``[type, attributes]`` pairs."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError as exc:
        raise ConfigError("Cannot load configuration file %s: %s" % (path, exc.strerror)) from None
    if not path.endswith(".json"):
        raise ConfigError("Cannot load configuration file %s: only the JSON config format "
                          "(a file named *.json) is supported by this router" % path)
    text = "".join("\n" if line.lstrip().startswith("#") else line for line in lines)
    try:
        entities = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("Cannot load configuration file %s: %s" % (path, exc)) from None
    return entities


def load_config(path: str, schema: Schema) -> list[tuple[str, dict[str, Any]]]:
    """Read and validate a config file: ``(full type, attributes)`` pairs in load order."""
    entities = read_config_text(path)
    try:
        validated = schema.validate_config(entities)
    except SchemaError as exc:
        raise ConfigError("Cannot load configuration file %s: %s" % (path, exc)) from None
    return sorted(validated, key=lambda item: _load_rank(schema, item[0]))


# The real loader configures these types first (in this order) and links last.
_FIRST = ("log", "router", "sslProfile", "router.config.address")
_LAST = ("connector", "listener", "tcpListener", "tcpConnector", "httpListener", "httpConnector")


def _load_rank(schema: Schema, full_type: str) -> int:
    short = schema.entity_type(full_type).short_name
    if short in _FIRST:
        return _FIRST.index(short)
    if short in _LAST:
        return len(_FIRST) + 1 + _LAST.index(short)
    return len(_FIRST)
