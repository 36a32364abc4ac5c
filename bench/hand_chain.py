"""Hand-written router configs of the shape a service path runs on our sites:

    client → edge-c (tcpListener) → site-c (interior) ⇢ site-s (interior) ← edge-s (tcpConnector) → server

site-c dials the inter-router link (as ``link create`` makes the consuming site do) and each
edge dials its interior over the edge uplink (as a service container's router dials its site
router). A :class:`Variant` switches on, one by one, what our rendered configs
(templates/*.j2, skupper_podman/router/config.py) and containers do differently from the
plainest such chain. Names the routers dial come from ``--add-host`` (no DNS).
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from common import Workspace, free_port

ROUTERS = ("edge-c", "site-c", "site-s", "edge-s")  # consumer edge ... server edge
SITE_ID = "00000000-0000-4000-8000-00000000beef"
Port = tuple[str, int]  # (service address, port)


@dataclass(frozen=True)
class Variant:
    """``tls_edge``: mutual TLS on both edge uplinks (sslProfile, EXTERNAL, authenticatePeer);
    ``tls_link``: mutual TLS on the inter-router link (verifyHostname);
    ``frames``: maxFrameSize 16384 / maxSessionFrames 640 on the interior and edge listeners
    and the link connector; ``hostport``: the link dials host.containers.internal:<published
    port> (netavark DNAT), as a token's ingress host makes it do; ``split``: the consumer and
    server sides on two networks (one per site); ``extras``: the rest of a site (metadata, the
    9090 http/metrics listener, the amqps listener, the mc address, siteId on tcp entities,
    SKUPPER_SITE_ID/APPLICATION_NAME in the environment, listeners on the server-side edge
    too)."""

    name: str
    tls_edge: bool = False
    tls_link: bool = False
    frames: bool = False
    hostport: bool = False
    split: bool = False
    extras: bool = False


VARIANTS = [
    Variant("plain"),
    Variant("tls-edge", tls_edge=True),
    Variant("tls-link", tls_link=True),
    Variant("frames", frames=True),
    Variant("hostport", hostport=True),
    Variant("split", split=True),
    Variant("extras", extras=True),
    Variant("all", tls_edge=True, tls_link=True, frames=True, hostport=True, split=True, extras=True),
]
ALL = VARIANTS[-1]


def _profile(role: str) -> dict:
    folder = f"/bench/certs/{role}"
    return {"name": "internal", "certFile": f"{folder}/tls.crt", "privateKeyFile": f"{folder}/tls.key",
            "caCertFile": f"{folder}/ca.crt"}


def _tls_listener() -> dict:
    return {"sslProfile": "internal", "saslMechanisms": "EXTERNAL", "authenticatePeer": True}


def _frames(v: Variant) -> dict:
    return {"maxFrameSize": 16384, "maxSessionFrames": 640} if v.frames else {}


def link_connector(v: Variant, link_port: int, name: str = "link1") -> dict:
    """site-c's inter-router connector (attributes, with its name)."""
    host, port = ("host.containers.internal", link_port) if v.hostport else ("site-s", 55671)
    link = {"name": name, "role": "inter-router", "host": host, "port": str(port), "cost": 1}
    if v.tls_link:
        link.update({"verifyHostname": True, "sslProfile": "internal"})
    return {**link, **_frames(v)}


def tcp_listener(v: Variant, address: str, port: int) -> dict:
    return {"name": f"{address}:{port}", "port": str(port), "address": f"{address}:{port}",
            **({"siteId": SITE_ID} if v.extras else {})}


def tcp_connector(v: Variant, address: str, port: int, host: str) -> dict:
    extra = {"siteId": f"{SITE_ID}-{address}", "verifyHostname": False} if v.extras else {}
    return {"name": f"{address}@{host}:{port}:{port}", "host": host, "port": str(port),
            "address": f"{address}:{port}", **extra}


