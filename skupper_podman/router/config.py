"""The router config file ``skrouterd.json``: a small model and the configs Skupper 1.5 writes.

The file is a JSON list of ``[entityType, attributes]`` pairs. Skupper 1.5 writes it with a
4-space indent, entity types in a fixed order and attributes in its struct order, with a few
type quirks the real router accepts (the router's ``helloMaxAgeSeconds`` is the *string*
``"3"``, a listener's ``port`` an int, every other ``port`` a string). :class:`RouterConfig`
reads and writes that layout; the functions below build the entities of a site, of a link and
of a service router. Everything here is pure: text and dataclasses in, text out.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from skupper_podman.errors import DamagedState, InputError
from skupper_podman.resources import jinja_env
from skupper_podman.versions import SKUPPER_COMPAT_VERSION
from skupper_podman.router.logging_spec import LogEntry

Attributes = dict[str, Any]
Entity = tuple[str, Attributes]

CERTS_DIR = "/etc/skupper-router-certs"
PLATFORM = "podman"
MAX_FRAME_SIZE = 16384
MAX_SESSION_FRAMES = 640
ROUTER_HOST = "skupper-router"
# Profiles of the site router; their directories are the mounted credential volumes.
SITE_PROFILES = ("skupper-amqps", "skupper-internal")
SERVICE_CLIENT_PROFILE = "skupper-service-client"
PROTOCOLS = ("tcp", "http", "http2")

_TCP_FIELDS = ("name", "host", "port", "address", "siteId", "sslProfile", "verifyHostname")
_HTTP_FIELDS = _TCP_FIELDS + ("protocolVersion", "aggregation", "eventChannel", "hostOverride")
# Entity types in file order, each with its attributes in Skupper 1.5's write order.
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "router": ("id", "mode", "helloMaxAgeSeconds", "dataConnectionCount", "metadata"),
    "sslProfile": ("name", "certFile", "privateKeyFile", "caCertFile"),
    "connector": ("name", "role", "host", "port", "routeContainer", "cost", "verifyHostname",
                  "sslProfile", "linkCapacity", "maxFrameSize", "maxSessionFrames"),
    "listener": ("name", "role", "host", "port", "routeContainer", "http", "cost", "sslProfile",
                 "saslMechanisms", "authenticatePeer", "linkCapacity", "httpRootDir",
                 "websockets", "healthz", "metrics", "maxFrameSize", "maxSessionFrames"),
    "address": ("prefix", "distribution"),
    "tcpConnector": _TCP_FIELDS,
    "tcpListener": _TCP_FIELDS,
    "httpConnector": _HTTP_FIELDS,
    "httpListener": _HTTP_FIELDS,
    "log": ("module", "enable"),
}
ENTITY_TYPES = tuple(FIELD_ORDER)
# The attribute that identifies an entity of each type (1.5 keys its maps by these).
_KEYS = {"router": None, "address": "prefix", "log": "module"}
# Attributes whose JSON type 1.5 fixes regardless of the router schema.
_INT_FIELDS = {("listener", "port")}
_STR_FIELDS = {("router", "helloMaxAgeSeconds"), ("router", "dataConnectionCount"),
               ("connector", "port")} | {(t, "port") for t in
                                         ("tcpConnector", "tcpListener", "httpConnector", "httpListener")}


def _key_attribute(entity_type: str) -> str | None:
    return _KEYS.get(entity_type, "name")


def _normalise(entity_type: str, attrs: Mapping[str, Any]) -> Attributes:
    """Fix 1.5's JSON types and put attributes in its write order (unknown ones last)."""
    values = dict(attrs)
    for name, value in values.items():
        if (entity_type, name) in _STR_FIELDS and not isinstance(value, str):
            values[name] = str(value)
        elif (entity_type, name) in _INT_FIELDS and isinstance(value, str) and value.isdigit():
            values[name] = int(value)
    order = FIELD_ORDER.get(entity_type, ())
    ordered = {name: values[name] for name in order if name in values}
    ordered.update((name, value) for name, value in values.items() if name not in ordered)
    return ordered


