"""Gateways of a site: ``gateway init|delete|expose|unexpose|bind|unbind|forward|unforward|
status|export-config|generate-bundle``.

    from skupper_podman import Gateways, Services, Site
    site = Site.open("west")
    gateways = Gateways(site)
    gateways.expose("backend", "127.0.0.1", ["8080:8000"], kind="podman")   # a host process
    gateways.forward("database", [15432], loopback=True)                     # a network service
    print([g.connected for g in gateways.status()])

A gateway is an edge router connected to the site's edge listener with its own client
certificate from the site CA. Its definition, config and credential live in a labelled volume
of the site (:mod:`.store`); its router runs as a container or a systemd unit
(:mod:`.runners`). Bindings and forwards change the running router through AMQP management
(no restart) and its config file (for the next start). Every operation completes or leaves
nothing behind.
"""
from __future__ import annotations

import copy
import datetime
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from skupper_podman import pki
from skupper_podman._util import atomic_write, poll
from skupper_podman.errors import (
    InputError,
    ManagementError,
    ResourceConflict,
    RouterUnavailable,
    SkupperError,
)
from skupper_podman.gateway.model import (
    DEFAULT_TYPE,
    Endpoint,
    Gateway,
    GatewayConfig,
    GatewayService,
    check_name,
    check_type,
    default_name,
    read_config,
)
from skupper_podman.gateway.routerconf import CONTAINER_DIR, bridge_entities, render
from skupper_podman.gateway.runners import Runner, process_name, runner_for
from skupper_podman.gateway.store import KIND_LABEL, GatewayStore
from skupper_podman.links.tokens import cert_token
from skupper_podman.paths import SITE_CA
from skupper_podman.rollback import Rollback, stop_signals_raise
from skupper_podman.router.config import Entity
from skupper_podman.router.management import ManagementClient
from skupper_podman.services.containers import attached_routers
from skupper_podman.services.model import parse_port
from skupper_podman.services.operations import Services, host_port_in_use
from skupper_podman.site.ingress import free_local_port, local_ipv4_addresses
from skupper_podman.site.lifecycle import ROUTER, Site, SiteInfo

GATEWAY_QUALIFIER = "internal.skupper.io/gateway"
BUNDLE = "bundle"
CONNECT_TIMEOUT = 90.0


@dataclass
class GatewayStatus:
    """A gateway as it is: definition, where its router runs and whether it is connected.

    ``state`` is the container or unit state (``running``, ``exited``, ``missing``) of a local
    gateway, ``remote`` for a bundle; ``connected`` is None when the site router cannot be
    asked; ``revoked`` says the site CA no longer trusts the gateway's certificate.
    """

    name: str
    type: str
    router_id: str
    state: str
    connected: bool | None
    revoked: bool
    version: str = ""
    bindings: list[dict[str, Any]] = field(default_factory=list)
    forwards: list[dict[str, Any]] = field(default_factory=list)
    damage: str = ""  # why the definition cannot be read (state "damaged")

    @property
    def problem(self) -> str:
        if self.damage:
            return self.damage
        if self.revoked:
            return "its certificate was revoked (revoke-access); delete the gateway and create it again"
        if self.state not in ("running", "remote"):
            return f"router is {self.state}"
        if self.connected is False:
            return "router is not connected to the site"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problem": self.problem}


def _endpoint_row(endpoint: Endpoint) -> dict[str, Any]:
    svc = endpoint.service
    return {"name": endpoint.key, "protocol": svc.protocol, "address": svc.router_address,
            "host": endpoint.host, "service_port": svc.port, "port": endpoint.local_port}


def parse_expose_ports(host: str, ports: Sequence[str]) -> tuple[str, list[int], list[int]]:
    """1.5's ``expose`` positionals after the address: ``<host> <port[:target]>...`` or
    ``<host:port>`` -> (host, service ports, target ports)."""
    if not ports:
        if ":" not in host:
            raise InputError("expose requires <address> <host> <port...> or <address> <host:port>")
        host, port = host.rsplit(":", 1)
        return host, [parse_port(port)], [parse_port(port)]
    service, target = [], []
    for item in ports:
        left, _, right = str(item).partition(":")
        service.append(parse_port(left))
        target.append(parse_port(right) if right else service[-1])
    return host, service, target


