"""The gateway definition and the Skupper 1.5 gateway YAML (product docs §3.4).

A gateway has *bindings* (the router dials ``host:target_port`` for traffic to a service
port: a tcp/httpConnector) and *forwards* (the router listens on a local port for a service:
a tcp/httpListener). Each endpoint carries one service port, as 1.5 writes them
("If the local service requires more than one port, create separate bindings for each port").

The YAML is read from the node tree, so every error names the line at fault::

    name: database
    bindings:
      - name: database
        host: localhost
        service: {address: "database:5432", protocol: tcp, ports: [5432]}
        target_ports: [5432]
    qdr-listeners:
      - {name: amqp, host: localhost, port: 5672}
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from skupper_podman.errors import InputError
from skupper_podman.paths import username
from skupper_podman.router.config import PROTOCOLS

TYPES = ("service", "podman", "docker")
DEFAULT_TYPE = "service"
_NAME = re.compile(r"^[a-z]([a-z0-9\.-]*[a-z0-9])*$")
NAME_ERROR = "Gateway name must consist of lower case letters, numerals and '-'. Must start with a letter."
TYPE_ERROR = "{value} is not a valid gateway type. Choose 'service', 'docker' or 'podman'."
MAX_CONFIG_BYTES = 1 << 20
_SERVICE_KEYS = ("address", "protocol", "ports", "exposeIngress", "tlscredentials", "tlscertauthority",
                 "aggregate", "eventchannel")
_ENDPOINT_KEYS = ("name", "host", "service", "target_ports", "loopback", "local_port")


def check_name(name: str) -> str:
    """``name`` when it follows 1.5's gateway name rule."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 63:
        raise InputError(NAME_ERROR)
    return name


def check_type(kind: str) -> str:
    if kind not in TYPES:
        raise InputError(TYPE_ERROR.format(value=kind))
    return kind


def default_name() -> str:
    """1.5's default: ``<hostname>-<user>`` (user lower-cased, whitespace removed)."""
    return f"{socket.gethostname().lower()}-{username().lower()}"


# -- endpoints ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GatewayService:
    """The service side of an endpoint: its address (bare name), protocol and one port."""

    address: str
    port: int
    protocol: str = "tcp"
    aggregate: str = ""
    event_channel: bool = False
    expose_ingress: str = ""
    tls_credentials: str = ""
    tls_cert_authority: str = ""

    @property
    def router_address(self) -> str:
        """The router address and entity name: ``<address>:<port>``."""
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class Endpoint:
    """A binding (the router dials ``host:local_port``) or a forward (it listens on
    ``host:local_port``; host empty means every interface)."""

    name: str
    host: str
    service: GatewayService
    local_port: int

    @property
    def key(self) -> str:
        return self.service.router_address

    def to_yaml(self) -> dict[str, Any]:
        svc: dict[str, Any] = {"address": self.service.router_address, "protocol": self.service.protocol,
                               "ports": [self.service.port]}
        for key, value in (("aggregate", self.service.aggregate), ("eventchannel", self.service.event_channel),
                           ("exposeIngress", self.service.expose_ingress),
                           ("tlscredentials", self.service.tls_credentials),
                           ("tlscertauthority", self.service.tls_cert_authority)):
            if value:
                svc[key] = value
        return {"name": self.name, "host": self.host, "service": svc, "target_ports": [self.local_port]}


@dataclass
class GatewayConfig:
    """What a gateway does: its bindings, forwards and local router listeners."""

    name: str
    bindings: list[Endpoint] = field(default_factory=list)
    forwards: list[Endpoint] = field(default_factory=list)
    qdr_listeners: list[dict[str, Any]] = field(default_factory=list)

    def to_yaml(self) -> str:
        doc: dict[str, Any] = {"name": self.name}
        if self.qdr_listeners:
            doc["qdr-listeners"] = [dict(item) for item in self.qdr_listeners]
        if self.bindings:
            doc["bindings"] = [e.to_yaml() for e in self.bindings]
        if self.forwards:
            doc["forwards"] = [e.to_yaml() for e in self.forwards]
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)

    def renamed(self, name: str) -> GatewayConfig:
        return replace(self, name=name)