@dataclass
class RouterConfig:
    """An editable ``skrouterd.json``: entities grouped by type, written in 1.5's layout.

    Entities of types 1.5 does not know are kept and written after the known ones.
    """

    _entities: dict[str, list[Attributes]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | bytes, source: str = "router config") -> "RouterConfig":
        """Read a config file's text. Raises ``DamagedState`` naming ``source`` (the file) when
        it is not UTF-8 JSON holding a list of ``[type, attributes]`` pairs."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            reason = "not UTF-8" if isinstance(err, UnicodeDecodeError) else f"not JSON ({err})"
            raise DamagedState(f"damaged router config {source}: {reason}") from None
        if not isinstance(data, list):
            raise DamagedState(f"damaged router config {source}: expected a list of [type, attributes] pairs")
        config = cls()
        for entry in data:
            if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str)
                    or not isinstance(entry[1], dict)):
                raise DamagedState(f"damaged router config {source}: bad entry {json.dumps(entry)[:120]}")
            config.add(entry[0], entry[1])
        return config

    def types(self) -> list[str]:
        """Entity types present, in file order."""
        known = [t for t in ENTITY_TYPES if self._entities.get(t)]
        return known + [t for t in self._entities if t not in FIELD_ORDER and self._entities[t]]

    def entities(self, entity_type: str) -> list[Attributes]:
        """Copies of the attributes of every entity of ``entity_type``, in file order."""
        return [dict(attrs) for attrs in self._entities.get(entity_type, [])]

    def items(self) -> list[Entity]:
        """Every entity as ``(type, attributes)``, in file order."""
        return [(t, dict(a)) for t in self.types() for a in self._entities[t]]

    def get(self, entity_type: str, name: str | None = None) -> Attributes | None:
        """The entity of ``entity_type`` named ``name`` (the router needs no name), or None."""
        found = self._find(entity_type, name)
        return None if found is None else dict(self._entities[entity_type][found])

    def add(self, entity_type: str, attrs: Mapping[str, Any]) -> None:
        """Add an entity, replacing (in place) one of the same type and name."""
        normalised = _normalise(entity_type, attrs)
        key = _key_attribute(entity_type)
        found = self._find(entity_type, normalised.get(key) if key else None)
        bucket = self._entities.setdefault(entity_type, [])
        if found is None:
            bucket.append(normalised)
        else:
            bucket[found] = normalised

    def remove(self, entity_type: str, name: str | None = None) -> bool:
        """Remove the named entity; True if there was one."""
        found = self._find(entity_type, name)
        if found is None:
            return False
        del self._entities[entity_type][found]
        return True

    def router(self) -> Attributes:
        """The ``router`` entity (raises ``DamagedState`` when the file has none)."""
        router = self.get("router")
        if router is None:
            raise DamagedState("damaged router config: no router entity")
        return router

    def metadata(self) -> dict[str, Any]:
        """The router's metadata JSON (``id``, ``version``, ``platform``); ``{}`` if absent."""
        text = self.router().get("metadata")
        if not text:
            return {}
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise DamagedState(f"damaged router config: bad router metadata {str(text)[:120]}")
        return value

    def set_metadata(self, **changes: Any) -> None:
        """Update fields of the router's metadata (e.g. ``version=...`` on update)."""
        router = self.router()
        router["metadata"] = metadata_json({**self.metadata(), **changes})
        self.add("router", router)

    def log_entries(self) -> list[LogEntry]:
        """The ``log`` entities (e.g. to copy them to a service router)."""
        return [LogEntry(str(a.get("module", "")), str(a.get("enable", ""))) for a in self.entities("log")]

    def copy(self) -> "RouterConfig":
        """An independent copy."""
        return RouterConfig(copy.deepcopy(self._entities))

    def dumps(self) -> str:
        """The file text, byte-compatible with Go's ``json.MarshalIndent(v, "", "    ")``."""
        text = json.dumps([[t, a] for t, a in self.items()], indent=4, ensure_ascii=False)
        # Go escapes these inside strings (HTML safety); they cannot occur outside strings.
        for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                              ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
            text = text.replace(char, escaped)
        return text

    def _find(self, entity_type: str, name: str | None) -> int | None:
        bucket = self._entities.get(entity_type, [])
        key = _key_attribute(entity_type)
        for index, attrs in enumerate(bucket):
            if key is None or attrs.get(key) == name:
                return index
        return None


# -- building blocks ---------------------------------------------------------------------------

def metadata_json(fields: Mapping[str, Any]) -> str:
    """The router ``metadata`` string: compact JSON like Go's ``json.Marshal``."""
    return json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)


def site_metadata(site_id: str, version: str = SKUPPER_COMPAT_VERSION) -> str:
    """``{"id":<site id>,"version":<version>,"platform":"podman"}`` as a string."""
    return metadata_json({"id": site_id, "version": version, "platform": PLATFORM})


def profile_paths(name: str, simple: bool = False) -> dict[str, str]:
    """Container paths of sslProfile ``name``: ``/etc/skupper-router-certs/<name>/...``.

    A simple profile only trusts a CA, so it has just ``caCertFile``.
    """
    folder = f"{CERTS_DIR}/{name}"
    if simple:
        return {"caCertFile": f"{folder}/ca.crt"}
    return {"certFile": f"{folder}/tls.crt", "privateKeyFile": f"{folder}/tls.key",
            "caCertFile": f"{folder}/ca.crt"}


def ssl_profile(name: str, simple: bool = False) -> Attributes:
    """An ``sslProfile`` entity's attributes for the credential directory ``name``."""
    return {"name": name, **profile_paths(name, simple)}


def link_entities(name: str, host: str, port: str | int, cost: int = 1,
                  role: str = "inter-router") -> list[Entity]:
    """The sslProfile ``<name>-profile`` and connector ``<name>`` that a link adds."""
    profile = f"{name}-profile"
    connector = {"name": name, "role": role, "host": host, "port": str(port), "cost": cost,
                 "verifyHostname": True, "sslProfile": profile,
                 "maxFrameSize": MAX_FRAME_SIZE, "maxSessionFrames": MAX_SESSION_FRAMES}
    return [("sslProfile", ssl_profile(profile)), ("connector", _normalise("connector", connector))]