class Gateways:
    """Gateway operations on one site."""

    def __init__(self, site: Site, connect_timeout: float = CONNECT_TIMEOUT,
                 runners: dict[str, Runner] | None = None) -> None:
        self.site = site
        self.store = GatewayStore(site)
        self.connect_timeout = connect_timeout
        self._runners = dict(runners or {})

    def runner(self, kind: str) -> Runner:
        if kind not in self._runners:
            self._runners[kind] = runner_for(kind)
        return self._runners[kind]

    # -- the site side ---------------------------------------------------------------------
    def _site_info(self) -> SiteInfo:
        """The site, which must offer an edge listener to gateways."""
        info = self.site.get()
        if info.mode == "edge":
            raise InputError("Edge configuration cannot accept connections")
        if info.bind_port_edge is None:
            raise InputError("gateways connect to the site's edge listener, and this site was "
                             "initialized with --ingress none")
        return info

    def _credential(self, info: SiteInfo, router_id: str, host: str) -> pki.Credential:
        """A client certificate from the site CA, made exactly as a link token's."""
        ca = pki.Credential.from_data(self.site.files.read_all(self.site.vol(SITE_CA)))
        token = cert_token(router_id, ca, info.site_id, host, info.bind_port or 0, info.bind_port_edge or 0)
        return pki.Credential.from_data(token.data)

    def _services(self) -> dict[str, Any]:
        return {d.address: d for d in Services(self.site).list()}

    def _service(self, address: str) -> Any:
        found = self._services().get(address)
        if found is None:
            raise InputError(f"Unable to update gateway endpoint, service not found for {address}")
        return found

    def _check_config(self, config: GatewayConfig, check_ports: bool) -> None:
        """Every endpoint names a service of the site on one of its ports; forwards' local
        ports are free."""
        services = self._services()
        for endpoint in [*config.bindings, *config.forwards]:
            svc = services.get(endpoint.service.address)
            if svc is None:
                raise InputError(f"Unable to update gateway endpoint, service not found for {endpoint.service.address}")
            if endpoint.service.port not in svc.ports:
                raise InputError(f"service {svc.address} has no port {endpoint.service.port} (ports: "
                                 f"{', '.join(map(str, svc.ports))})")
        if check_ports:
            for endpoint in config.forwards:
                _check_free(endpoint)

    # -- init / delete ---------------------------------------------------------------------
    def init(self, name: str | None = None, kind: str = DEFAULT_TYPE, config_file: str | None = None) -> Gateway:
        """Create the gateway ``name`` (default ``<hostname>-<user>``) of type ``kind``, with the
        bindings and forwards of ``config_file``; wait until its router is connected."""
        kind = check_type(kind)
        name = check_name(name if name else default_name())
        config = read_config(config_file).renamed(name) if config_file else GatewayConfig(name)
        info = self._site_info()
        self._refuse_existing(name, kind)
        self._check_config(config, check_ports=True)
        runner = self.runner(kind)
        runner.check(self.site, name)
        router_id = f"skupper-gateway-{info.name}-{name}"
        host, verify, extra_hosts = _local_edge(info, kind)
        gateway = Gateway(config=config, kind=kind, router_id=router_id, site_id=info.site_id,
                          edge_host=host, edge_port=info.bind_port_edge or 0, verify_hostname=verify,
                          url=f"amqp://127.0.0.1:{free_local_port()}", image=info.image,
                          created=_now(), extra_hosts=extra_hosts)
        credential = self._credential(info, router_id, host)
        with stop_signals_raise(), Rollback() as undo:
            directory = self.store.create(gateway, credential, undo)
            self.store.save(gateway, render(gateway, self._working_dir(gateway, directory)))
            undo.add(lambda: runner.stop(self.site, name))  # before: a start cut short leaves a part
            runner.start(self.site, gateway, directory)
            self._wait_connected(gateway)
        return gateway

    def _refuse_existing(self, name: str, kind: str) -> None:
        existing = self.store.find(name)
        if existing is None:
            return
        if existing.kind != kind:
            raise InputError(f"gateway previously created as {existing.kind} type, "
                             f"delete current gateway to change to {kind} type")
        raise ResourceConflict(f"gateway {name} already exists")

    def _working_dir(self, gateway: Gateway, directory: Path) -> str:
        if gateway.kind == BUNDLE:
            return "${QDR_CONF_DIR}"
        return str(directory) if self.runner(gateway.kind).working_dir_in_process else CONTAINER_DIR

    def _wait_connected(self, gateway: Gateway) -> None:
        """Wait until the gateway's router answers and is attached to the site router."""
        with ManagementClient(gateway.url) as client:
            client.wait_ready(self.connect_timeout)
        info = self.site.get()
        if not poll(lambda: gateway.router_id in (attached_routers(self.site, info) or set()),
                    self.connect_timeout, interval=0.2):
            raise RouterUnavailable(f"the router of gateway {gateway.name} did not connect to the site "
                                    f"within {self.connect_timeout:g}s")

    def delete(self, name: str | None = None) -> str:
        """Stop the gateway's router, remove the services its ``expose`` made that nothing else
        serves, and its volume (definition, config, credential); return its type. A damaged
        definition does not stop it."""
        name = check_name(name if name else default_name())
        self.site.get()
        kind = self.store_kind(name)
        if not kind:
            raise InputError(f"gateway {name} not found")
        if kind != BUNDLE:
            self.runner(kind).stop(self.site, name)
        self._remove_exposed_services(name)
        self.store.remove(name)
        return kind

    def store_kind(self, name: str) -> str:
        """The type label of a gateway volume ("" when there is none), readable when the
        definition inside is damaged."""
        volume = self.site.podman.volume(self.store.volume(name))
        return volume.labels.get(KIND_LABEL, "") if volume is not None else ""

    def _remove_exposed_services(self, name: str, only: str | None = None) -> None:
        """Delete the services ``gateway expose`` made for gateway ``name`` (or just ``only``)
        that nothing serves any more: no target and no binding on another gateway."""
        services = Services(self.site)
        bound = {e.service.address for gw in self.list() if gw.name != name for e in gw.config.bindings}
        for definition in services.list():
            if only is not None and definition.address != only:
                continue
            if (definition.labels.get(GATEWAY_QUALIFIER) == name and not definition.targets
                    and definition.address not in bound):
                services.delete(definition.address)

    # -- bindings and forwards -------------------------------------------------------------
    def bind(self, address: str, host: str, ports: Sequence[str | int], name: str | None = None) -> list[Endpoint]:
        """Send the service's traffic to ``host`` on ``ports`` (one per service port)."""
        from skupper_podman.services.model import validate_host

        validate_host(host)
        svc = self._service(address)
        targets = [parse_port(p) for p in ports]
        if len(targets) != len(svc.ports):
            raise InputError(f"Unable to update gateway endpoint, the given service provides {len(svc.ports)} "
                             f"ports, but only {len(targets)} provided")
        added = [Endpoint(address, host, _service_of(svc, port), target) for port, target in zip(svc.ports, targets)]

        def change(config: GatewayConfig) -> None:
            for endpoint in added:
                if any(e.key == endpoint.key for e in config.bindings):
                    raise InputError(f"{endpoint.key} is already bound to gateway {config.name}; unbind it first")
            config.bindings.extend(added)

        self._update(name, change)
        return added

    def unbind(self, address: str, name: str | None = None) -> list[Endpoint]:
        """Stop sending the service's traffic to this gateway."""
        return self._remove(address, name, "bindings")

    def forward(self, address: str, ports: Sequence[str | int], loopback: bool = False,
                name: str | None = None) -> list[Endpoint]:
        """Listen on local ``ports`` (every interface, or 127.0.0.1 with ``loopback``) for the
        service ``address`` (one local port per service port)."""
        svc = self._service(address)
        locals_ = [parse_port(p) for p in ports]
        if len(locals_) != len(svc.ports):
            raise InputError(f"Unable to update gateway endpoint, the given service provides {len(svc.ports)} "
                             f"ports, but only {len(locals_)} provided")
        host = "127.0.0.1" if loopback else ""
        added = [Endpoint(address, host, _service_of(svc, port), local) for port, local in zip(svc.ports, locals_)]

        def change(config: GatewayConfig) -> None:
            for endpoint in added:
                if any(e.key == endpoint.key for e in config.forwards):
                    raise InputError(f"{endpoint.key} is already forwarded by gateway {config.name}; unforward it first")
                _check_free(endpoint)
            config.forwards.extend(added)

        self._update(name, change)
        return added

    def unforward(self, address: str, name: str | None = None) -> list[Endpoint]:
        """Stop listening for the service ``address``."""
        return self._remove(address, name, "forwards")

    def _remove(self, address: str, name: str | None, kind: str) -> list[Endpoint]:
        removed: list[Endpoint] = []

        def change(config: GatewayConfig) -> None:
            items: list[Endpoint] = getattr(config, kind)
            removed.extend(e for e in items if e.service.address == address)
            if not removed:
                what = "binding" if kind == "bindings" else "forward"
                raise InputError(f"gateway {config.name} has no {what} for {address}")
            setattr(config, kind, [e for e in items if e.service.address != address])

        self._update(name, change)
        return removed

    def _update(self, name: str | None, change: Callable[[GatewayConfig], None]) -> Gateway:
        """Apply ``change`` to a copy of the gateway's config; create and delete the entities
        that differ in the running router, then save the config and definition."""
        name = check_name(name if name else default_name())
        self.site.get()
        if self.store.find(name) is None:
            raise InputError(f"gateway {name} not found; create it with 'skupper gateway init'")
        with self.store.locked(name):
            gateway = self.store.get(name)
            if gateway.kind == BUNDLE:
                raise InputError(f"gateway {name} runs from a bundle on another machine: change its YAML "
                                 "and generate a new bundle")
            config = copy.deepcopy(gateway.config)
            change(config)
            updated = replace(gateway, config=config)
            text = render(updated, self._working_dir(updated, self.store.directory(name)))
            old, new = _entities(gateway), _entities(updated)
            with stop_signals_raise(), Rollback() as undo:
                if self.runner(gateway.kind).state(self.site, name) == "running":
                    self._apply_live(gateway, old, new, undo)
                self.store.save(updated, text)
        return updated

    def _apply_live(self, gateway: Gateway, old: dict[str, Entity], new: dict[str, Entity], undo: Rollback) -> None:
        """Delete what went away and create what came, through the gateway router's own
        management listener; each step is undone when a later one fails."""
        client = ManagementClient(gateway.url)
        undo.add(client.close)
        client.wait_ready(self.connect_timeout)
        for key in sorted(set(old) - set(new)):
            etype, attrs = old[key]
            _delete_entity(client, etype, key)
            undo.add(lambda t=etype, a=attrs: _create_entity(client, t, a))
        for key in sorted(set(new) - set(old)):
            etype, attrs = new[key]
            _create_entity(client, etype, attrs)
            undo.add(lambda t=etype, n=key: _delete_entity(client, t, n))
        client.close()

    # -- expose / unexpose -----------------------------------------------------------------
    def expose(self, address: str, host: str, ports: Sequence[str], *, protocol: str = "tcp",
               kind: str = DEFAULT_TYPE, name: str | None = None, aggregate: str = "",
               event_channel: bool = False) -> Gateway:
        """Create the service if it is missing (labelled for this gateway), create the gateway
        if it is missing, and bind ``host`` to it."""
        kind = check_type(kind)
        name = check_name(name if name else default_name())
        host, service_ports, target_ports = parse_expose_ports(host, ports)
        self._site_info()
        existing = self.store.find(name)
        if existing is not None and existing.kind != kind:
            raise InputError(f"gateway previously created as {existing.kind} type, "
                             f"delete current gateway to change to {kind} type")
        services = Services(self.site)
        with stop_signals_raise(), Rollback() as undo:
            # each undo is registered before its step: a stop signal may end the step half-way
            if address not in self._services():
                undo.add(lambda: services.delete(address))
                services.create(address, service_ports, protocol=protocol, aggregate=aggregate,
                                event_channel=event_channel, labels={GATEWAY_QUALIFIER: name})
            if existing is None:
                undo.add(lambda: self.delete(name))
                self.init(name, kind)
            self.bind(address, host, target_ports, name)
        return self.store.get(name)

    def unexpose(self, address: str, delete_last: bool = True, name: str | None = None) -> bool:
        """Unbind ``address``; delete the gateway when it was its last binding (and it has no
        forwards) with ``delete_last``, else remove the service ``expose`` made once no target
        is left. Returns True when the gateway was deleted."""
        name = check_name(name if name else default_name())
        self.site.get()
        gateway = self.store.get(name)
        others = [e for e in gateway.config.bindings if e.service.address != address]
        if not any(e.service.address == address for e in gateway.config.bindings):
            raise InputError(f"gateway {name} has no binding for {address}")
        if delete_last and not others and not gateway.config.forwards:
            self.delete(name)
            return True
        self.unbind(address, name)
        self._remove_exposed_services(name, only=address)
        return False

    # -- status ----------------------------------------------------------------------------
    def list(self) -> list[Gateway]:
        """Every gateway of the site whose definition can be read."""
        self.site.get()
        return [gw for _, gw in self.store.all() if isinstance(gw, Gateway)]

    def status(self) -> list[GatewayStatus]:
        """Every gateway of the site with its router state and connection."""
        info = self.site.get()
        gateways = self.store.all()
        if not gateways:
            return []
        attached = attached_routers(self.site, info)
        ca_cert = pki.Credential.from_data(self.site.files.read_all(self.site.vol(SITE_CA))).cert_pem or b""
        result = []
        for name, gw in gateways:
            if not isinstance(gw, Gateway):
                result.append(GatewayStatus(name=name, type=self.store_kind(name), router_id="", state="damaged",
                                            connected=None, revoked=False, damage=str(gw)))
                continue
            state = "remote" if gw.kind == BUNDLE else self.runner(gw.kind).state(self.site, gw.name)
            cert = self.store.credential(gw.name).cert_pem or b""
            result.append(GatewayStatus(
                name=gw.name, type=gw.kind, router_id=gw.router_id, state=state,
                connected=None if attached is None else gw.router_id in attached,
                revoked=not pki.issued_by(cert, ca_cert), version=self._version(gw, state),
                bindings=[_endpoint_row(e) for e in gw.config.bindings],
                forwards=[_endpoint_row(e) for e in gw.config.forwards]))
        return result

    @staticmethod
    def _version(gateway: Gateway, state: str) -> str:
        if state != "running" or not gateway.url:
            return ""
        try:
            with ManagementClient(gateway.url, timeout=2.0) as client:
                return str(client.ping().get("version") or "")
        except SkupperError:
            return ""

    # -- export and bundles ----------------------------------------------------------------
    def export_config(self, export_name: str, directory: str | Path, name: str | None = None) -> Path:
        """Write the gateway's config as ``<directory>/<export_name>.yaml`` (1.5's export)."""
        check_name(export_name)
        name = check_name(name if name else default_name())
        self.site.get()
        gateway = self.store.get(name)
        target = Path(directory) / f"{export_name}.yaml"
        if not Path(directory).is_dir():
            raise InputError(f"Failed to write export config file: {directory} is not a directory")
        return atomic_write(target, gateway.config.renamed(export_name).to_yaml(), what="export config file")

    def generate_bundle(self, config_file: str, directory: str | Path) -> Path:
        """Write ``<directory>/<name>.tar.gz``: the YAML, a new certificate from the site CA, the
        router config and ``launch.py``/``remove.py``. The site keeps the gateway (type
        ``bundle``) so ``status`` shows it and ``delete`` names it."""
        from skupper_podman.gateway.bundle import write_bundle

        config = read_config(config_file)
        if not config.name:
            raise InputError(f"bad gateway config {config_file}: name is required")
        if not Path(directory).is_dir():
            raise InputError(f"Unable to create download file: {directory} is not a directory")
        info = self._site_info()
        self._refuse_existing(config.name, BUNDLE)
        self._check_config(config, check_ports=False)
        hosts = [h for h in info.ingress_hosts if h != ROUTER] or info.ingress_hosts
        router_id = f"skupper-gateway-{info.name}-{config.name}"
        gateway = Gateway(config=config, kind=BUNDLE, router_id=router_id, site_id=info.site_id,
                          edge_host=hosts[0], edge_port=info.bind_port_edge or 0, image=info.image,
                          created=_now())
        credential = self._credential(info, router_id, hosts[0])
        with stop_signals_raise(), Rollback() as undo:
            stored = self.store.create(gateway, credential, undo)
            text = render(gateway, self._working_dir(gateway, stored))
            self.store.save(gateway, text)
            path = write_bundle(gateway, credential, text, Path(directory), self.site.layout)
        return path

    # -- the site going away ---------------------------------------------------------------
    def retire(self) -> list[str]:
        """Stop every local gateway router (their containers and units go with the site) and
        say which gateways can no longer connect; called by site ``delete``."""
        notices = []
        for name in self.store.names():
            kind = self.store_kind(name)
            if kind in ("podman", "docker", "service"):
                try:
                    self.runner(kind).stop(self.site, name)
                except SkupperError as err:
                    notices.append(f"Gateway {name} ({kind}): could not stop its router: {err}")
                    continue
                what = "service unit" if kind == "service" else f"{kind} container"
                notices.append(f"Gateway {name} ({what} {process_name(self.site, name)}) removed")
            else:
                notices.append(f"Gateway {name} runs from a bundle elsewhere: it can no longer connect; "
                               "run its remove.py on that machine")
        return notices


