"""skupper-podman: a Podman-native Skupper 1.5 site manager.

Everything the ``skupper`` CLI does is available here::

    from skupper_podman import Site, InitOptions, Links, Services, site_status
    site = Site.open(namespace="west")
    site.init(InitOptions(site_name="west", ingress_hosts=["host.containers.internal"]))
    print(site_status(site).total_sites)

Names are imported on first use, so ``import skupper_podman`` (and the CLI's start-up) stays
cheap; everything listed in ``__all__`` is public API.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from skupper_podman.errors import (
    DamagedState,
    ImageUnavailable,
    InputError,
    Interrupted,
    ManagementError,
    NotInitialized,
    PlatformError,
    PodmanError,
    PodmanUnavailable,
    ResourceConflict,
    RouterError,
    RouterUnavailable,
    SiteExists,
    SkupperError,
    StateError,
    SystemdError,
)

_LAZY = {
    "LinkCreated": "links.operations", "LinkReport": "links.operations", "Links": "links.operations",
    "LinkState": "links.operations",
    "ServiceDefinition": "services.model", "Services": "services.operations",
    "ServiceStatus": "services.operations", "ServiceStore": "services.store",
    "InitResult": "site.lifecycle", "Site": "site.lifecycle", "SiteInfo": "site.lifecycle",
    "GatewayConfig": "gateway.model", "Gateways": "gateway.operations", "GatewayStatus": "gateway.operations",
    "InitOptions": "site.options",
    "NetworkStatus": "network.status", "network_status": "network.status",
    "FlowCollector": "network.collector", "FlowRecord": "network.flowstate",
    "DumpResult": "network.debug", "debug_dump": "network.debug",
    "SiteStatus": "site.status", "VersionInfo": "site.status", "site_status": "site.status",
    "version_info": "site.status",
    "BootStatus": "systemd.boot", "SystemdManager": "systemd.units",
}

__all__ = sorted([
    "DamagedState", "ImageUnavailable", "InputError", "Interrupted", "ManagementError",
    "NotInitialized", "PlatformError", "PodmanError", "PodmanUnavailable", "ResourceConflict",
    "RouterError", "RouterUnavailable", "SiteExists", "SkupperError", "StateError",
    "SystemdError", *_LAZY,
])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skupper_podman' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs
    from skupper_podman.gateway.model import GatewayConfig
    from skupper_podman.gateway.operations import Gateways, GatewayStatus
    from skupper_podman.links.operations import LinkCreated, LinkReport, Links, LinkState
    from skupper_podman.network.collector import FlowCollector
    from skupper_podman.network.debug import DumpResult, debug_dump
    from skupper_podman.network.flowstate import FlowRecord
    from skupper_podman.network.status import NetworkStatus, network_status
    from skupper_podman.services.model import ServiceDefinition
    from skupper_podman.services.operations import Services, ServiceStatus
    from skupper_podman.services.store import ServiceStore
    from skupper_podman.site.lifecycle import InitResult, Site, SiteInfo
    from skupper_podman.site.options import InitOptions
    from skupper_podman.site.status import SiteStatus, VersionInfo, site_status, version_info
    from skupper_podman.systemd.boot import BootStatus
    from skupper_podman.systemd.units import SystemdManager
