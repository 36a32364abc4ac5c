"""Services of a site: create, delete, bind, unbind, expose, unexpose and status.

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

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from skupper_podman.services import containers as runtime
from skupper_podman.errors import InputError, PodmanError, ResourceConflict
from skupper_podman.rollback import Rollback
from skupper_podman.router.config import ServiceTarget, service_router_id
from skupper_podman.paths import SERVICES
from skupper_podman.site.lifecycle import ROUTER_ALIASES, SERVICES_FILE, Site
from skupper_podman.services.model import (
    RESERVED_LABELS,
    TLS_PREFIX,
    ServiceDefinition,
    host_port_mapping,
    target_port_mapping,
    validate_host,
)
from skupper_podman.services.store import ServiceStore


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
        return ctr.running

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
        # one container list and one management query, side by side (both mostly wait)
        with ThreadPoolExecutor(max_workers=1) as pool:
            listing = pool.submit(runtime.service_containers, self.site)
            info = self.site.get()
            attached = runtime.attached_routers(self.site, info)
            containers = listing.result()
        result = []
        for definition in definitions:
            ctr = containers.get(definition.address)
            host_ip, host_ports = runtime.published_ports(ctr) if ctr else ("", {})
            router_id = service_router_id(info.name, definition.address)
            result.append(ServiceStatus(
                address=definition.address, protocol=definition.protocol, ports=list(definition.ports),
                targets=[{"host": t.host, "ports": dict(t.ports)} for t in definition.targets],
                labels=dict(definition.labels), tls=definition.tls,
                container=ctr.name if ctr else "",
                state=ctr.state if ctr else "missing",
                connected=None if attached is None else router_id in attached,
                router_id=router_id, host_ip=host_ip, host_ports=host_ports,
            ))
        return result