# -- helpers -----------------------------------------------------------------------------------

def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _service_of(definition: Any, port: int) -> GatewayService:
    return GatewayService(address=definition.address, port=port, protocol=definition.protocol,
                          aggregate=definition.aggregate, event_channel=definition.event_channel)


def _check_free(endpoint: Endpoint) -> None:
    if host_port_in_use(endpoint.host or "0.0.0.0", endpoint.local_port):
        raise ResourceConflict(f"port {endpoint.local_port} is already in use")


def _entities(gateway: Gateway) -> dict[str, Entity]:
    """The gateway's bridge entities by name."""
    return {attrs["name"]: (etype, attrs) for etype, attrs in bridge_entities(gateway)}


def _create_entity(client: ManagementClient, etype: str, attrs: dict[str, Any]) -> None:
    values = dict(attrs)
    client.create(etype, values.pop("name"), values)


def _delete_entity(client: ManagementClient, etype: str, name: str) -> None:
    try:
        client.delete(etype, name)
    except ManagementError as err:
        if err.status_code != 404:
            raise


def _local_edge(info: SiteInfo, kind: str) -> tuple[str, bool, dict[str, str]]:
    """Where a gateway on this host dials the site's edge listener: (host, verify, extra hosts).

    A container gateway dials ``skupper-router`` (a name in the site-server certificate)
    mapped to the site's bind address. A service gateway dials an ingress host (a name in that
    certificate) that resolves to this machine, else one that resolves at all, else 127.0.0.1
    without hostname verification (the certificate must still come from the site CA).
    """
    address = next((ip for ip in info.bind_ips if ip), "127.0.0.1")
    if kind in ("podman", "docker"):
        return ROUTER, True, {ROUTER: address}
    local = set(local_ipv4_addresses())
    resolving: list[str] = []
    for host in info.ingress_hosts:
        if host == ROUTER:
            continue
        try:
            found = {item[4][0] for item in socket.getaddrinfo(host, info.bind_port_edge, type=socket.SOCK_STREAM)}
        except OSError:
            continue
        if any(ipaddress.ip_address(ip).is_loopback or ip in local for ip in found):
            return host, True, {}
        resolving.append(host)
    if resolving:
        return resolving[0], True, {}
    return address, False, {}


def retire_gateways(site: Site) -> list[str]:
    """Stop the site's local gateway routers and say which gateways lose the site (site
    ``delete`` calls this before removing the volumes that hold their credentials). Never
    raises: a damaged gateway must not stop a site's removal."""
    try:
        return Gateways(site).retire()
    except SkupperError as err:
        return [f"Gateways could not all be stopped: {err}"]
