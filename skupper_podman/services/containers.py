"""The Podman side of a service: its edge-router container, its router config file, its TLS
credential, and the live connector changes made through the site router's management.

A service router is an edge router named ``<site name>-<address>``. It dials the site router's
edge listener (``skupper-router:45671``, mutual TLS with the site-server credential) and is
managed through the site router at ``amqp:/_edge/<router id>/$management``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from skupper_podman.errors import ManagementError, NotInitialized, PodmanError, RouterUnavailable, SkupperError
from skupper_podman.paths import (
    ADDRESS_LABEL, APP_LABEL, APP_VALUE, INTERNAL, NAMESPACE_LABEL, ROUTER_CERTS, SERVICE_CA,
)
from skupper_podman.podman.adapter import ContainerSpec, VolumeMount
from skupper_podman.podman.records import ContainerRecord
from skupper_podman.rollback import Rollback
from skupper_podman.router.config import (
    RouterConfig,
    ServiceSpec,
    ServiceTarget,
    service_config,
    service_connector_entities,
    service_router_id,
)
from skupper_podman.router.management import ManagementClient, edge_agent
from skupper_podman.site.lifecycle import CONFIG_FILE, ROUTER_MOUNTS, Site, SiteInfo

Entity = tuple[str, dict[str, Any]]
CONFIG_DIR = "/etc/skupper-router/config"
_POLL = 0.2


# -- containers --------------------------------------------------------------------------------

def container_name(site: Site, address: str, requested: str = "") -> str:
    """The container's name: ``--container-name`` or the address, namespaced like the site's
    resources (the network alias stays the bare name)."""
    return site.layout.name(requested or address)


def service_containers(site: Site) -> dict[str, ContainerRecord]:
    """This site's service containers by address (found by their ``skupper.io/address`` label)."""
    found: dict[str, ContainerRecord] = {}
    for ctr in site.podman.containers([site.layout.label_filter, ADDRESS_LABEL]):
        address = ctr.labels.get(ADDRESS_LABEL)
        if address:
            found.setdefault(address, ctr)
    return found


def find_container(site: Site, address: str) -> ContainerRecord | None:
    """The service's container: by its default name first (one inspect; a labelled list
    costs Podman a look at every container), else by its label (``--container-name``)."""
    ctr = site.podman.container(container_name(site, address))
    if ctr is not None and ctr.labels.get(ADDRESS_LABEL) == address \
            and ctr.labels.get(NAMESPACE_LABEL) == site.layout.namespace:
        return ctr
    matches = site.podman.containers([site.layout.label_filter, f"{ADDRESS_LABEL}={address}"])
    return matches[0] if matches else None


def published_ports(ctr: ContainerRecord) -> tuple[str, dict[int, int]]:
    """The host IP and service port -> host port a container publishes."""
    host_ip = next((p.host_ip for p in ctr.ports if p.host_ip), "")
    ports: dict[int, int] = {}
    for binding in ctr.ports:
        ports.setdefault(binding.container_port, binding.host_port)
    return host_ip, dict(sorted(ports.items()))


def start_container(site: Site, info: SiteInfo, undo: Rollback, address: str, name: str, *, alias: str,
                    host_ip: str, host_ports: Mapping[int, int], labels: Mapping[str, str]) -> None:
    """Create and start the service's router container (undone through ``undo``)."""
    spec = ContainerSpec(
        name=name,
        image=info.image,
        labels={**labels, **site.layout.labels, ADDRESS_LABEL: address},
        env={
            "APPLICATION_NAME": info.site_id,
            "QDROUTERD_CONF": f"{CONFIG_DIR}/{address}/{CONFIG_FILE}",
            "QDROUTERD_CONF_TYPE": "json",
            "SKUPPER_SITE_ID": info.site_id,
        },
        network=info.network,
        aliases=[alias],
        ports={f"{port}/tcp": [(host_ip, host)] for port, host in host_ports.items()},
        mounts=[VolumeMount(site.vol(base), dest) for base, dest in ROUTER_MOUNTS.items()],
        rootless_keep_id=site.podman.rootless,
    )
    undo.add(lambda: site.podman.remove_container(name))  # first: a stop signal may come mid-call
    site.podman.create_container(spec, start=False)
    site.podman.start_container(name)


def remove_container(site: Site, ctr: ContainerRecord) -> None:
    if ctr.labels.get(APP_LABEL) != APP_VALUE:
        raise PodmanError(f"container {ctr.name} is not managed by Skupper")
    site.podman.remove_container(ctr.name)


# -- config file and TLS -----------------------------------------------------------------------

@contextmanager
def _volume_io(what: str) -> Iterator[None]:
    """File errors inside a volume become one-line library errors."""
    try:
        yield
    except OSError as err:
        raise SkupperError(f"cannot {what}: {err.strerror or err}") from err


def config_file(address: str) -> str:
    return f"{address}/{CONFIG_FILE}"


def write_config(site: Site, info: SiteInfo, spec: ServiceSpec) -> None:
    """Write ``skupper-internal/<address>/skrouterd.json`` (logging copied from the site)."""
    with _volume_io(f"write the router config of service {spec.address}"):
        main = RouterConfig.parse(site.files.read(site.vol(INTERNAL), CONFIG_FILE).decode())
        text = service_config(info.name, info.site_id, spec, logging=main.log_entries(),
                              **({"version": info.version} if info.version else {}))
        site.files.write(site.vol(INTERNAL), config_file(spec.address), text)