def router_config(v: Variant, role: str, *, server_ip: str = "", link_port: int = 55671,
                  listeners: Sequence[Port] = (), connectors: Sequence[Port] = (), link: bool = True,
                  open_management: bool = False, router_id: str = "") -> list:
    """The entities of one router of the chain. ``open_management`` puts the plain amqp
    listener on 0.0.0.0 so the bench can manage the router from the host."""
    interior = role.startswith("site")
    router = {"id": router_id or f"{v.name}-{role}", "mode": "interior" if interior else "edge",
              "helloMaxAgeSeconds": "3"}
    if v.extras:
        router["metadata"] = json.dumps({"id": SITE_ID, "version": "1.5.5", "platform": "podman"},
                                        separators=(",", ":"))
    entities: list = [["router", router]]
    if v.tls_edge or (interior and (v.tls_link or v.extras)):
        entities.append(["sslProfile", _profile(role)])
    local = "0.0.0.0" if open_management else ("localhost" if interior else "127.0.0.1")
    entities.append(["listener", {"name": "amqp", "host": local, "port": 5672}])
    if interior:
        if v.extras:
            entities += [
                ["listener", {"name": "@9090", "role": "normal", "port": 9090, "http": True,
                              "httpRootDir": "disabled", "healthz": True, "metrics": True}],
                ["listener", {"name": "amqps", "port": 5671, **_tls_listener()}],
                ["address", {"prefix": "mc", "distribution": "multicast"}],
            ]
        entities.append(["listener", {"name": "interior-listener", "role": "inter-router", "port": 55671,
                                      **(_tls_listener() if v.tls_link else {}), **_frames(v)}])
        entities.append(["listener", {"name": "edge-listener", "role": "edge", "port": 45671,
                                      **(_tls_listener() if v.tls_edge else {}), **_frames(v)}])
        if role == "site-c" and link:
            entities.append(["connector", link_connector(v, link_port)])
        return entities
    uplink = {"name": "uplink", "role": "edge", "host": "site-c" if role == "edge-c" else "site-s",
              "port": "45671", **({"sslProfile": "internal"} if v.tls_edge else {})}
    entities.append(["connector", uplink])
    # 1.5 gives a service's listeners to the service container of every site (here: where
    # their ports are free)
    shown = list(listeners)
    if v.extras:
        for address, port in connectors:
            if port not in {p for _, p in shown}:
                shown.append((address, port))
    entities += [["tcpListener", tcp_listener(v, address, port)] for address, port in shown]
    entities += [["tcpConnector", tcp_connector(v, address, port, server_ip)] for address, port in connectors]
    return entities


def write_certs(ws: Workspace, roles: Sequence[str] = ROUTERS) -> None:
    """One CA; a credential per router role, valid for its name and host.containers.internal,
    made with the product's key type and size so TLS costs the same."""
    from skupper_podman import pki

    ca = pki.new_ca("bench-ca")
    with ThreadPoolExecutor(max_workers=2) as pool:
        creds = dict(zip(roles, pool.map(
            lambda role: pki.issue(ca, role, [role, "host.containers.internal"]), roles)))
    for role, cred in creds.items():
        for file, data in cred.files().items():
            ws.write(f"certs/{role}/{file}", data)


@dataclass
class Net:
    name: str
    subnet: ipaddress.IPv4Network
    gateway: str

    @classmethod
    def create(cls, ws: Workspace, base: str, dns: bool = True) -> "Net":
        name, subnet, gateway = ws.network(base, dns)
        return cls(name, ipaddress.ip_network(subnet), gateway)

    def ip(self, offset: int) -> str:
        return str(self.subnet.network_address + offset)


@dataclass
class Chain:
    """Where one variant's routers go: addresses, names to add as hosts, the link port."""

    v: Variant
    net_c: Net
    net_s: Net
    first_ip: int  # offset of this chain's first address in each subnet

    def __post_init__(self) -> None:
        self.link_port = free_port() if self.v.hostport else 55671
        self.ips: dict[str, tuple[Net, str]] = {}
        for offset, role in enumerate(ROUTERS):
            net = self.net_s if (self.v.split and role.endswith("-s")) else self.net_c
            self.ips[role] = (net, net.ip(self.first_ip + offset))

    def ip(self, role: str) -> str:
        return self.ips[role][1]

    def hosts(self) -> list[str]:
        return [f"--add-host={role}:{ip}" for role, (_, ip) in self.ips.items()]

    def run_args(self, ws: Workspace, role: str, config: list, *, file: str = "",
                 ip: bool = True, extra: Sequence[str] = ()) -> list[str]:
        """``podman run`` arguments (without the image) for a router of ``role`` with ``config``."""
        file = file or f"{self.v.name}/{role}.json"
        ws.write(file, json.dumps(config, indent=1))
        net, address = self.ips[role]
        args = ["--network", f"{net.name}:ip={address}" if ip else net.name, *self.hosts(),
                "-e", f"QDROUTERD_CONF=/bench/{file}", "-e", "QDROUTERD_CONF_TYPE=json", *extra]
        if self.v.extras:
            args += ["-e", f"SKUPPER_SITE_ID={SITE_ID}", "-e", "APPLICATION_NAME=skupper-router"]
        if self.v.hostport and role == "site-s":
            args += ["-p", f"{self.net_c.gateway}:{self.link_port}:55671"]
        return args


def start_all(ws: Workspace, image: str, jobs: Sequence[tuple[str, list[str]]]) -> None:
    """Start routers (name, run args) four at a time; routers that publish a port on a
    network's gateway start last, once a container on that network has brought its bridge
    (and so the gateway address) up."""
    later = [job for job in jobs if "-p" in job[1]]
    first = [job for job in jobs if "-p" not in job[1]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for batch in (first, later):
            list(pool.map(lambda job: ws.run(job[0], *job[1], image), batch))
