"""PROCESS records of a Podman site, as the 1.5 controller's informer makes them (vanflow.md §6.4).

Runs inside the site controller (standard library only): it lists the containers of the Podman
endpoint every few seconds over the API socket, and reads ``skupper-services.json`` for service
targets given as IP addresses. ``poll()`` answers the records to send: new or changed processes,
and ended ones (EndTime set) for containers and targets that went away.

One deliberate difference from 1.5, which announces every container of the endpoint: containers
labelled for *another* skupper-podman namespace belong to that namespace's site and are left to
its controller, so several sites on one host do not announce each other's routers.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import os
import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

try:
    from skupper_podman.network import vanflow
except ImportError:  # inside the controller container
    import vanflow  # type: ignore[no-redef]

NAMESPACE_LABEL = "skupper-podman.io/namespace"
APP_LABEL, ADDRESS_LABEL = "application", "skupper.io/address"
API = "/v4.0.0/libpod"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class PodmanApi:
    """The two libpod calls the informer needs, over the API's unix socket."""

    def __init__(self, socket_path: str, timeout: float = 10.0) -> None:
        self.socket_path, self.timeout = socket_path, timeout

    def _get(self, path: str) -> Any:
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request("GET", API + path)
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                raise OSError(f"podman API {path}: HTTP {reply.status}")
            return json.loads(body)
        finally:
            conn.close()

    def containers(self) -> list[dict[str, Any]]:
        return list(self._get("/containers/json?all=true"))

    def inspect(self, container_id: str) -> dict[str, Any]:
        return dict(self._get(f"/containers/{urllib.parse.quote(container_id)}/json"))

    def hostname(self) -> str:
        return str(self._get("/info").get("host", {}).get("hostname", ""))


def _us(seconds: Any) -> int:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return 0
    return value * 1_000_000 if value > 0 else 0


def process_role(labels: dict[str, str]) -> str:
    """``internal`` for Skupper's own containers (not service containers), else ``external``."""
    return "internal" if labels.get(APP_LABEL) == "skupper" and ADDRESS_LABEL not in labels else "external"


def container_ip(inspect: dict[str, Any], network: str) -> str:
    """The IP on the site network, else the first network's (1.5's rule); "" when none."""
    networks = (inspect.get("NetworkSettings") or {}).get("Networks") or {}
    chosen = networks.get(network) or next(iter(networks.values()), None) or {}
    return str(chosen.get("IPAddress") or "")


def service_targets(services_json: bytes) -> set[tuple[str, str]]:
    """(address, ip) of every service target given as an IP address."""
    try:
        data = json.loads(services_json or b"{}")
    except ValueError:
        return set()
    found: set[tuple[str, str]] = set()
    for address, service in (data.items() if isinstance(data, dict) else []):
        for target in (service or {}).get("targets") or []:
            host = str((target or {}).get("service") or "")
            try:
                ipaddress.ip_address(host)
            except ValueError:
                continue
            found.add((str(address), host))
    return found


class ProcessInformer:
    """Keeps the PROCESS records of a site and says what changed since the last poll."""

    def __init__(self, site_id: str, namespace: str, network: str, api: PodmanApi | None,
                 services_file: str, clock: Callable[[], int] = vanflow.now_us) -> None:
        self.site_id, self.namespace, self.network = site_id, namespace, network
        self.api, self.services_file, self.clock = api, services_file, clock
        self.held: dict[str, dict[int, Any]] = {}  # identity -> last record sent
        self._seen: dict[str, tuple[Any, ...]] = {}  # container id -> (StartedAt, State)
        self._targets: set[str] = set()  # identities of service-target processes
        self.error = ""  # the last poll's container-listing failure, if any

    def records(self) -> list[dict[int, Any]]:
        return list(self.held.values())

    def poll(self) -> list[dict[int, Any]]:
        """Records to send now (new, changed or ended); errors of one source spare the other."""
        changes: list[dict[int, Any]] = []
        self.error = ""
        if self.api is not None:
            try:
                changes += self._poll_containers()
            except (OSError, ValueError) as err:
                self.error = f"cannot list containers: {err}"
        changes += self._poll_targets()
        return changes

    # -- containers ------------------------------------------------------------------------
    def _ours(self, labels: dict[str, str]) -> bool:
        owner = labels.get(NAMESPACE_LABEL)
        return owner is None or owner == self.namespace

    def _poll_containers(self) -> list[dict[int, Any]]:
        assert self.api is not None
        listed = {c["Id"]: c for c in self.api.containers() if self._ours(c.get("Labels") or {})}
        changes: list[dict[int, Any]] = []
        for cid, item in listed.items():
            key = (item.get("StartedAt"), item.get("State"))
            if self._seen.get(cid) == key:
                continue
            self._seen[cid] = key
            changes += self._container_changed(cid, item)
        for cid in [c for c in self._seen if c not in listed]:
            del self._seen[cid]
            changes += self._end(cid)
        return changes

    def _container_changed(self, cid: str, item: dict[str, Any]) -> list[dict[int, Any]]:
        name = (item.get("Names") or [cid[:12]])[0]
        try:
            ip = container_ip(self.api.inspect(cid), self.network) if self.api else ""
        except OSError:
            ip = ""
        if not ip:  # no IP, no record: a held record of that name ends (1.5)
            same = [i for i, r in self.held.items() if r.get(vanflow.ATTR["Name"]) == name]
            return [c for i in same for c in self._end(i)]
        labels = item.get("Labels") or {}
        host = str(item.get("PodName") or "") or name
        running = item.get("State") == "running"
        record = {
            0: vanflow.PROCESS, 1: cid, 2: self.site_id, 3: _us(item.get("StartedAt")) or self.clock(),
            4: 0 if running else (_us(item.get("ExitedAt")) or self.clock()),
            30: name, 20: str(item.get("Image") or ""), 22: host, 46: host, 14: ip, 13: process_role(labels),
        }
        if running:
            self.held[cid] = record
        else:
            self.held.pop(cid, None)
        return [record]

    def _end(self, identity: str) -> list[dict[int, Any]]:
        record = self.held.pop(identity, None)
        if record is None:
            return []
        return [{**record, vanflow.END_TIME: self.clock()}]

    # -- service targets -------------------------------------------------------------------
    def _poll_targets(self) -> list[dict[int, Any]]:
        try:
            with open(self.services_file, "rb") as handle:
                wanted = service_targets(handle.read())
        except OSError:
            return []
        changes: list[dict[int, Any]] = []
        names = {f"{address}-{ip}" for address, ip in wanted}
        for address, ip in sorted(wanted):
            identity = f"{address}-{ip}"
            if identity in self.held:
                continue
            record = {0: vanflow.PROCESS, 1: identity, 2: self.site_id, 3: self.clock(), 4: 0, 30: identity,
                      46: address, 22: ip, 14: ip, 13: "external"}
            self.held[identity] = record
            self._targets.add(identity)
            changes.append(record)
        for identity in sorted(self._targets - names):
            self._targets.discard(identity)
            changes += self._end(identity)
        return changes


def default_socket() -> str | None:
    """The mounted Podman socket (``PODMAN_ENDPOINT``), when there is one."""
    endpoint = os.environ.get("PODMAN_ENDPOINT", "/tmp/podman.sock")
    path = endpoint.removeprefix("unix://")
    return path if path.startswith("/") and os.path.exists(path) else None