def _edit_config(site: Site, address: str, change: Callable[[RouterConfig], None]) -> None:
    volume = site.vol(INTERNAL)
    try:
        config = RouterConfig.parse(site.files.read(volume, config_file(address)).decode())
    except FileNotFoundError:
        raise SkupperError(f"the router config of service {address} is missing") from None
    change(config)
    with _volume_io(f"write the router config of service {address}"):
        site.files.write(volume, config_file(address), config.dumps())


def remove_config(site: Site, address: str) -> None:
    with _volume_io(f"remove the router config of service {address}"):
        site.files.remove_tree(site.vol(INTERNAL), address)


def issue_tls(site: Site, address: str, profile: str) -> None:
    """Issue ``CN=<address>`` from the service CA into ``skupper-router-certs/<profile>/``."""
    from skupper_podman import pki

    with _volume_io(f"issue the TLS credential {profile}"):
        ca = pki.Credential.from_data(site.files.read_all(site.vol(SERVICE_CA)))
        credential = pki.issue(ca, address, [address])
        site.files.write_all(site.vol(ROUTER_CERTS), credential.files(), subdir=profile)


def remove_tls(site: Site, profile: str) -> None:
    with _volume_io(f"remove the TLS credential {profile}"):
        site.files.remove_tree(site.vol(ROUTER_CERTS), profile)


# -- connectors --------------------------------------------------------------------------------

def connector_entities(info: SiteInfo, spec: ServiceSpec, target: ServiceTarget) -> list[Entity]:
    return service_connector_entities(spec, info.site_id, target)


def add_connectors(site: Site, info: SiteInfo, spec: ServiceSpec, target: ServiceTarget) -> list[Entity]:
    """Add the target's connectors to the service config file; return them."""
    entities = connector_entities(info, spec, target)

    def add(config: RouterConfig) -> None:
        for entity_type, attrs in entities:
            config.add(entity_type, attrs)

    _edit_config(site, spec.address, add)
    return entities


def remove_connectors(site: Site, address: str, entities: Iterable[Entity]) -> None:
    items = list(entities)

    def remove(config: RouterConfig) -> None:
        for entity_type, attrs in items:
            config.remove(entity_type, attrs["name"])

    _edit_config(site, address, remove)


def attached_routers(site: Site, info: SiteInfo) -> set[str] | None:
    """Ids of the edge routers attached to the site router; None when it cannot be asked."""
    if info.router_state != "running":
        return None
    try:
        with site.management(info) as client:
            return _edge_peers(client)
    except (RouterUnavailable, ManagementError, NotInitialized):
        return None


def _edge_peers(client: ManagementClient) -> set[str]:
    rows = client.query("connection", ["container", "role", "dir"])
    return {r["container"] for r in rows if r.get("role") == "edge" and r.get("dir") == "in"}


def _wait_attached(client: ManagementClient, router_id: str, address: str, deadline: float) -> None:
    while router_id not in _edge_peers(client):
        if time.monotonic() >= deadline:
            raise RouterUnavailable(
                f"the router of service {address} ({router_id}) is not connected to the site router")
        time.sleep(_POLL)


def _retrying(action: Any, deadline: float) -> Any:
    """Run ``action`` until the edge router's agent answers (its address may lag the link)."""
    while True:
        try:
            return action()
        except RouterUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(_POLL)


def _exists(client: ManagementClient, entity_type: str, name: str, node: str) -> bool:
    try:
        client.read(entity_type, name, node=node)
    except ManagementError:
        return False
    return True


def create_live(site: Site, info: SiteInfo, address: str, entities: Sequence[Entity], timeout: float) -> None:
    """Create the connectors in the running service router; all of them or none.

    A connector the router already has (it restarted and read the new config file) is fine.
    """
    router_id = service_router_id(info.name, address)
    node = edge_agent(router_id)
    deadline = time.monotonic() + timeout
    with site.management(info) as client, Rollback() as undo:
        _wait_attached(client, router_id, address, deadline)
        for entity_type, attrs in entities:
            values = dict(attrs)
            name = values.pop("name")
            try:
                _retrying(lambda: client.create(entity_type, name, values, node=node), deadline)
            except ManagementError:
                if not _exists(client, entity_type, name, node):
                    raise
                continue
            undo.add(lambda t=entity_type, n=name: client.delete(t, n, node=node))


def delete_live(site: Site, info: SiteInfo, address: str, entities: Sequence[Entity], timeout: float) -> None:
    """Delete the connectors from the running service router (ones it lacks are fine)."""
    router_id = service_router_id(info.name, address)
    node = edge_agent(router_id)
    deadline = time.monotonic() + timeout
    with site.management(info) as client:
        _wait_attached(client, router_id, address, deadline)
        for entity_type, attrs in entities:
            name = attrs["name"]
            try:
                _retrying(lambda: client.delete(entity_type, name, node=node), deadline)
            except ManagementError:
                if _exists(client, entity_type, name, node):
                    raise
