"""Typed records of Podman resources, and the only code that reads Podman's JSON.

The adapter turns every API answer into one of these frozen records, so the rest of the
library never sees ``PortBindings``, ``NetworkSettings`` or ``RepoTags``. Containers come from
two answers of different shapes: the list endpoint (``Names``, ``Ports``, ``State`` as a string)
and inspect (``Name``, ``HostConfig.PortBindings``, ``State.Status``); both parse here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PortBinding:
    """A container port published on the host."""

    container_port: int
    host_ip: str
    host_port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class ContainerRecord:
    """A container: ``image`` is the reference it was created from, ``networks`` maps each
    network to the container's aliases there (empty when the list endpoint answered)."""

    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=dict)
    state: str = "unknown"
    ports: tuple[PortBinding, ...] = ()
    networks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    created: str = ""
    image_id: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    def published(self, container_port: int) -> list[PortBinding]:
        """The host bindings of one container port (several with several bind IPs)."""
        return [p for p in self.ports if p.container_port == container_port]

    def host_port(self, container_port: int) -> int | None:
        found = self.published(container_port)
        return found[0].host_port if found else None


@dataclass(frozen=True)
class VolumeRecord:
    """A named volume and where its data lives on the Podman host."""

    name: str
    mountpoint: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""


@dataclass(frozen=True)
class NetworkRecord:
    name: str
    dns_enabled: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageRecord:
    """A local image: ``digest`` is the manifest digest (``sha256:...``) or empty."""

    id: str
    digest: str = ""
    tags: tuple[str, ...] = ()


# -- parsing Podman's JSON ---------------------------------------------------------------------

def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _list_ports(items: Any) -> tuple[PortBinding, ...]:
    """``Ports`` of a list answer: ``[{host_ip, container_port, host_port, range, protocol}]``."""
    found = []
    for item in items or []:
        span = int(item.get("range") or 1)
        for offset in range(span):
            found.append(PortBinding(int(item["container_port"]) + offset, str(item.get("host_ip") or ""),
                                     int(item["host_port"]) + offset, str(item.get("protocol") or "tcp")))
    return tuple(found)


def _inspect_ports(bindings: Mapping[str, Any] | None) -> tuple[PortBinding, ...]:
    """``HostConfig.PortBindings`` of an inspect answer: ``{"5671/tcp": [{HostIp, HostPort}]}``."""
    found = []
    for key, binds in (bindings or {}).items():
        port, _, proto = key.partition("/")
        for bind in binds or []:
            found.append(PortBinding(int(port), str(bind.get("HostIp") or ""), int(bind["HostPort"]), proto or "tcp"))
    return tuple(found)


def container_from_list(attrs: Mapping[str, Any]) -> ContainerRecord:
    """A record from one entry of ``GET /libpod/containers/json``."""
    names = attrs.get("Names") or [attrs.get("Name") or attrs.get("Id", "")]
    return ContainerRecord(
        name=str(names[0]).lstrip("/"),
        image=str(attrs.get("Image") or ""),
        labels=_labels(attrs.get("Labels")),
        state=str(attrs.get("State") or "unknown"),
        ports=_list_ports(attrs.get("Ports")),
        networks={str(n): () for n in attrs.get("Networks") or []},
        created=str(attrs.get("Created") or ""),
        image_id=str(attrs.get("ImageID") or ""),
    )


def container_from_inspect(attrs: Mapping[str, Any]) -> ContainerRecord:
    """A record from ``GET /libpod/containers/{name}/json``."""
    config = attrs.get("Config") or {}
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return ContainerRecord(
        name=str(attrs.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or attrs.get("ImageName") or ""),
        labels=_labels(config.get("Labels")),
        state=str((attrs.get("State") or {}).get("Status") or "unknown"),
        ports=_inspect_ports((attrs.get("HostConfig") or {}).get("PortBindings")),
        networks={str(n): tuple((v or {}).get("Aliases") or ()) for n, v in networks.items()},
        created=str(attrs.get("Created") or ""),
        image_id=str(attrs.get("Image") or ""),
    )


def volume_from_api(attrs: Mapping[str, Any]) -> VolumeRecord:
    return VolumeRecord(
        name=str(attrs.get("Name") or ""),
        mountpoint=str(attrs.get("Mountpoint") or ""),
        labels=_labels(attrs.get("Labels")),
        created=str(attrs.get("CreatedAt") or ""),
    )


def network_from_api(attrs: Mapping[str, Any]) -> NetworkRecord:
    return NetworkRecord(
        name=str(attrs.get("name") or ""),
        dns_enabled=bool(attrs.get("dns_enabled")),
        labels=_labels(attrs.get("labels")),
    )


def image_from_api(attrs: Mapping[str, Any]) -> ImageRecord:
    return ImageRecord(
        id=str(attrs.get("Id") or ""),
        digest=str(attrs.get("Digest") or ""),
        tags=tuple(str(t) for t in attrs.get("RepoTags") or ()),
    )
