"""Ingress hosts and host ports: the defaults 1.5 computes and the checks it makes."""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from skupper_podman.errors import ResourceConflict
from skupper_podman.validation import check_ip, is_dns_name, is_ip

_SIOCGIFADDR = 0x8915
_REVERSE_LOOKUP_SECONDS = 2.0


def _interface_ipv4(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def local_ipv4_addresses() -> list[str]:
    """Every non-loopback IPv4 address of this host's interfaces."""
    found: list[str] = []
    for _, name in socket.if_nameindex():
        addr = _interface_ipv4(name)
        if addr and not ipaddress.ip_address(addr).is_loopback and addr not in found:
            found.append(addr)
    return found


def _reverse(addr: str) -> str | None:
    try:
        return socket.gethostbyaddr(addr)[0]
    except OSError:
        return None


def default_ingress_hosts() -> list[str]:
    """Hostname, non-loopback IPv4 addresses and their reverse names, as 1.5 does.

    1.5 keeps the trailing dot of reverse names; we drop it because a DNS SAN with a trailing
    dot never matches a host name during verification.
    """
    hosts: list[str] = []

    def add(value: str | None) -> None:
        value = (value or "").rstrip(".")
        if value and value not in hosts and (is_ip(value) or is_dns_name(value)):
            hosts.append(value)

    add(socket.gethostname())
    addresses = local_ipv4_addresses()
    for addr in addresses:
        add(addr)
    pool = ThreadPoolExecutor(max_workers=max(1, len(addresses)))
    futures = [pool.submit(_reverse, addr) for addr in addresses]
    for future in futures:
        try:
            add(future.result(timeout=_REVERSE_LOOKUP_SECONDS))
        except FutureTimeout:
            continue
    pool.shutdown(wait=False)
    if not hosts:
        raise ResourceConflict("Cannot get a default ingress host")
    return hosts


def check_port_free(host: str, port: int) -> None:
    """Raise the 1.5 error when ``host:port`` cannot be bound on this machine.

    ``host`` must be an IP address (an ``--ingress-bind-ip``): anything else is bad input, not a
    taken port.
    """
    check_ip(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ResourceConflict(f"ingress port already bound {host}:{port}") from err


def free_local_port() -> int:
    """A free TCP port on 127.0.0.1 (for the management listener)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