@dataclass
class Gateway:
    """A gateway as its site keeps it: the config plus where and how its router runs.

    ``kind`` is ``service``, ``podman`` or ``docker`` for a gateway this host runs, ``bundle``
    for one generated for another machine. ``edge_host``/``edge_port`` is where its router
    dials the site; ``url`` the router's own management listener (``amqp://127.0.0.1:<p>``).
    """

    config: GatewayConfig
    kind: str
    router_id: str
    site_id: str
    edge_host: str
    edge_port: int
    verify_hostname: bool = True
    url: str = ""
    image: str = ""
    created: str = ""
    extra_hosts: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "routerId": self.router_id, "siteId": self.site_id,
                "edgeHost": self.edge_host, "edgePort": self.edge_port, "verifyHostname": self.verify_hostname,
                "url": self.url, "image": self.image, "created": self.created,
                "extraHosts": dict(self.extra_hosts), "config": self.config.to_yaml()}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> Gateway:
        return cls(config=parse_config(str(data["config"]), source), kind=str(data["type"]),
                   router_id=str(data["routerId"]), site_id=str(data["siteId"]),
                   edge_host=str(data["edgeHost"]), edge_port=int(data["edgePort"]),
                   verify_hostname=bool(data.get("verifyHostname", True)), url=str(data.get("url") or ""),
                   image=str(data.get("image") or ""), created=str(data.get("created") or ""),
                   extra_hosts={str(k): str(v) for k, v in (data.get("extraHosts") or {}).items()})


# -- reading the YAML --------------------------------------------------------------------------

