"""The gateway router's ``skrouterd.json``: entities, rendering, and the router schema check.

Bindings become ``tcpConnector``/``httpConnector`` and forwards ``tcpListener``/``httpListener``,
addressed ``<address>:<service port>`` with ``siteId`` the gateway's router id, as 1.5 writes
them. The file is rendered from ``templates/gateway-skrouterd.json.j2`` and every
entity is checked against the router 2.5.3 schema before anything is written.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from skupper_podman.errors import InputError
from skupper_podman.gateway.model import Endpoint, Gateway
from skupper_podman.resources import jinja_env
from skupper_podman.router.config import (
    MAX_FRAME_SIZE,
    MAX_SESSION_FRAMES,
    Attributes,
    Entity,
    RouterConfig,
    metadata_json,
)
from skupper_podman.versions import SKUPPER_COMPAT_VERSION

PROFILE = "conn1-profile"
CERTS_SUBDIR = f"skupper-router-certs/{PROFILE}"
CONFIG_PATH = "config/skrouterd.json"
CONTAINER_DIR = "/opt/skupper"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "router" / "schema" / "skrouter-2.5.3.json"
_CONFIG_ALIASES = {"address": "router.config.address"}


def entity_name(gateway: str, endpoint: Endpoint, binding: bool) -> str:
    """``<gateway>-egress-<address>:<port>`` (binding) or ``<gateway>-ingress-<address>:<port>``
    (forward): the router wants names unique across entity types, and 1.5's status trims
    these prefixes."""
    return f"{gateway}-{'egress' if binding else 'ingress'}-{endpoint.key}"


def endpoint_entity(endpoint: Endpoint, gateway: Gateway, binding: bool) -> Entity:
    """The connector (binding) or listener (forward) of one endpoint."""
    svc = endpoint.service
    kind = ("tcp" if svc.protocol == "tcp" else "http") + ("Connector" if binding else "Listener")
    attrs: Attributes = {"name": entity_name(gateway.name, endpoint, binding)}
    if endpoint.host:
        attrs["host"] = endpoint.host
    attrs.update({"port": str(endpoint.local_port), "address": endpoint.key, "siteId": gateway.router_id})
    if svc.protocol != "tcp":
        attrs["protocolVersion"] = "HTTP2" if svc.protocol == "http2" else "HTTP1"
        if svc.aggregate:
            attrs["aggregation"] = svc.aggregate
        if svc.event_channel:
            attrs["eventChannel"] = True
    return kind, attrs


def bridge_entities(gateway: Gateway) -> list[Entity]:
    """Every binding's connector, then every forward's listener."""
    return ([endpoint_entity(e, gateway, True) for e in gateway.config.bindings]
            + [endpoint_entity(e, gateway, False) for e in gateway.config.forwards])


def management_listeners(gateway: Gateway) -> list[Attributes]:
    """The gateway's own AMQP listeners: the YAML's ``qdr-listeners``, else ``amqp`` on the
    loopback port of ``gateway.url`` (1.5's ``localhost:5672`` for a bundle)."""
    if gateway.config.qdr_listeners:
        return [dict(item) for item in gateway.config.qdr_listeners]
    port = int(gateway.url.rsplit(":", 1)[1]) if gateway.url else 5672
    host = "127.0.0.1" if gateway.url else "localhost"
    return [{"name": "amqp", "host": host, "port": port}]


def render(gateway: Gateway, working_dir: str) -> str:
    """The gateway router's config text; its certificates live under ``working_dir``."""
    rendered = jinja_env("templates").get_template("gateway-skrouterd.json.j2").render(
        router_id=gateway.router_id,
        metadata=metadata_json({"id": gateway.router_id, "version": SKUPPER_COMPAT_VERSION}),
        profile=PROFILE, certs_dir=f"{working_dir}/{CERTS_SUBDIR}",
        edge_host=gateway.edge_host, edge_port=gateway.edge_port, verify_hostname=gateway.verify_hostname,
        max_frame_size=MAX_FRAME_SIZE, max_session_frames=MAX_SESSION_FRAMES,
        listeners=management_listeners(gateway), entities=bridge_entities(gateway))
    config = RouterConfig.parse(rendered, "gateway router config")
    check_schema(config.items())
    return config.dumps()


# -- the router schema -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())["entityTypes"]


def _attributes(entity_type: str) -> dict[str, Any]:
    types = _schema()
    found: dict[str, Any] = {}
    current: str | None = entity_type
    while current:
        spec = types[current]
        for name, attr in spec.get("attributes", {}).items():
            found.setdefault(name, attr)
        current = spec.get("extends")
    return found


def _type_ok(kind: Any, value: Any) -> bool:
    if isinstance(kind, list):
        return value in kind
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "string"):  # 1.5 writes "3" for integers and 5672 for string ports:
        # the router converts both
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    if kind == "map":
        return isinstance(value, dict)
    return True


def check_schema(entities: list[Entity]) -> None:
    """Raise :class:`InputError` unless every entity type, attribute name and value passes
    the router 2.5.3 schema (what the router itself checks when it loads the file)."""
    types = _schema()
    for entity_type, attrs in entities:
        full = _CONFIG_ALIASES.get(entity_type, entity_type)
        if full not in types:
            raise InputError(f"gateway router config: no such entity type {entity_type}")
        known = _attributes(full)
        for name, value in attrs.items():
            if name not in known:
                raise InputError(f"gateway router config: {entity_type} has no attribute {name}")
            if not _type_ok(known[name].get("type"), value):
                raise InputError(f"gateway router config: {entity_type}.{name} cannot be {value!r}")
