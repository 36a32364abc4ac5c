"""What a user can ask of ``init``, validated with Skupper 1.5's messages."""
from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field

from skupper_podman.errors import InputError
from skupper_podman.paths import username
from skupper_podman.router.logging_spec import parse_router_logging

INGRESS_TYPES = ("", "external", "none")
ROUTER_MODES = ("interior", "edge")
DEFAULT_TIMEOUT = 120.0


def default_site_name() -> str:
    """``<hostname>-<lower(user)>-<uuid[:5]>`` as Skupper 1.5.1+ names a site."""
    return f"{socket.gethostname()}-{username().lower()}-{uuid.uuid4().hex[:5]}"


def _check_port(flag: str, value: int) -> int:
    if not 0 < int(value) < 65536:
        raise InputError(f"invalid value for {flag}: {value} (must be 1-65535)")
    return int(value)


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
        parse_router_logging(self.router_logging)
        _check_port("--bind-port", self.bind_port)
        _check_port("--bind-port-edge", self.bind_port_edge)
        if self.bind_port == self.bind_port_edge and not self.ingress_none:
            raise InputError("--bind-port and --bind-port-edge must differ")
        if self.timeout <= 0:
            raise InputError(f"invalid value for --timeout: {self.timeout}")
        if self.site_name and (len(self.site_name) > 253 or any(c.isspace() for c in self.site_name)):
            raise InputError(f"invalid site name: {self.site_name!r}")
        return self

    @property
    def ingress_none(self) -> bool:
        return self.ingress == "none"
