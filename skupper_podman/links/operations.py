"""Links between sites: ``token create``, ``link create``, ``link delete``, ``link status``.

A link is a token stored in a labelled volume, an ``sslProfile <link>-profile`` with the
token's certificates, and a ``connector <link>`` to the other site. Both are written to the
persisted router config (so a restarted router dials again) and created live through
management (so no restart is needed).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from skupper_podman._util import exclusive_lock, one_line
from skupper_podman.errors import InputError, ManagementError, RouterUnavailable
from skupper_podman.network.topology import gather_routers
from skupper_podman.paths import INTERNAL, METADATA_LABEL, ROUTER_CERTS, SITE_CA, TYPE_LABEL
from skupper_podman.podman.records import VolumeRecord
from skupper_podman.rollback import Rollback
from skupper_podman.validation import COST_MAX, check_cost, check_duration
from skupper_podman.router.config import RouterConfig, link_entities
from skupper_podman.site.lifecycle import CONFIG_FILE, Site, SiteInfo
from skupper_podman.links.tokens import (
    CONNECTION_TOKEN,
    COST,
    TOKEN_CLAIM,
    Token,
    cert_token,
    read_token,
    verify_origin,
    verify_token,
    verify_version,
    write_token,
)

# How long link delete waits for a router that crashed on the connector's removal to restart.
ROUTER_RECOVERY_TIMEOUT = 60.0
_LINK_NAME = re.compile(r"^link([0-9]+)$")
_VALID_LINK_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")


@dataclass
class LinkCreated:
    name: str
    host: str
    port: str
    cost: int


@dataclass
class LinkState:
    """The state of one outgoing link, from the live router."""

    name: str
    connected: bool
    description: str = ""
    url: str = ""
    site: str = ""
    cost: int = 1
    created: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LinkReport:
    outgoing: list[LinkState] = field(default_factory=list)
    incoming: list[str] = field(default_factory=list)  # remote site ids

    def to_dict(self) -> dict:
        return {"outgoing": [s.to_dict() for s in self.outgoing], "incoming": list(self.incoming)}


class Links:
    """Token and link operations on one site."""

    def __init__(self, site: Site) -> None:
        self.site = site

    # -- tokens ----------------------------------------------------------------------------
    def create_token(self, path: str | Path, name: str = "skupper", ingress_host: str | None = None) -> Path:
        """Write a cert token other sites use to link to this one (0600: it grants access)."""
        info = self.site.get()
        if info.mode == "edge":
            raise InputError("Edge configuration cannot accept connections")
        hosts = info.ingress_hosts
        if len(hosts) < 2 or info.bind_port is None or info.bind_port_edge is None:
            raise InputError("tokens cannot be generated for sites initialized with ingress type none")
        host = ingress_host or hosts[1]
        if host not in hosts:
            raise InputError(f"tokens can only be generated for the available ingress hosts: [{' '.join(hosts)}]")
        from skupper_podman.pki import Credential

        ca = Credential.from_data(self.site.files.read_all(self.site.vol(SITE_CA)))
        token = cert_token(name, ca, info.site_id, host, info.bind_port, info.bind_port_edge)
        return write_token(token, path)

    # -- link volumes ----------------------------------------------------------------------
    def _link_volumes(self) -> dict[str, VolumeRecord]:
        """Link name -> volume record, for every token volume of this site."""
        found: dict[str, VolumeRecord] = {}
        for vol in self.site.podman.volumes(self.site.layout.label_filter):
            if vol.labels.get(TYPE_LABEL) in (CONNECTION_TOKEN, TOKEN_CLAIM):
                found[self._link_name(vol.name)] = vol
        return found

    def _link_name(self, volume: str) -> str:
        prefix = self.site.layout.name("")
        return volume[len(prefix):] if prefix and volume.startswith(prefix) else volume

    def _origins(self, volumes: dict[str, VolumeRecord]) -> dict[str, str]:
        return {name: _generated_by(vol) for name, vol in volumes.items()}

    def _next_name(self, existing: dict[str, VolumeRecord]) -> str:
        numbers = [int(m.group(1)) for n in existing if (m := _LINK_NAME.match(n))]
        return f"link{max(numbers, default=0) + 1}"

    # -- config ----------------------------------------------------------------------------
    def _config(self) -> RouterConfig:
        volume = self.site.vol(INTERNAL)
        return RouterConfig.parse(self.site.files.read(volume, CONFIG_FILE), f"{CONFIG_FILE} in volume {volume}")

    def _config_lock(self):
        """Held across every read-modify-write of the router config (and the choice of a link
        name), so concurrent ``link create``/``link delete`` never lose each other's edits."""
        return exclusive_lock(self.site.files.mountpoint(self.site.vol(INTERNAL)), "router config")

    def _save_config(self, config: RouterConfig) -> None:
        self.site.files.write(self.site.vol(INTERNAL), CONFIG_FILE, config.dumps())

    # -- link create -----------------------------------------------------------------------
    def create(self, token_file: str | Path, name: str | None = None, cost: int | None = None) -> LinkCreated:
        """Verify the token, store it, and add the link to the config and the live router."""
        token = read_token(token_file)
        if cost is not None:
            cost = check_cost(cost)
        info = self.site.get()
        with self._config_lock():
            return self._create(token, info, name, cost)

    def _create(self, token: Token, info: SiteInfo, name: str | None, cost: int | None) -> LinkCreated:
        existing = self._link_volumes()
        link = name or self._next_name(existing)
        if not _VALID_LINK_NAME.fullmatch(link):
            raise InputError(f"invalid link name {link!r}: use lower-case letters, digits, '.', '-' and '_'")
        if link in existing or self.site.podman.volume(self.site.vol(link)) is not None:
            raise InputError(f"link {link} already exists")
        verify_token(token)
        verify_origin(token, info.site_id, self._origins(existing))
        verify_version(token)
        link_cost = cost if cost is not None else _token_cost(token)
        if token.kind == TOKEN_CLAIM:
            from skupper_podman.links.claims import redeem  # HTTPS: only for claim tokens

            token = redeem(token, info.site_id)
            verify_token(token)
            verify_origin(token, info.site_id, self._origins(existing))
        host, port = token.endpoint(edge=info.mode == "edge")
        if not host or not port:
            raise InputError("invalid Skupper token: it names no inter-router host and port")
        with Rollback() as undo:
            self._store(link, token, undo)
            entities = link_entities(link, host, port, link_cost)
            config = self._config()
            for etype, attrs in entities:
                config.add(etype, attrs)
            self._save_config(config)
            undo.add(lambda: self._remove_from_config(link))
            self._create_live(info, entities, undo)
        return LinkCreated(link, host, port, link_cost)

    def _store(self, link: str, token: Token, undo: Rollback) -> None:
        volume = self.site.vol(link)
        labels = {
            **self.site.layout.labels,
            TYPE_LABEL: token.kind,
            METADATA_LABEL: json.dumps(token.metadata_json(), separators=(",", ":")),
        }
        undo.add(lambda: self.site.podman.remove_volume(volume))  # first: a stop signal may come mid-call
        self.site.podman.create_volume(volume, labels)
        self.site.files.write_all(volume, token.data)
        certs = {k: v for k, v in token.data.items() if k in ("tls.crt", "tls.key", "ca.crt")}
        self.site.files.write_all(self.site.vol(ROUTER_CERTS), certs, subdir=f"{link}-profile")
        undo.add(lambda: self.site.files.remove_tree(self.site.vol(ROUTER_CERTS), f"{link}-profile"))

    def _create_live(self, info: SiteInfo, entities: list[tuple[str, dict]], undo: Rollback) -> None:
        with self.site.management(info) as client:
            for etype, attrs in entities:
                attrs = dict(attrs)
                ename = attrs.pop("name")
                client.create(etype, ename, attrs)
                undo.add(lambda t=etype, n=ename: self._delete_entity(t, n))

    def _delete_entity(self, etype: str, name: str) -> None:
        with self.site.management() as client:
            client.delete(etype, name)

    def _remove_from_config(self, link: str) -> bool:
        config = self._config()
        removed = config.remove("connector", link)
        removed = config.remove("sslProfile", f"{link}-profile") or removed
        self._save_config(config)
        return removed

    # -- link delete -----------------------------------------------------------------------
    def delete(self, name: str) -> None:
        """Remove the link from the live router, the config, the certs and its volume."""
        existing = self._link_volumes()
        if name not in existing:
            vol = self.site.podman.volume(self.site.vol(name))
            if vol is None:
                raise InputError(f'no such link "{name}"')
            raise InputError(f'"{name}" is not a valid link')
        info = self.site.get()
        # The config goes first: router 2.5.3 can crash when a connector whose connections are
        # failing is deleted (skupper-router #1734); restarted by its policy, it must not dial
        # the link again.
        with self._config_lock():
            self._remove_from_config(name)
        crashed = not self._delete_live(info, name)
        self.site.files.remove_tree(self.site.vol(ROUTER_CERTS), f"{name}-profile")
        self.site.podman.remove_volume(existing[name].name)
        if crashed:
            self.site.wait_router(self.site.get(), time.monotonic() + ROUTER_RECOVERY_TIMEOUT)

    def _delete_live(self, info: SiteInfo, name: str) -> bool:
        """Delete the link's connector and sslProfile from the running router.

        Returns False when the router went away meanwhile (the 2.5.3 crash): the persisted
        config no longer has the link, so the restarted router comes back without it.
        """
        try:
            with self.site.management(info) as client:
                for etype, ename in (("connector", name), ("sslProfile", f"{name}-profile")):
                    try:
                        client.delete(etype, ename)
                    except ManagementError as err:
                        if err.status_code != 404:
                            raise
        except RouterUnavailable:
            return False
        return True

    # -- link status -----------------------------------------------------------------------
    def status(self, name: str | None = None, wait: float = 0.0,
               sleep: Callable[[float], None] = time.sleep) -> LinkReport:
        """Outgoing links from the live router (polled until connected or ``wait`` runs out),
        and the sites whose routers link to this one."""
        wait = check_duration(wait, "--wait")
        info = self.site.get()
        volumes = self._link_volumes()
        if name is not None and name not in volumes:
            raise InputError(f'no such link "{name}"')
        deadline = time.monotonic() + wait
        while True:
            report = self._status_once(info, volumes, name)
            if all(s.connected for s in report.outgoing) or time.monotonic() >= deadline:
                return report
            sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _status_once(self, info: SiteInfo, volumes: dict[str, VolumeRecord], only: str | None) -> LinkReport:
        config = self._config()
        report = LinkReport()
        if info.router_state != "running":
            raise RouterUnavailable(f"The site router container is {info.router_state}")
        with self.site.management(info) as client:
            connectors = {c["name"]: c for c in client.query(
                "connector", ["name", "host", "port", "cost", "connectionStatus", "connectionMsg"])}
            for link, vol in sorted(volumes.items()):
                if only is not None and link != only:
                    continue
                configured = config.get("connector", link) or {}
                live = connectors.get(link, {})
                status = live.get("connectionStatus", "")
                report.outgoing.append(LinkState(
                    name=link,
                    connected=link_up(live),
                    description=_describe(live, configured),
                    url=f"{configured.get('host', '')}:{configured.get('port', '')}",
                    site=_generated_by(vol),
                    cost=int(configured.get("cost", 1) or 1),
                    created=vol.created,
                ))
            if only is None:
                routers = gather_routers(client, info.name)
                report.incoming = [r.site_id or r.router_id for r in routers
                                   if not r.edge and info.name in r.connected_to]
        return report


