"""Services of a site: definitions, their JSON store, validation, and the operations.

A service is an entry of ``skupper-services.json`` (a JSON object keyed by address, in the
``skupper-services`` volume) plus one edge-router container that listens on the service's
ports and reaches the network through the site router. Targets ("bindings") add
tcp/httpConnectors to that container's router: live through management and in its config
file, so a restart keeps them. Every operation either completes or leaves nothing behind.

    from skupper_podman import Site, Services
    services = Services(Site.open("east"))
    services.create("backend", [8080], protocol="http")
    services.bind("backend", "backend-target", ["8080:80"])
"""
from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import service_containers as runtime
from .errors import InputError, PodmanError, ResourceConflict, SkupperError
from .paths import ADDRESS_LABEL, APP_LABEL, COMPONENT_LABEL, NAMESPACE_LABEL
from .rollback import Rollback
from .router.config import PROTOCOLS, ServiceSpec, ServiceTarget, service_router_id
from .site import ROUTER_ALIASES, SERVICES, SERVICES_FILE, Site

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
    return int(value) if re.fullmatch(r"[+-]?\d+", value) else None


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


# -- the JSON store ----------------------------------------------------------------------------

class ServiceStore:
    """``skupper-services.json``: reads are lock-free (writes replace the file atomically);
    every change is a read-modify-write under an exclusive ``flock`` on the ``.lock`` file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> dict[str, ServiceDefinition]:
        """Every definition by address; a missing or empty file means none."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as err:
            raise SkupperError(f"{self.path.name} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise SkupperError(f"{self.path.name} must hold a JSON object keyed by address")
        return {address: ServiceDefinition.from_json({**entry, "address": entry.get("address") or address})
                for address, entry in data.items()}

    def get(self, address: str) -> ServiceDefinition:
        found = self.load().get(address)
        if found is None:
            raise InputError(f"Service {address} not defined")
        return found

    @contextmanager
    def edit(self) -> Iterator[dict[str, ServiceDefinition]]:
        """Yield the definitions to change; they are written back when the block succeeds."""
        with self._locked():
            services = self.load()
            yield services
            self._write(services)

    def add(self, definition: ServiceDefinition) -> None:
        with self.edit() as services:
            if definition.address in services:
                raise InputError(f"Service {definition.address} already defined")
            services[definition.address] = definition

    def remove(self, address: str) -> ServiceDefinition | None:
        with self.edit() as services:
            return services.pop(address, None)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _chown_like_parent(self.lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, services: Mapping[str, ServiceDefinition]) -> None:
        data = {address: services[address].to_json() for address in sorted(services)}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, separators=(",", ":"))
            _chown_like_parent(Path(tmp))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _chown_like_parent(path: Path) -> None:
    """Files in a volume stay owned like the volume (the router's user after a ``U`` mount)."""
    if os.geteuid() == 0:
        parent = path.parent.stat()
        os.chown(path, parent.st_uid, parent.st_gid)


def host_port_in_use(host_ip: str, port: int) -> bool:
    """True when ``host_ip:port`` cannot be bound here (Podman holds published ports open)."""
    host = host_ip or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


# -- status ------------------------------------------------------------------------------------

@dataclass
class ServiceStatus:
    """A service as it is: its definition plus its container and router state.

    ``state`` is the container's state (``running``, ``exited``, ...) or ``missing``;
    ``connected`` says whether its router is attached to the site router (None: the site
    router could not be asked).
    """

    address: str
    protocol: str
    ports: list[int]
    targets: list[dict[str, Any]]
    labels: dict[str, str]
    tls: bool
    container: str
    state: str
    connected: bool | None
    router_id: str
    host_ip: str = ""
    host_ports: dict[int, int] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        """Why the service does not work, or an empty string."""
        if self.state == "missing":
            return "service container not found"
        if self.state != "running":
            return f"container {self.container} is {self.state}"
        if self.connected is False:
            return f"router {self.router_id} is not connected to the site router"
        return ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["host_ports"] = {str(k): v for k, v in self.host_ports.items()}
        data["problem"] = self.problem
        return data


# -- operations --------------------------------------------------------------------------------

