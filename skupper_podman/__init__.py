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

from .errors import (
    InputError,
    ManagementError,
    NotInitialized,
    PodmanUnavailable,
    RouterUnavailable,
    SiteExists,
    SkupperError,
)

_LAZY = {
    "LinkCreated": "links", "LinkReport": "links", "Links": "links", "LinkState": "links",
    "ServiceDefinition": "services", "Services": "services", "ServiceStatus": "services",
    "ServiceStore": "services",
    "InitResult": "site", "Site": "site", "SiteInfo": "site",
    "InitOptions": "site_options",
    "SiteStatus": "status", "VersionInfo": "status", "site_status": "status", "version_info": "status",
    "SystemdManager": "systemd",
}

__all__ = sorted([
    "InputError", "ManagementError", "NotInitialized", "PodmanUnavailable", "RouterUnavailable",
    "SiteExists", "SkupperError", *_LAZY,
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
    from .links import LinkCreated, LinkReport, Links, LinkState
    from .services import ServiceDefinition, Services, ServiceStatus, ServiceStore
    from .site import InitResult, Site, SiteInfo
    from .site_options import InitOptions
    from .status import SiteStatus, VersionInfo, site_status, version_info
    from .systemd import SystemdManager
