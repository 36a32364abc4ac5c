"""Validation against the skupper-router management schema (``skrouter.json``).

Standard library only: this module also runs inside the router-double image with a plain
``python3``. It reproduces what the real router's schema code does with an entity's
attributes (the router validates every config-file entity and every CREATE body this way):

* ``None`` values count as absent; absent attributes get their schema ``default``; an absent
  ``required`` attribute without a default is an error.
* every attribute is then coerced to its schema type: ``string``/``path``/``entityId`` take any
  scalar and become ``str``; ``integer`` takes ints and decimal digit strings; ``boolean``
  takes bools and ``yes/no/true/false/on/off`` (any case); an enum takes one of its tags (or,
  like the router, a tag index); ``map``/``dict``/``properties`` need a dict, ``list`` a list.
* attributes are inherited along ``extends`` (own attributes first, then the base's), so
  ``name``, ``identity`` and ``type`` from ``entity`` exist on every type.
* a deprecated attribute name (``deprecationName``) is moved to its new name.

Stricter than the router on purpose: values the router would silently mangle (``str`` of a
list, ``int`` of a float with a fraction, ``bool`` of a number) are rejected, because they only
ever come from a bug in the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

_BOOLEAN_WORDS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_STRING_TYPES = ("string", "path", "entityId")
_MAP_TYPES = ("map", "dict")
# Names the config-file loader maps to a longer entity type name (the router's config.py).
_CONFIG_TYPE_ALIASES = {
    "address": "router.config.address",
    "autoLink": "router.config.autoLink",
    "exchange": "router.config.exchange",
    "binding": "router.config.binding",
}
_ALWAYS_ALLOWED = ("name", "identity", "type")


class SchemaError(ValueError):
    """An entity or config does not satisfy the schema.

    ``entity_type`` and ``attribute`` name what failed when known (``None`` otherwise).
    """

    def __init__(self, message: str, entity_type: str | None = None,
                 attribute: str | None = None) -> None:
        super().__init__(message)
        self.entity_type = entity_type
        self.attribute = attribute


class _BadValue(Exception):
    """Internal: a value cannot be coerced to an attribute's type."""