class Services:
    """Service operations on one site (``service create|delete|bind|unbind|status``,
    ``expose``, ``unexpose``)."""

    def __init__(self, site: Site, attach_timeout: float = 60.0) -> None:
        self.site = site
        self.attach_timeout = attach_timeout
        self._store: ServiceStore | None = None

    @property
    def store(self) -> ServiceStore:
        if self._store is None:
            self._store = ServiceStore(self.site.files.path(self.site.vol(SERVICES), SERVICES_FILE))
        return self._store

    def list(self) -> list[ServiceDefinition]:
        """Every definition, sorted by address."""
        services = self.store.load()
        return [services[a] for a in sorted(services)]

    def get(self, address: str) -> ServiceDefinition:
        return self.store.get(address)

    # -- create / expose -----------------------------------------------------------------------
    def create(self, address: str, ports: Sequence[int], *, protocol: str = "tcp", aggregate: str = "",
               event_channel: bool = False, tls: bool = False, container_name: str = "",
               host_ip: str = "", host_ports: Sequence[str | int] = (),
               labels: Mapping[str, str] | None = None,
               targets: Sequence[ServiceTarget] = ()) -> ServiceDefinition:
        """Define the service and start its router container; everything is undone on failure.

        ``host_ports`` publish service ports on the host (``8080`` or ``8080:18080``); with
        only ``host_ip`` every port is published under its own number.
        """
        definition = ServiceDefinition(
            address=address, ports=[int(p) for p in ports], protocol=protocol or "tcp",
            targets=list(targets), labels=dict(labels or {}), aggregate=aggregate,
            event_channel=event_channel, tls_credentials=f"{TLS_PREFIX}{address}" if tls else "",
        )
        if address in self.store.load():
            raise InputError(f"Service {address} already defined")
        definition.validate()
        reserved = sorted(set(definition.labels) & RESERVED_LABELS)
        if reserved:
            raise InputError(f"label {reserved[0]} is reserved for Skupper")
        published = host_port_mapping(definition.ports, host_ports) if (host_ip or host_ports) else {}
        info = self.site.get()
        name = runtime.container_name(self.site, address, container_name)
        self._check_resources(name, container_name or address, host_ip, published)
        with Rollback() as undo:
            self.store.add(definition)
            undo.add(lambda: self.store.remove(address))
            runtime.write_config(self.site, info, definition.spec())
            undo.add(lambda: runtime.remove_config(self.site, address))
            if definition.tls:
                runtime.issue_tls(self.site, address, definition.tls_profile)
                undo.add(lambda: runtime.remove_tls(self.site, definition.tls_profile))
            runtime.start_container(self.site, info, undo, address, name, alias=container_name or address,
                                    host_ip=host_ip, host_ports=published, labels=definition.labels)
        return definition

    def _check_resources(self, name: str, alias: str, host_ip: str, published: Mapping[int, int]) -> None:
        if alias in ROUTER_ALIASES:
            raise ResourceConflict(f"a container named {alias} already exists")
        if host_ip:
            try:
                ipaddress.ip_address(host_ip)
            except ValueError:
                raise InputError(f"invalid host IP: {host_ip}") from None
        if self.site.podman.container(name) is not None:
            raise ResourceConflict(f"a container named {name} already exists")
        if len(set(published.values())) != len(published):
            raise InputError(f"a host port is mapped twice: {sorted(published.values())}")
        for host_port in published.values():
            if host_port_in_use(host_ip, host_port):
                raise ResourceConflict(f"ingress port {host_port} is already in use")

    def expose(self, host: str, address: str, ports: Sequence[int], *,
               target_ports: Sequence[str | int] = (), **options: Any) -> ServiceDefinition:
        """``expose host``: create the service with ``host`` as its first target."""
        if not address:
            raise InputError("--address is required")
        if not ports:
            raise InputError("--port is required")
        validate_host(host)
        mapping = target_port_mapping([int(p) for p in ports], target_ports)
        return self.create(address, ports, targets=[ServiceTarget(host, mapping)], **options)

    # -- bind / unbind -------------------------------------------------------------------------
    def bind(self, address: str, host: str, target_ports: Sequence[str | int] = ()) -> ServiceTarget:
        """Add a target: connectors go live in the service's router and into its config."""
        validate_host(host)
        definition = self.store.get(address)
        target = ServiceTarget(host, target_port_mapping(definition.ports, target_ports))
        info = self.site.get()
        live = self._container_running(address)
        with Rollback() as undo:
            with self.store.edit() as services:
                current = services.get(address)
                if current is None:
                    raise InputError(f"Service {address} not defined")
                if any(t.host == host and dict(t.ports) == dict(target.ports) for t in current.targets):
                    raise InputError("egress resolver already defined")
                if current.target(host) is not None:
                    raise InputError(f"target {host} is already bound to service {address}; unbind it first")
                current.targets.append(target)
            undo.add(lambda: self._forget_target(address, host))
            entities = runtime.add_connectors(self.site, info, definition.spec(), target)
            undo.add(lambda: runtime.remove_connectors(self.site, address, entities))
            if live:
                runtime.create_live(self.site, info, address, entities, self.attach_timeout)
        return target

    def unbind(self, address: str, host: str) -> ServiceTarget:
        """Remove the target ``host``: from the live router, its config and the definition."""
        definition = self.store.get(address)
        target = definition.target(host)
        if target is None:
            raise InputError(f"Could not find target {host} for service interface {address}")
        info = self.site.get()
        live = self._container_running(address)
        entities = runtime.connector_entities(info, definition.spec(), target)
        with Rollback() as undo:
            self._forget_target(address, host)
            undo.add(lambda: self._restore_target(address, target))
            runtime.remove_connectors(self.site, address, entities)
            undo.add(lambda: runtime.add_connectors(self.site, info, definition.spec(), target))
            if live:
                runtime.delete_live(self.site, info, address, entities, self.attach_timeout)
        return target

    def _container_running(self, address: str) -> bool:
        """Whether the service router runs (a stopped one reads its config file when it starts)."""
        ctr = runtime.find_container(self.site, address)
        if ctr is None:
            raise PodmanError(f"the container of service {address} is missing; "
                              "delete the service and create it again")
        return runtime.state_of(ctr) == "running"

    def _forget_target(self, address: str, host: str) -> None:
        with self.store.edit() as services:
            if address in services:
                services[address].targets = [t for t in services[address].targets if t.host != host]

    def _restore_target(self, address: str, target: ServiceTarget) -> None:
        with self.store.edit() as services:
            if address in services and services[address].target(target.host) is None:
                services[address].targets.append(target)

    # -- delete / unexpose ---------------------------------------------------------------------
    def delete(self, address: str) -> ServiceDefinition:
        """Remove the container, config, TLS material and definition (the definition last,
        so a failed delete can simply be retried)."""
        definition = self.store.get(address)
        ctr = runtime.find_container(self.site, address)
        if ctr is not None:
            runtime.remove_container(self.site, ctr)
        runtime.remove_config(self.site, address)
        runtime.remove_tls(self.site, f"{TLS_PREFIX}{address}")
        self.store.remove(address)
        return definition

    def unexpose(self, host: str, address: str) -> bool:
        """Remove target ``host``; the whole service when it was the last target.
        Returns True when the service was deleted."""
        if not address:
            raise InputError("--address is required")
        definition = self.store.get(address)
        if definition.target(host) is None:
            raise InputError(f"Could not find target {host} for service interface {address}")
        if len(definition.targets) > 1:
            self.unbind(address, host)
            return False
        self.delete(address)
        return True

    # -- status --------------------------------------------------------------------------------
    def status(self) -> list[ServiceStatus]:
        """Every service with its container state, host ports and router attachment."""
        definitions = self.list()
        if not definitions:
            return []
        info = self.site.get()
        containers = runtime.service_containers(self.site)
        attached = runtime.attached_routers(self.site, info)
        result = []
        for definition in definitions:
            ctr = containers.get(definition.address)
            host_ip, host_ports = runtime.published_ports(ctr) if ctr else ("", {})
            router_id = service_router_id(info.name, definition.address)
            result.append(ServiceStatus(
                address=definition.address, protocol=definition.protocol, ports=list(definition.ports),
                targets=[{"host": t.host, "ports": dict(t.ports)} for t in definition.targets],
                labels=dict(definition.labels), tls=definition.tls,
                container=runtime.name_of(ctr) if ctr else "",
                state=runtime.state_of(ctr) if ctr else "missing",
                connected=None if attached is None else router_id in attached,
                router_id=router_id, host_ip=host_ip, host_ports=host_ports,
            ))
        return result
