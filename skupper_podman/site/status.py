"""``status`` and ``version`` of a site, read from the running router and from Podman."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from skupper_podman.errors import DamagedState, RouterUnavailable
from skupper_podman.paths import SERVICES, username
from skupper_podman.site.lifecycle import SERVICES_FILE, Site, SiteInfo
from skupper_podman.systemd.boot import BootStatus
from skupper_podman.versions import client_version


@dataclass
class SiteStatus:
    """What ``skupper status`` reports."""

    user: str
    namespace: str
    site_name: str
    site_id: str
    mode: str
    router_state: str
    total_sites: int
    direct_sites: int
    indirect_sites: int
    exposed_services: int
    warnings: list[str] = field(default_factory=list)
    platform: str = "podman"
    # whether the site starts at boot; None without a systemd manager on the site or the machine
    boot: BootStatus | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VersionInfo:
    client_version: str
    router_image: str | None = None
    router_digest: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _require_running(site: Site, info: SiteInfo) -> None:
    if info.router_state != "running":
        raise RouterUnavailable(
            f"The site router container {site.layout.router_container} is {info.router_state}; "
            "the site is not working"
        )


def exposed_services(site: Site) -> int:
    """How many services the site defines; a missing file means none, a damaged one is an error."""
    where = f"{SERVICES_FILE} in volume {site.vol(SERVICES)}"
    try:
        data = json.loads(site.files.read(site.vol(SERVICES), SERVICES_FILE) or b"{}")
    except FileNotFoundError:
        return 0
    except OSError as err:
        raise DamagedState(f"cannot read {where}: {err.strerror or err}") from None
    except (ValueError, RecursionError):
        raise DamagedState(f"damaged services file {where}: not JSON") from None
    if not isinstance(data, dict):
        raise DamagedState(f"damaged services file {where}: not a JSON object keyed by address")
    return len(data)


def site_status(site: Site) -> SiteStatus:
    """Status from the RUNNING router: never reports a healthy site whose router is down."""
    info = site.get()
    _require_running(site, info)
    from skupper_podman.network.topology import SiteCounts, count_sites, gather_routers  # AMQP

    with site.management(info) as client:
        counts: SiteCounts = count_sites(gather_routers(client, info.name), info.site_id)
    return SiteStatus(
        user=username(),
        namespace=info.namespace,
        site_name=info.name,
        site_id=info.site_id,
        mode=info.mode,
        router_state=info.router_state,
        total_sites=counts.total,
        direct_sites=counts.direct,
        indirect_sites=counts.indirect,
        exposed_services=exposed_services(site),
        warnings=counts.warnings,
        boot=site.systemd.boot_status(site.layout) if site.systemd is not None else None,  # type: ignore[attr-defined]
    )


def version_info(site: Site | None) -> VersionInfo:
    """Client version, and the router image with its digest when a site exists."""
    result = VersionInfo(client_version())
    if site is None:
        return result
    ctr = site.router_container()
    if ctr is None:
        return result
    image = site.podman.image(ctr.image_id or ctr.image)
    tags = image.tags if image is not None and image.tags else (ctr.image,)
    result.router_image = tags[0]
    digest = image.digest if image is not None else ""
    result.router_digest = digest[:19] if digest else None
    return result