@dataclass(frozen=True)
class AttributeDef:
    """One attribute of an entity type, as the schema declares it."""

    name: str
    type: str | tuple[str, ...]
    default: Any = None
    required: bool = False
    create: bool = False
    update: bool = False
    deprecation_name: str | None = None

    def type_label(self) -> str:
        """Human-readable type, e.g. ``integer`` or ``one of [in, out]``."""
        if isinstance(self.type, tuple):
            return "one of [%s]" % ", ".join(self.type)
        return self.type

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` to this attribute's Python type or raise ``_BadValue``."""
        if isinstance(self.type, tuple):
            return _coerce_enum(self.type, value)
        if self.type in _STRING_TYPES:
            return _coerce_string(value)
        if self.type == "integer":
            return _coerce_integer(value)
        if self.type == "boolean":
            return _coerce_boolean(value)
        if self.type in _MAP_TYPES:
            if not isinstance(value, dict):
                raise _BadValue
            return dict(value)
        if self.type == "properties":
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and k.isascii() for k in value):
                raise _BadValue
            return dict(value)
        if self.type == "list":
            if not isinstance(value, (list, tuple)):
                raise _BadValue
            return list(value)
        raise _BadValue


def _coerce_string(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple, set)):
        raise _BadValue
    return str(value)


def _coerce_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _BadValue
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise _BadValue


def _coerce_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value.lower()]
    raise _BadValue


def _coerce_enum(tags: tuple[str, ...], value: Any) -> str:
    if isinstance(value, str) and value in tags:
        return value
    # The router also accepts a tag's index (int or digit string).
    try:
        index = _coerce_integer(value)
    except _BadValue:
        raise _BadValue from None
    if 0 <= index < len(tags):
        return tags[index]
    raise _BadValue


@dataclass
class EntityTypeDef:
    """An entity type with its inherited attributes and operations resolved."""

    name: str
    short_name: str
    attributes: dict[str, AttributeDef] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    singleton: bool = False

    def deprecated_names(self) -> dict[str, str]:
        """Map of deprecated attribute name -> current name."""
        return {a.deprecation_name: a.name for a in self.attributes.values() if a.deprecation_name}


class Schema:
    """The entity types of one ``skrouter.json`` and validation against them."""

    def __init__(self, prefix: str, types: dict[str, EntityTypeDef]) -> None:
        self.prefix = prefix
        self._types = types

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str) -> "Schema":
        """Read a ``skrouter.json`` schema file."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schema":
        """Build a schema from the parsed JSON document."""
        prefix = data["prefix"].strip(".")
        raw_types: dict[str, dict[str, Any]] = data["entityTypes"]
        resolved: dict[str, EntityTypeDef] = {}

        def resolve(short: str) -> EntityTypeDef:
            full = "%s.%s" % (prefix, short)
            if full in resolved:
                return resolved[full]
            raw = raw_types[short]
            own = {name: _attribute_def(name, spec) for name, spec in
                   raw.get("attributes", {}).items()}
            entity = EntityTypeDef(name=full, short_name=short, attributes=own,
                                   operations=list(raw.get("operations", [])),
                                   singleton=bool(raw.get("singleton", False)))
            base_short = raw.get("extends")
            if base_short:
                base = resolve(base_short)
                clash = set(own) & set(base.attributes)
                if clash:
                    raise SchemaError("%s re-defines inherited attributes: %s"
                                      % (full, ", ".join(sorted(clash))), full)
                entity.attributes.update(base.attributes)
                entity.operations += [op for op in base.operations if op not in entity.operations]
                entity.bases = [base.name] + base.bases
            resolved[full] = entity
            return entity

        for short in raw_types:
            resolve(short)
        return cls(prefix, resolved)

    # -- lookup -------------------------------------------------------------------------------

    def full_type(self, name: str) -> str:
        """The fully qualified type name for a short (``listener``) or full name."""
        if not isinstance(name, str) or not name:
            raise SchemaError("No such entity type '%s'" % (name,))
        full = name if name.startswith(self.prefix + ".") else "%s.%s" % (self.prefix, name)
        if full not in self._types:
            raise SchemaError("No such entity type '%s'" % name)
        return full

    def entity_type(self, name: str) -> EntityTypeDef:
        """The resolved definition of an entity type (short or full name)."""
        return self._types[self.full_type(name)]

    def attribute_names(self, type_name: str) -> list[str]:
        """All attribute names of a type, own ones first, then inherited ones."""
        return list(self.entity_type(type_name).attributes)

    def operations(self, type_name: str) -> list[str]:
        """The operations a type allows, own ones first, then inherited ones."""
        return list(self.entity_type(type_name).operations)

    def is_a(self, type_name: str, base_name: str) -> bool:
        """True when ``type_name`` is ``base_name`` or extends it (directly or not)."""
        entity = self.entity_type(type_name)
        base = self.full_type(base_name)
        return entity.name == base or base in entity.bases

    # -- validation ---------------------------------------------------------------------------

    def validate_entity(self, type_name: str, attrs: dict[str, Any], *,
                        creating: bool = False) -> dict[str, Any]:
        """Validate one entity; return a new dict with coerced values and defaults applied.

        ``creating`` additionally rejects attributes the schema does not allow in CREATE.
        The result always carries ``type`` (the full type name).
        """
        entity = self.entity_type(type_name)
        if not isinstance(attrs, dict):
            raise SchemaError("%s: attributes must be a map, not %s"
                              % (entity.name, type(attrs).__name__), entity.name)
        given = self._undeprecate(entity, attrs)
        if creating:
            self._check_create(entity, given)
        result: dict[str, Any] = {}
        for name, value in given.items():
            if name == "type":
                result[name] = self._check_type_value(entity, value)
                continue
            attribute = self._attribute(entity, name)
            result[name] = self._coerce(entity, attribute, value)
        result.setdefault("type", entity.name)
        for attribute in entity.attributes.values():
            if attribute.name in result:
                continue
            if attribute.default is not None:
                result[attribute.name] = self._coerce(entity, attribute, attribute.default)
            elif attribute.required:
                raise SchemaError("%s: Missing required attribute '%s'"
                                  % (entity.name, attribute.name), entity.name, attribute.name)
        return result

    def validate_config(self, entities: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
        """Validate a whole config file (a list of ``[type, attributes]`` pairs).

        Types and attribute keys are read the way the router's config loader reads them
        (hyphenated names become camelCase; ``address``/``autoLink`` mean their
        ``router.config.`` types). Singletons (``router``) may not repeat and
        ``name``/``identity`` must be unique across the file; a file without a ``router`` is
        fine (the router then runs standalone, as the real one does). Returns ``(full type,
        validated attributes)`` pairs in file order.
        """
        if not isinstance(entities, list):
            raise SchemaError("A router config must be a list of [type, attributes] pairs")
        validated: list[tuple[str, dict[str, Any]]] = []
        for index, entry in enumerate(entities):
            if (not isinstance(entry, (list, tuple)) or len(entry) != 2
                    or not isinstance(entry[0], str) or not isinstance(entry[1], dict)):
                raise SchemaError("Config entry %d is not a [type, attributes] pair: %r"
                                  % (index, entry))
            short = _config_type_name(entry[0])
            # (an unknown type is reported by its full name, as the real config loader does)
            type_name = self.full_type(short if short.startswith(self.prefix + ".")
                                       else "%s.%s" % (self.prefix, short))
            attrs = {_camel_case(key): value for key, value in entry[1].items()}
            attrs = self.validate_entity(type_name, attrs)
            self._check_unique(type_name, attrs, validated)
            validated.append((type_name, attrs))
        return validated

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _attribute(entity: EntityTypeDef, name: str) -> AttributeDef:
        try:
            return entity.attributes[name]
        except KeyError:
            raise SchemaError("%s: Unknown attribute '%s' for '%s'"
                              % (entity.name, name, entity.name), entity.name, name) from None

    @staticmethod
    def _coerce(entity: EntityTypeDef, attribute: AttributeDef, value: Any) -> Any:
        try:
            return attribute.coerce(value)
        except _BadValue:
            # The real router's wording where it is known; it does not name the attribute, the
            # double adds it after that wording.
            named = " (attribute '%s')" % attribute.name
            if isinstance(attribute.type, tuple):
                text = "Invalid value for enum%s: %r%s" % (list(attribute.type), value, named)
            elif attribute.type == "integer" and isinstance(value, str):
                text = "invalid literal for int() with base 10: %r%s" % (value, named)
            elif attribute.type == "boolean" and isinstance(value, str):
                text = "Invalid Boolean value '%r'%s" % (value, named)
            else:
                text = "Invalid value for attribute '%s' (%s): %r" % (
                    attribute.name, attribute.type_label(), value)
            raise SchemaError("%s: %s" % (entity.name, text), entity.name, attribute.name) from None

    def _check_type_value(self, entity: EntityTypeDef, value: Any) -> str:
        try:
            named = self.full_type(value)
        except SchemaError:
            named = None
        if named != entity.name:
            raise SchemaError("%s: attribute 'type' is %r, expected %r"
                              % (entity.name, value, entity.name), entity.name, "type")
        return named

    @staticmethod
    def _undeprecate(entity: EntityTypeDef, attrs: dict[str, Any]) -> dict[str, Any]:
        """Drop ``None`` values and move deprecated attribute names to their current name."""
        given = {k: v for k, v in attrs.items() if v is not None}
        for old, new in entity.deprecated_names().items():
            if old not in given:
                continue
            if new in given:
                raise SchemaError("%s: Both '%s' and '%s' cannot be specified"
                                  % (entity.name, old, new), entity.name, old)
            given[new] = given.pop(old)
        return given

    def _check_create(self, entity: EntityTypeDef, given: dict[str, Any]) -> None:
        for name in given:
            if name in _ALWAYS_ALLOWED:
                continue
            if not self._attribute(entity, name).create:
                raise SchemaError("%s: Cannot set attribute '%s' in CREATE"
                                  % (entity.name, name), entity.name, name)

    def _check_unique(self, type_name: str, attrs: dict[str, Any],
                      earlier: list[tuple[str, dict[str, Any]]]) -> None:
        # The router treats name and identity as unique across all entities of a config.
        singleton = self._types[type_name].singleton
        for other_type, other in earlier:
            if singleton and other_type == type_name:
                raise SchemaError("Adding %s singleton %r when %r already exists"
                                  % (type_name, attrs, other), type_name)
            for key in ("name", "identity"):
                if key in attrs and attrs[key] == other.get(key):
                    raise SchemaError("%s: %s %r duplicates the %s of an earlier %s entity"
                                      % (type_name, key, attrs[key], key, other_type),
                                      type_name, key)


def _attribute_def(name: str, spec: dict[str, Any]) -> AttributeDef:
    raw_type = spec.get("type", "string")
    return AttributeDef(
        name=name,
        type=tuple(raw_type) if isinstance(raw_type, list) else raw_type,
        default=spec.get("default"),
        required=bool(spec.get("required", False)),
        create=bool(spec.get("create", False)),
        update=bool(spec.get("update", False)),
        deprecation_name=spec.get("deprecationName"),
    )


def _camel_case(name: str) -> str:
    """``max-frame-size`` -> ``maxFrameSize`` (names without hyphens are unchanged)."""
    head, *rest = [part for part in name.split("-") if part] or [name]
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _config_type_name(name: str) -> str:
    name = _camel_case(name)
    return _CONFIG_TYPE_ALIASES.get(name, name)
