"""Test helpers shared by the suites: a free TCP port, and a Podman and a site without Podman.

``FakePodman`` answers like ``PodmanAdapter``, with the same typed records: volumes are
directories under a root, containers and networks live in dictionaries. ``FakeSite`` is a site
as ``init`` leaves it (volumes, router config, service CA) whose discovery is fixed and whose
management goes to a test responder.
"""
from __future__ import annotations

import dataclasses
import shutil
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from skupper_podman import pki
from skupper_podman.errors import PodmanError, ResourceConflict
from skupper_podman.paths import (
    APP_LABEL,
    APP_VALUE,
    CA_VOLUMES,
    CREDENTIAL_VOLUMES,
    INTERNAL,
    OTHER_VOLUMES,
    SERVICE_CA,
    SERVICES,
    SiteLayout,
)
from skupper_podman.podman.adapter import ContainerSpec
from skupper_podman.podman.endpoint import Endpoint
from skupper_podman.podman.records import ContainerRecord, ImageRecord, NetworkRecord, PortBinding, VolumeRecord
from skupper_podman.router.config import site_config
from skupper_podman.router.logging_spec import parse_router_logging
from skupper_podman.router.management import ManagementClient
from skupper_podman.site.lifecycle import CONFIG_FILE, SERVICES_FILE, Site, SiteInfo

SITE_ID = "5c3b8f2e-1d2a-4c1b-9e0f-7a6b5c4d3e2f"
CREATED = "2024-01-02T03:04:05Z"


def free_port() -> int:
    """A TCP port free on every interface right now."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def _matches(labels: Mapping[str, str], label_filter: str) -> bool:
    key, sep, value = label_filter.partition("=")
    return key in labels and (not sep or labels[key] == value)


class FakePodman:
    """Just enough of PodmanAdapter, answering with the adapter's records."""

    rootless = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.endpoint = Endpoint("unix:///fake/podman.sock")
        self.ctrs: dict[str, ContainerRecord] = {}
        self.specs: dict[str, ContainerSpec] = {}
        self.vols: dict[str, VolumeRecord] = {}
        self.nets: dict[str, NetworkRecord] = {}
        self.images: dict[str, ImageRecord] = {}
        self.fail_start = False
        self.calls: list[str] = []  # names of the adapter methods called, in order
        self.removed: list[str] = []  # containers removed, in order

    # -- volumes -------------------------------------------------------------------------------
    def volume(self, name: str) -> VolumeRecord | None:
        self.calls.append("volume")
        return self.vols.get(name)

    def volumes(self, label_filter: str) -> list[VolumeRecord]:
        self.calls.append("volumes")
        return [v for v in self.vols.values() if _matches(v.labels, label_filter)]

    def create_volume(self, name: str, labels: Mapping[str, str]) -> VolumeRecord:
        self.calls.append("create_volume")
        if name in self.vols:
            raise PodmanError(f"error creating volume {name} - volume already exists")
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        self.vols[name] = VolumeRecord(name, str(path), dict(labels), CREATED)
        return self.vols[name]

    def remove_volume(self, name: str) -> None:
        self.calls.append("remove_volume")
        vol = self.vols.get(name)
        if vol is None:
            return
        if vol.labels.get(APP_LABEL) != APP_VALUE:
            raise ResourceConflict(f"volume {name} is not owned by Skupper")
        del self.vols[name]
        shutil.rmtree(vol.mountpoint, ignore_errors=True)

    # -- networks ------------------------------------------------------------------------------
    def network(self, name: str) -> NetworkRecord | None:
        return self.nets.get(name)

    def networks(self, label_filter: str) -> list[NetworkRecord]:
        return [n for n in self.nets.values() if _matches(n.labels, label_filter)]

    def create_network(self, name: str, labels: Mapping[str, str], ipv6: bool = False) -> None:
        self.nets[name] = NetworkRecord(name, True, dict(labels))

    def remove_network(self, name: str) -> None:
        self.nets.pop(name, None)

    # -- images --------------------------------------------------------------------------------
    def image(self, name: str) -> ImageRecord | None:
        return self.images.get(name)

    # -- containers ----------------------------------------------------------------------------
    def container(self, name: str) -> ContainerRecord | None:
        self.calls.append("container")
        return self.ctrs.get(name)

    def containers(self, label_filters: Iterable[str]) -> list[ContainerRecord]:
        self.calls.append("containers")
        filters = list(label_filters)
        return [c for c in self.ctrs.values() if all(_matches(c.labels, f) for f in filters)]

    def add_container(self, record: ContainerRecord) -> ContainerRecord:
        """Put a container in place as if someone had created it."""
        self.ctrs[record.name] = record
        return record

    def set_state(self, name: str, state: str) -> None:
        self.ctrs[name] = dataclasses.replace(self.ctrs[name], state=state)

    def create_container(self, spec: ContainerSpec, start: bool = True) -> ContainerRecord:
        self.calls.append("create_container")
        if spec.name in self.ctrs:
            raise PodmanError(f"error creating container {spec.name} - name in use")
        self.specs[spec.name] = spec
        ports = tuple(PortBinding(int(key.split("/")[0]), ip, port)
                      for key, binds in spec.ports.items() for ip, port in binds)
        networks = {spec.network: tuple(spec.aliases or [spec.name])} if spec.network else {}
        self.ctrs[spec.name] = ContainerRecord(
            name=spec.name, image=spec.image, labels={**spec.labels, APP_LABEL: APP_VALUE}, state="created",
            ports=ports, networks=networks, created=CREATED)
        if start:
            self.start_container(spec.name)
        return self.ctrs[spec.name]

    def start_container(self, name: str) -> None:
        self.calls.append("start_container")
        if self.fail_start:
            raise PodmanError(f"error starting container {name} - boom")
        self.set_state(name, "running")

    def restart_container(self, name: str) -> None:
        self.set_state(name, "running")

    def remove_container(self, name: str) -> None:
        self.calls.append("remove_container")
        found = self.ctrs.get(name)
        if found is not None and found.labels.get(APP_LABEL) != APP_VALUE:
            raise ResourceConflict(f"container {name} is not managed by Skupper")
        if self.ctrs.pop(name, None) is not None:
            self.removed.append(name)

    def remove_containers(self, label_filters: Iterable[str]) -> list[str]:
        self.calls.append("remove_containers")
        doomed = [c.name for c in self.containers(label_filters) if c.labels.get(APP_LABEL) == APP_VALUE]
        for name in doomed:
            del self.ctrs[name]
        self.removed += doomed
        return doomed


