"""Service definitions as ``skupper-services.json`` holds them, and the pure parsing and
validation of service names, ports, hosts, labels and port mappings (1.5's rules and messages)."""
from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skupper_podman.errors import InputError
from skupper_podman.paths import ADDRESS_LABEL, APP_LABEL, COMPONENT_LABEL, NAMESPACE_LABEL
from skupper_podman.router.config import PROTOCOLS, ServiceSpec, ServiceTarget

TLS_PREFIX = "skupper-tls-"
RESOLVER_PREFIX = "*domain.EgressResolverHost="
AGGREGATIONS = ("json", "multipart")
MAX_PORT = 65535
RESERVED_LABELS = {APP_LABEL, NAMESPACE_LABEL, ADDRESS_LABEL, COMPONENT_LABEL}
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_ERROR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_LABEL_KEY = re.compile(r"^([A-Za-z0-9.-]+/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


# -- parsing and validation (pure) -------------------------------------------------------------

def validate_address(address: str) -> None:
    """A service name must be a DNS-1035 label (Kubernetes' rule, as 1.5 checks it)."""
    errors = []
    if len(address) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS_1035.match(address):
        errors.append(_DNS_1035_ERROR)
    if errors:
        raise InputError("Invalid service name: [" + " ".join(json.dumps(e) for e in errors) + "]")


def _integer(text: str | int) -> int | None:
    if isinstance(text, int):
        return text
    value = text.strip()
    return int(value) if re.fullmatch(r"[+-]?[0-9]{1,30}", value) else None


def parse_port(text: str | int) -> int:
    """A service port: an integer in 1..65535."""
    port = _integer(text)
    if port is None:
        raise InputError(f"{text} is not a valid port.")
    if not 0 < port <= MAX_PORT:
        raise InputError(f"Port {port} is outside valid range.")
    return port


def parse_service_args(args: Sequence[str]) -> tuple[str, list[int]]:
    """``service create`` positionals: ``<name> <port>...`` or ``<name>:<port>``."""
    if not args or (":" not in args[0] and len(args) < 2):
        raise InputError("Name and port must be specified")
    if ":" in args[0]:
        if len(args) > 1:
            raise InputError(f"extra argument: {args[1]}")
        name, port = args[0].split(":", 1)
        return name, [parse_port(port)]
    return args[0], [parse_port(p) for p in args[1:]]


def _split_mapping(item: str | int) -> tuple[str, str, bool]:
    text = str(item)
    if ":" in text:
        left, right = text.split(":", 1)
        return left, right, True
    return text, text, False


def target_port_mapping(ports: Sequence[int], target_ports: Sequence[str | int] = ()) -> dict[int, int]:
    """Service port -> target port for a bind (1.5 rules).

    Without ``target_ports`` every port maps to itself. Otherwise every port must be
    mapped, either positionally (``80``) or explicitly (``8080:80``).
    """
    return _port_mapping(ports, target_ports, ("source", "target"),
                         lambda p: f"source port not defined in service: {p}")


def host_port_mapping(ports: Sequence[int], host_ports: Sequence[str | int] = ()) -> dict[int, int]:
    """Service port -> host port to publish (1.5 rules for ``--host-port``)."""
    return _port_mapping(ports, host_ports, ("service", "host"),
                         lambda p: f"{p} is not a valid service port")


def _port_mapping(ports: Sequence[int], items: Sequence[str | int], names: tuple[str, str],
                  unknown: Any) -> dict[int, int]:
    if items and len(items) != len(ports):
        raise InputError(f"service defines {len(ports)} ports but only {len(items)} mapped "
                         "(all ports must be mapped)")
    mapping = {port: port for port in ports}
    for index, item in enumerate(items):
        left, right, explicit = _split_mapping(item)
        source, value = _integer(left), _integer(right)
        if source is None:
            raise InputError(f"invalid {names[0]} port: {left}")
        if value is None or not 0 < value <= MAX_PORT:
            raise InputError(f"invalid {names[1]} port: {right}")
        if explicit and source not in mapping:
            raise InputError(unknown(source))
        mapping[source if explicit else ports[index]] = value
    return mapping


def validate_host(host: str) -> str:
    """A bind target: an IP address or a host name (``url.Parse`` must give it back whole)."""
    if not host:
        raise InputError("a hostname or IP is required")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.match(host):
        raise InputError("invalid hostname or ip")
    return host


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    """``--label`` values: ``k=v`` pairs, each value possibly a comma-separated list."""
    labels: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            if not pair:
                continue
            key, sep, value = pair.partition("=")
            if not sep or not _LABEL_KEY.match(key):
                raise InputError(f'invalid label "{pair}": use key=value')
            labels[key] = value
    return labels


def split_list(items: Sequence[str]) -> list[str]:
    """Repeatable flags that also take comma-separated lists (``--host-port 80,81``)."""
    return [part for item in items for part in str(item).split(",") if part]


# -- definitions -------------------------------------------------------------------------------

def _resolver_name(target: ServiceTarget) -> str:
    ports = json.dumps({str(k): v for k, v in target.ports.items()}, sort_keys=True, separators=(",", ":"))
    return RESOLVER_PREFIX + '{"host":' + json.dumps(target.host) + ',"ports":' + ports + "}"


@dataclass
class ServiceDefinition:
    """One entry of ``skupper-services.json``.

    ``tls_credentials`` is the sslProfile/credential name (``skupper-tls-<address>``) when
    the service uses TLS, else empty.
    """

    address: str
    ports: list[int]
    protocol: str = "tcp"
    targets: list[ServiceTarget] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    aggregate: str = ""
    event_channel: bool = False
    tls_credentials: str = ""
    origin: str = ""
    expose_ingress: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_credentials)

    @property
    def tls_profile(self) -> str:
        return f"{TLS_PREFIX}{self.address}" if self.tls else ""

    def validate(self) -> "ServiceDefinition":
        """1.5's checks (``ValidateService``), with its event-channel bug fixed."""
        validate_address(self.address)
        if not self.ports:
            raise InputError("Name and port must be specified")
        for port in self.ports:
            if not 0 < port <= MAX_PORT:
                raise InputError(f"Port {port} is outside valid range.")
        if len(set(self.ports)) != len(self.ports):
            raise InputError(f"duplicate port in {sorted(self.ports)}")
        for target in self.targets:
            validate_host(target.host)
            for port in target.ports.values():
                if not 0 < port <= MAX_PORT:
                    raise InputError(f"Bad target port number. Target: {target.host} Port: {port}")
        if self.aggregate and self.event_channel:
            raise InputError("Only one of aggregate and event-channel can be specified for a given service.")
        if self.aggregate and self.aggregate not in AGGREGATIONS:
            raise InputError(f"{self.aggregate} is not a valid aggregation strategy. Choose 'json' or 'multipart'.")
        if self.protocol not in PROTOCOLS:
            raise InputError(f"{self.protocol} is not a valid mapping. Choose 'tcp', 'http' or 'http2'.")
        if self.aggregate and self.protocol != "http":
            raise InputError("The aggregate option is currently only valid for http")
        if self.event_channel and self.protocol != "http":
            raise InputError("The event-channel option is currently only valid for http")
        if self.tls and self.protocol == "http":
            raise InputError("The TLS support is only available for http2 and tcp protocols")
        return self

    def target(self, host: str) -> ServiceTarget | None:
        return next((t for t in self.targets if t.host == host), None)

    def spec(self, targets: Sequence[ServiceTarget] | None = None) -> ServiceSpec:
        """What the service router config needs (``targets`` defaults to all of them)."""
        return ServiceSpec(address=self.address, ports=list(self.ports), protocol=self.protocol,
                           aggregate=self.aggregate, event_channel=self.event_channel,
                           tls_profile=self.tls_profile,
                           targets=list(self.targets if targets is None else targets))

    def to_json(self) -> dict[str, Any]:
        """The 1.5 ``ServiceInterface`` JSON."""
        data: dict[str, Any] = {"address": self.address, "protocol": self.protocol, "ports": list(self.ports)}
        if self.event_channel:
            data["eventchannel"] = True
        if self.aggregate:
            data["aggregate"] = self.aggregate
        if self.labels:
            data["labels"] = dict(self.labels)
        if self.origin:
            data["origin"] = self.origin
        data["exposeIngress"] = self.expose_ingress
        data["targets"] = [{"name": _resolver_name(t), "targetPorts": {str(k): v for k, v in t.ports.items()},
                            "service": t.host} for t in self.targets]
        if self.tls_credentials:
            data["tlsCredentials"] = self.tls_credentials
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ServiceDefinition":
        """Read an entry (1.5's, or ours); a bare-address ``tlsCredentials`` (1.5's expose
        quirk) still means ``skupper-tls-<address>``."""
        address = str(data.get("address", ""))
        targets = []
        for item in data.get("targets") or []:
            ports = {int(k): int(v) for k, v in (item.get("targetPorts") or {}).items()}
            targets.append(ServiceTarget(host=str(item.get("service", "")), ports=ports))
        return cls(
            address=address,
            ports=[int(p) for p in data.get("ports") or []],
            protocol=str(data.get("protocol") or "tcp"),
            targets=targets,
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            aggregate=str(data.get("aggregate") or ""),
            event_channel=bool(data.get("eventchannel")),
            tls_credentials=f"{TLS_PREFIX}{address}" if data.get("tlsCredentials") else "",
            origin=str(data.get("origin") or ""),
            expose_ingress=str(data.get("exposeIngress") or ""),
        )