def _generated_by(vol: VolumeRecord) -> str:
    """The site id a link's token came from, kept in the volume's metadata label."""
    try:
        meta = json.loads(vol.labels.get(METADATA_LABEL) or "{}")
    except ValueError:
        return ""
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return str((annotations or {}).get("skupper.io/generated-by", "")) if isinstance(annotations, dict) else ""


def link_up(live: dict) -> bool:
    """Whether a live ``connector`` record shows an open link.

    Router 2.5.3 reports ``connectionStatus`` SUCCESS as soon as an attempt is under way (and
    for ever against a peer that never completes the handshake); only its ``connectionMsg``
    "Connection Opened" says the connection is up.
    """
    return live.get("connectionStatus") == "SUCCESS" and "Connection Opened" in str(live.get("connectionMsg") or "")


def _describe(live: dict, configured: dict) -> str:
    if not configured:
        return "not in the router configuration"
    if not live:
        return "not configured in the running router"
    if link_up(live):
        return ""
    message = one_line(live.get("connectionMsg") or "")
    if live.get("connectionStatus") == "SUCCESS":
        return f"connecting ({message})" if message else "connecting"
    return message or one_line(live.get("connectionStatus") or "")


def _token_cost(token: Token) -> int:
    raw = token.annotations.get(COST, "")
    if not raw:
        return 1
    if not re.fullmatch(r"-?[0-9]{1,30}", raw.strip(), re.ASCII) or int(raw) > COST_MAX:
        raise InputError(f"invalid Skupper token: {COST} is not a cost: {raw[:40]}")
    return max(1, int(raw))


