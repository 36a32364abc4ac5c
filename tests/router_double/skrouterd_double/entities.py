"""The router's configured entities (what management CREATE/DELETE/READ/QUERY act on).

Naming follows the real agents: ``identity`` is ``<short type>/<identifier>`` where the
identifier is ``host:port:name`` for listeners, connectors and the tcp/http adaptors, the name
for sslProfiles, the module for logs, the id for the router and a per-type counter otherwise;
``name`` defaults to the identity. The C core's ``router.config.*`` entities instead get a
number as identity and ``address/<n>`` (``autoLink/<n>``) as default name, as observed on the
real 2.5.3. ``name`` and ``identity`` are unique across all entities.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .schema import Schema

_HOST_PORT_NAME_TYPES = ("listener", "connector", "tcpListener", "tcpConnector",
                         "httpListener", "httpConnector")

_CORE_CONFIG_TYPES = {"router.config.address": "address", "router.config.autoLink": "autoLink"}


class EntityConflict(ValueError):
    """A new entity's name or identity is already taken."""


@dataclass
class Entity:
    """One configured entity. ``attributes`` hold schema-validated values plus name/identity/type."""

    short_type: str
    attributes: dict[str, Any]
    # Runtime state the router keeps for the entity (e.g. connectionStatus); merged into reads.
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.attributes["name"]

    @property
    def identity(self) -> str:
        return self.attributes["identity"]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.attributes.get(key)
        return default if value is None else value

    def record(self) -> dict[str, Any]:
        """The attribute map management returns for this entity."""
        return {**self.attributes, **self.status}


class EntityStore:
    """Entities by short type, in creation order."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._entities: list[Entity] = []
        self._counters: dict[str, Iterator[int]] = {}
        self._core_ids = itertools.count(1)

    def add(self, full_type: str, attrs: dict[str, Any]) -> Entity:
        """Add validated attributes; assigns identity/name; raises EntityConflict on duplicates."""
        short = self.schema.entity_type(full_type).short_name
        attributes = dict(attrs)
        if short in _CORE_CONFIG_TYPES:
            identity = str(next(self._core_ids))
            index = sum(1 for e in self._entities if e.short_type == short)
            attributes.setdefault("name", "%s/%d" % (_CORE_CONFIG_TYPES[short], index))
        else:
            identity = "%s/%s" % (short, self._identifier(short, attributes))
            attributes.setdefault("name", identity)
        attributes["identity"] = identity
        for other in self._entities:
            for key in ("name", "identity"):
                if other.attributes.get(key) == attributes[key]:
                    # the real Python agent's wording
                    raise EntityConflict("adding %s duplicates unique attribute '%s' from existing %s"
                                         % (_describe(short, attributes), key,
                                            _describe(other.short_type, other.attributes)))
        entity = Entity(short, attributes)
        self._entities.append(entity)
        return entity

    def remove(self, entity: Entity) -> None:
        self._entities.remove(entity)

    def of_type(self, short_type: str) -> list[Entity]:
        return [e for e in self._entities if e.short_type == short_type]

    def all(self) -> list[Entity]:
        return list(self._entities)

    def find(self, key: str, value: Any) -> list[Entity]:
        """Entities whose ``key`` attribute (name or identity) equals ``value``."""
        return [e for e in self._entities if e.attributes.get(key) == value]

    def named(self, short_type: str, name: str) -> Entity | None:
        for entity in self.of_type(short_type):
            if entity.name == name:
                return entity
        return None

    def first(self, short_type: str, test: Callable[[Entity], bool] = lambda e: True) -> Entity | None:
        return next((e for e in self.of_type(short_type) if test(e)), None)

    def _identifier(self, short: str, attributes: dict[str, Any]) -> str:
        if short in _HOST_PORT_NAME_TYPES:
            parts = [str(attributes.get("host", "")), str(attributes.get("port", ""))]
            if attributes.get("name"):
                parts.append(attributes["name"])
            return ":".join(parts)
        if short == "sslProfile" and attributes.get("name"):
            return attributes["name"]
        if short == "log":
            return attributes["module"]
        if short == "router" and attributes.get("id"):
            return attributes["id"]
        counter = self._counters.setdefault(short, itertools.count())
        return str(next(counter))


def _describe(short: str, attributes: dict[str, Any]) -> str:
    """``SslProfileEntity(caCertFile=/x, name=p)``, as the real agent names an entity."""
    words = short.split(".")[-1]
    return "%sEntity(%s)" % (words[:1].upper() + words[1:], ", ".join(
        "%s=%s" % (k, attributes[k]) for k in sorted(attributes) if attributes[k] is not None))
