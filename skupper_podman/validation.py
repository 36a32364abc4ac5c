"""Checks of user-given values (names, hosts, IPs, ports, costs, durations), each refusing bad
input up front with a one-line :class:`~skupper_podman.errors.InputError` naming the flag."""
from __future__ import annotations

import ipaddress
import math
import re

from skupper_podman.errors import InputError

# A site name becomes the router id, and service routers are named ``<site name>-<address>``;
# the router builds addresses such as ``_topo/0/<id>/$management`` from it, so a ``/``, a space
# or a control character would break them. 1.5 leaves it free-form; we keep what is safe.
_SITE_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._@-]*[A-Za-z0-9])?", re.ASCII)
SITE_NAME_MAX = 128
_DNS_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)
DNS_NAME_MAX = 253
COST_MAX = 2**31 - 1  # 1.5's --cost is an int32
DURATION_MAX = 366 * 24 * 3600.0


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def check_site_name(name: str, flag: str = "--site-name") -> str:
    """A site name the router can use as its id (letters, digits, ``.``, ``_``, ``@``, ``-``)."""
    if not isinstance(name, str) or len(name) > SITE_NAME_MAX or not _SITE_NAME.fullmatch(name):
        raise InputError(
            f"invalid value for {flag}: {_shown(name)}: use at most {SITE_NAME_MAX} letters, digits, "
            "'.', '_', '@' and '-', starting and ending with a letter or digit")
    return name


def is_ip(value: str) -> bool:
    """True for an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_dns_name(value: str) -> bool:
    """True for a DNS host name: dot-separated labels of letters, digits and inner ``-``,
    at most 253 characters, and not all-numeric in its last label (``999.1.1.1`` is no name)."""
    if not isinstance(value, str) or not value or len(value) > DNS_NAME_MAX:
        return False
    labels = value.split(".")
    return all(_DNS_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def check_host(value: str, flag: str = "--ingress-host") -> str:
    """A DNS name or an IP address."""
    if isinstance(value, str) and (is_ip(value) or is_dns_name(value)):
        return value
    raise InputError(f"invalid value for {flag}: {_shown(value)} is neither a DNS name nor an IP address")


def check_ip(value: str, flag: str = "--ingress-bind-ip") -> str:
    """An IP address (``""`` means every interface)."""
    if value == "" or (isinstance(value, str) and is_ip(value)):
        return value
    raise InputError(f"invalid value for {flag}: {_shown(value)} is not an IP address")


def _integer(value: int | str, flag: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"invalid value for {flag}: {value!r} is not a number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,30}", text, re.ASCII):
        raise InputError(f"invalid value for {flag}: {_shown(value)} is not a whole number")
    return int(text)


def check_port(value: int | str, flag: str = "--port") -> int:
    """A TCP port, 1-65535."""
    port = _integer(value, flag)
    if not 0 < port < 65536:
        raise InputError(f"invalid value for {flag}: {_shown(value)} (must be 1-65535)")
    return port


def check_cost(value: int | str, flag: str = "--cost") -> int:
    """A link cost, 1 to 2147483647."""
    cost = _integer(value, flag)
    if not 0 < cost <= COST_MAX:
        raise InputError(f"invalid value for {flag}: {_shown(value)} (must be 1-{COST_MAX})")
    return cost


def check_duration(value: float | int | str, flag: str, allow_zero: bool = True) -> float:
    """Seconds: a finite number, not negative (nor zero unless ``allow_zero``), at most a year."""
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"invalid value for {flag}: {_shown(value)} is not a number of seconds") from None
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0 or seconds > DURATION_MAX \
            or (seconds == 0 and not allow_zero):
        least = "0" if allow_zero else "more than 0"
        raise InputError(f"invalid value for {flag}: {_shown(value)} (must be {least} to {int(DURATION_MAX)} seconds)")
    return seconds
