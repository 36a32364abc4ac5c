"""What a user can ask of ``init``, validated with Skupper 1.5's messages."""
from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, field

from skupper_podman.errors import InputError
from skupper_podman.paths import username
from skupper_podman.router.logging_spec import parse_router_logging
from skupper_podman.validation import check_duration, check_host, check_ip, check_port, check_site_name

INGRESS_TYPES = ("", "external", "none")
ROUTER_MODES = ("interior", "edge")
DEFAULT_TIMEOUT = 120.0


def default_site_name() -> str:
    """``<hostname>-<lower(user)>-<uuid[:5]>`` as Skupper 1.5.1+ names a site (characters a
    site name cannot hold, such as a ``\\`` in a domain user, become ``-``)."""
    raw = f"{socket.gethostname()}-{username().lower()}"
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "-", raw, flags=re.ASCII).strip("-._@") or "site"
    return f"{safe[:100]}-{uuid.uuid4().hex[:5]}"


_NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", re.ASCII)


def check_network_name(name: str) -> str:
    """A Podman network name (``--container-network``)."""
    if not isinstance(name, str) or len(name) > 128 or not _NETWORK_NAME.fullmatch(name):
        raise InputError(f"invalid value for --container-network: {name!r}: "
                         "use letters, digits, '_', '.' and '-', starting with a letter or digit")
    return name


@dataclass
class InitOptions:
    """Flags of ``skupper init`` on Podman."""

    site_name: str = ""
    ingress: str = ""
    ingress_hosts: list[str] = field(default_factory=list)
    ingress_bind_ips: list[str] = field(default_factory=list)
    bind_port: int = 55671
    bind_port_edge: int = 45671
    container_network: str = ""
    enable_ipv6: bool = False
    router_logging: str = ""
    router_mode: str = "interior"
    timeout: float = DEFAULT_TIMEOUT
    image: str = ""

    def validate(self) -> "InitOptions":
        """Check flag values in 1.5's order; return self for chaining."""
        if self.router_mode not in ROUTER_MODES:
            raise InputError(f'invalid "--router-mode={self.router_mode}", it must be one of "interior, edge"')
        if self.router_mode == "edge":
            raise InputError("edge mode is not yet allowed")
        if self.ingress not in INGRESS_TYPES:
            raise InputError(f"Invalid value for ingress: {self.ingress}")
        if self.ingress_none and self.ingress_hosts:
            raise InputError("--ingress-host cannot be used with --ingress none")
        if self.ingress_none and self.ingress_bind_ips:
            raise InputError("--ingress-bind-ip cannot be used with --ingress none")
        parse_router_logging(self.router_logging)
        self.bind_port = check_port(self.bind_port, "--bind-port")
        self.bind_port_edge = check_port(self.bind_port_edge, "--bind-port-edge")
        if self.bind_port == self.bind_port_edge and not self.ingress_none:
            raise InputError("--bind-port and --bind-port-edge must differ")
        self.timeout = check_duration(self.timeout, "--timeout", allow_zero=False)
        if self.site_name:
            check_site_name(self.site_name)
        for host in self.ingress_hosts:
            check_host(host, "--ingress-host")
        for ip in self.ingress_bind_ips:
            check_ip(ip, "--ingress-bind-ip")
        if self.container_network:
            check_network_name(self.container_network)
        return self

    @property
    def ingress_none(self) -> bool:
        return self.ingress == "none"
