"""skupper-podman: a Podman-native Skupper 1.5 site manager.

Everything the ``skupper`` CLI does is available here::

    from skupper_podman import Site, InitOptions, site_status
    site = Site.open(namespace="west")
    site.init(InitOptions(site_name="west", ingress_hosts=["host.containers.internal"]))
    print(site_status(site).total_sites)
"""
from .errors import (
    InputError,
    ManagementError,
    NotInitialized,
    PodmanUnavailable,
    RouterUnavailable,
    SiteExists,
    SkupperError,
)
from .links import LinkCreated, LinkReport, Links, LinkState
from .services import ServiceDefinition, Services, ServiceStatus, ServiceStore
from .site import InitResult, Site, SiteInfo
from .site_options import InitOptions
from .status import SiteStatus, VersionInfo, site_status, version_info
from .systemd import SystemdManager

__all__ = [
    "InitOptions",
    "InitResult",
    "InputError",
    "LinkCreated",
    "LinkReport",
    "LinkState",
    "Links",
    "ManagementError",
    "NotInitialized",
    "PodmanUnavailable",
    "RouterUnavailable",
    "ServiceDefinition",
    "ServiceStatus",
    "ServiceStore",
    "Services",
    "Site",
    "SiteExists",
    "SiteInfo",
    "SiteStatus",
    "SkupperError",
    "SystemdManager",
    "VersionInfo",
    "site_status",
    "version_info",
]