def site_config(site_name: str, site_id: str, logging: Sequence[LogEntry] = (),
                version: str = SKUPPER_COMPAT_VERSION) -> str:
    """The site router's initial ``skrouterd.json`` text."""
    profiles = [ssl_profile(name) for name in SITE_PROFILES]
    profiles.append(ssl_profile(SERVICE_CLIENT_PROFILE, simple=True))
    rendered = jinja_env("templates").get_template("skrouterd.json.j2").render(
        site_name=site_name, metadata=site_metadata(site_id, version), ssl_profiles=profiles,
        max_frame_size=MAX_FRAME_SIZE, max_session_frames=MAX_SESSION_FRAMES,
        logging=list(logging))
    return RouterConfig.parse(rendered).dumps()


# -- service routers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceTarget:
    """Where a service's traffic goes: a host and service port -> target port."""

    host: str
    ports: Mapping[int, int]


@dataclass(frozen=True)
class ServiceSpec:
    """What the service router of one service needs to know.

    ``tls_profile`` names the sslProfile (and credential directory under
    ``/etc/skupper-router-certs``) used for TLS; empty means no TLS (1.5 allows it for http2).
    """

    address: str
    ports: Sequence[int]
    protocol: str = "tcp"
    aggregate: str = ""
    event_channel: bool = False
    tls_profile: str = ""
    targets: Sequence[ServiceTarget] = ()

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise InputError(f"{self.protocol} is not a valid mapping. Choose 'tcp', 'http' or 'http2'.")


def _http_fields(spec: ServiceSpec) -> Attributes:
    fields: Attributes = {}
    if spec.aggregate:
        fields["aggregation"] = spec.aggregate
    if spec.event_channel:
        fields["eventChannel"] = True
    if spec.protocol == "http2":
        fields["protocolVersion"] = "HTTP2"
    return fields


def service_listener_entities(spec: ServiceSpec, site_id: str) -> list[Entity]:
    """One tcpListener/httpListener per service port, named and addressed ``<address>:<port>``."""
    entity_type = "tcpListener" if spec.protocol == "tcp" else "httpListener"
    entities = []
    for port in spec.ports:
        address = f"{spec.address}:{port}"
        attrs: Attributes = {"name": address, "port": str(port), "address": address,
                             "siteId": site_id}
        if spec.protocol != "tcp":
            attrs.update(_http_fields(spec))
        if spec.tls_profile and spec.protocol != "http":
            attrs["sslProfile"] = spec.tls_profile
        entities.append((entity_type, _normalise(entity_type, attrs)))
    return entities


def service_connector_entities(spec: ServiceSpec, site_id: str,
                               target: ServiceTarget) -> list[Entity]:
    """One tcpConnector/httpConnector per port mapping of ``target``.

    Named ``<address>@<host>:<S>:<T>``, addressed ``<address>:<S>``, with siteId
    ``<site id>-<address>`` as 1.5 writes them. TLS connectors use ``spec.tls_profile``
    (1.5 names ``skupper-service-client``, which a podman service router does not have).
    """
    entity_type = "tcpConnector" if spec.protocol == "tcp" else "httpConnector"
    entities = []
    for service_port, target_port in target.ports.items():
        attrs: Attributes = {
            "name": f"{spec.address}@{target.host}:{service_port}:{target_port}",
            "host": target.host, "port": str(target_port),
            "address": f"{spec.address}:{service_port}", "siteId": f"{site_id}-{spec.address}",
        }
        if spec.protocol != "tcp":
            attrs.update(_http_fields(spec))
        if spec.tls_profile and spec.protocol != "http":
            attrs["sslProfile"] = spec.tls_profile
        if spec.protocol != "http":
            attrs["verifyHostname"] = False
        entities.append((entity_type, _normalise(entity_type, attrs)))
    return entities


def service_router_id(site_name: str, address: str) -> str:
    """The id of a service's edge router: ``<site name>-<address>``."""
    return f"{site_name}-{address}"


def service_config(site_name: str, site_id: str, spec: ServiceSpec,
                   logging: Sequence[LogEntry] = (), version: str = SKUPPER_COMPAT_VERSION,
                   uplink_host: str = ROUTER_HOST) -> str:
    """The ``skrouterd.json`` text of a service's edge router container."""
    profiles = [ssl_profile("skupper-internal")]
    if spec.tls_profile:
        profiles.append(ssl_profile(spec.tls_profile))
    entities = service_listener_entities(spec, site_id)
    for target in spec.targets:
        entities += service_connector_entities(spec, site_id, target)
    rendered = jinja_env("templates").get_template("service-skrouterd.json.j2").render(
        router_id=service_router_id(site_name, spec.address),
        metadata=site_metadata(site_id, version), ssl_profiles=profiles,
        uplink_host=uplink_host, entities=entities, logging=list(logging))
    return RouterConfig.parse(rendered).dumps()