class _Reader:
    """Typed access to a composed YAML node tree; every error names the file and the line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node | None, message: str) -> InputError:
        line = f" line {node.start_mark.line + 1}" if node is not None else ""
        return InputError(f"bad gateway config {self.source}{line}: {message}")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if name not in allowed:
                raise self.fail(key, f"unknown field {what}.{name or '?'} (expected one of: {', '.join(allowed)})")
            if name in found:
                raise self.fail(key, f"{what}.{name} is given twice")
            found[name] = value
        return found

    def sequence(self, node: yaml.Node | None, what: str) -> list[yaml.Node]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def text(self, node: yaml.Node | None, what: str, required: bool = True) -> str:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            if required:
                raise self.fail(node, f"{what} is required")
            return ""
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a string")
        return str(node.value)

    def port(self, node: yaml.Node, what: str) -> int:
        value = self.text(node, what)
        if not re.fullmatch(r"[0-9]{1,5}", value) or not 0 < int(value) <= 65535:
            raise self.fail(node, f"{what}: {value[:20]!r} is not a port (1-65535)")
        return int(value)

    def flag(self, node: yaml.Node | None, what: str) -> bool:
        value = self.text(node, what, required=False).lower()
        if value not in ("", "true", "false"):
            raise self.fail(node, f"{what} must be true or false")
        return value == "true"


def _address(reader: _Reader, node: yaml.Node, what: str) -> tuple[str, int | None]:
    """``name`` or ``name:port`` (1.5 writes the router address) -> (name, port)."""
    from skupper_podman.services.model import validate_address

    text = reader.text(node, what)
    name, _, port = text.partition(":")
    try:
        validate_address(name)
    except InputError as err:
        raise reader.fail(node, f"{what}: {err}") from None
    if port and not (port.isdigit() and 0 < int(port) <= 65535):
        raise reader.fail(node, f"{what}: {port[:20]!r} is not a port")
    return name, int(port) if port else None


def _endpoint(reader: _Reader, node: yaml.Node, what: str) -> Endpoint:
    fields = reader.mapping(node, what, _ENDPOINT_KEYS)
    if "service" not in fields:
        raise reader.fail(node, f"{what}.service is required")
    svc = reader.mapping(fields["service"], f"{what}.service", _SERVICE_KEYS)
    if "address" not in svc:
        raise reader.fail(fields["service"], f"{what}.service.address is required")
    address, address_port = _address(reader, svc["address"], f"{what}.service.address")
    protocol = reader.text(svc.get("protocol"), f"{what}.service.protocol", required=False) or "tcp"
    if protocol not in PROTOCOLS:
        raise reader.fail(svc.get("protocol"), f"{protocol} is not a valid mapping. Choose 'tcp', 'http' or 'http2'.")
    ports = [reader.port(p, f"{what}.service.ports") for p in reader.sequence(svc.get("ports"), f"{what}.service.ports")]
    port = ports[0] if ports else address_port
    if port is None:
        raise reader.fail(fields["service"], f"{what}.service.ports is required")
    targets = [reader.port(p, f"{what}.target_ports")
               for p in reader.sequence(fields.get("target_ports"), f"{what}.target_ports")]
    service = GatewayService(
        address=address, port=port, protocol=protocol,
        aggregate=reader.text(svc.get("aggregate"), "aggregate", required=False),
        event_channel=reader.flag(svc.get("eventchannel"), f"{what}.service.eventchannel"),
        expose_ingress=reader.text(svc.get("exposeIngress"), "exposeIngress", required=False),
        tls_credentials=reader.text(svc.get("tlscredentials"), "tlscredentials", required=False),
        tls_cert_authority=reader.text(svc.get("tlscertauthority"), "tlscertauthority", required=False),
    )
    host = reader.text(fields.get("host"), f"{what}.host", required=False)
    if reader.flag(fields.get("loopback"), f"{what}.loopback"):
        host = "127.0.0.1"
    return Endpoint(name=reader.text(fields.get("name"), f"{what}.name", required=False) or address,
                    host=host, service=service, local_port=targets[0] if targets else port)


def _listener(reader: _Reader, node: yaml.Node, what: str) -> dict[str, Any]:
    fields = reader.mapping(node, what, ("name", "host", "port"))
    return {"name": reader.text(fields.get("name"), f"{what}.name"),
            "host": reader.text(fields.get("host"), f"{what}.host", required=False) or "localhost",
            "port": reader.port(fields["port"], f"{what}.port") if "port" in fields else 5672}


def parse_config(text: str, source: str = "file") -> GatewayConfig:
    """A gateway YAML's content; :class:`InputError` naming ``source`` and the line otherwise."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InputError(f"bad gateway config {source}{line}: not YAML ({' '.join(str(problem).split())})") from None
    except (ValueError, RecursionError):
        raise InputError(f"bad gateway config {source}: not YAML text") from None
    if root is None:
        raise InputError(f"bad gateway config {source}: the file is empty")
    top = reader.mapping(root, "config", ("name", "bindings", "forwards", "qdr-listeners"))
    name = reader.text(top.get("name"), "name", required=False)
    if name:
        try:
            check_name(name)
        except InputError as err:
            raise reader.fail(top["name"], str(err)) from None
    config = GatewayConfig(
        name=name,
        bindings=[_endpoint(reader, n, f"bindings[{i}]")
                  for i, n in enumerate(reader.sequence(top.get("bindings"), "bindings"))],
        forwards=[_endpoint(reader, n, f"forwards[{i}]")
                  for i, n in enumerate(reader.sequence(top.get("forwards"), "forwards"))],
        qdr_listeners=[_listener(reader, n, f"qdr-listeners[{i}]")
                       for i, n in enumerate(reader.sequence(top.get("qdr-listeners"), "qdr-listeners"))],
    )
    for kind, items in (("bindings", config.bindings), ("forwards", config.forwards)):
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.key in seen:
                node = reader.sequence(top.get(kind), kind)[index]
                raise reader.fail(node, f"{kind}[{index}]: {item.key} is given twice")
            seen.add(item.key)
    return config


def read_config(path: str) -> GatewayConfig:
    """Read and parse a gateway YAML file."""
    from skupper_podman._util import read_small_text

    return parse_config(read_small_text(path, MAX_CONFIG_BYTES, "gateway config file"), path)