class FakeSite(Site):
    """A site as init leaves it, whose discovery is fixed and whose management goes to a
    test responder at ``mgmt_url``."""

    def __init__(self, root: Path, service_ca: pki.Credential, mgmt_url: str = "") -> None:
        super().__init__(SiteLayout("ut", data_dir=root / "data"), FakePodman(root / "volumes"))
        self.mgmt_url = mgmt_url
        self.server_cert = pki.issue(service_ca, "skupper-router", ["skupper-router"]).cert_pem or b""
        for base in CA_VOLUMES + CREDENTIAL_VOLUMES + OTHER_VOLUMES:
            self.podman.create_volume(self.vol(base), self.layout.labels)
        self.files.write(self.vol(INTERNAL), CONFIG_FILE, site_config("west", SITE_ID, parse_router_logging("info")))
        self.files.write_all(self.vol(SERVICE_CA), service_ca.files())
        self.files.write(self.vol(SERVICES), SERVICES_FILE, "{}")
        self.podman.calls.clear()

    @property
    def fake(self) -> FakePodman:
        assert isinstance(self.podman, FakePodman)
        return self.podman

    def get(self) -> SiteInfo:
        return SiteInfo(namespace="ut", name="west", site_id=SITE_ID, version="1.5.5", mode="interior",
                        image="localhost/router:test", network="ut-skupper", bind_ips=[""], bind_port=None,
                        bind_port_edge=None, management_port=1, router_state="running",
                        server_cert=self.server_cert)

    def management(self, info: SiteInfo | None = None, timeout: float = 5.0) -> ManagementClient:
        return ManagementClient(self.mgmt_url, timeout=timeout)
