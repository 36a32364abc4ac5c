"""The site controller: announces a Podman site on the vanflow network and collects the network.

It runs in the site's ``skupper-controller-podman`` container, started from the site's router
image (which ships python3 and the proton binding), so it imports only the standard library,
``proton`` and its sibling modules (``deploy.RUNTIME_MODULES``).

What it emits is what Skupper 1.5's ``skupper-controller-podman`` emits (``vanflow.md`` §6):
a BEACON on ``mc/sfe.all`` at start and every 10 s, a HEARTBEAT on ``mc/sfe.<site id>.heartbeats``
(``to`` = ``mc/sfe.<site id>``) at start and every 2 s, the SITE and HOST records at start, PROCESS
records as containers and service targets come and go, and all of them again on any message to
``sfe.<site id>`` (FLUSH). Records wait for credit (the router grants none until a collector
listens); only the latest copy of each waits, so nothing piles up and nothing blocks.

Like 1.6's "collector lite" it also collects (``collecting.NetworkCollector``: every source of the
network, FLUSHed after its first heartbeat, purged after 60 s of silence) and writes what it
knows, with its recent events, to ``network.json`` in its state directory, which
``skupper network status`` and ``skupper debug`` read.

Unlike the Go controller it uses one AMQP connection for all its links, and reconnects (fresh
links, every source re-subscribed and re-flushed) whenever the router goes away.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from proton import Endpoint
from proton.reactor import AtMostOnce, Container

try:
    from skupper_podman.network import collecting, flowstate, informer, vanflow
except ImportError:  # inside the controller container the modules sit side by side
    import collecting  # type: ignore[no-redef]
    import flowstate  # type: ignore[no-redef]
    import informer  # type: ignore[no-redef]
    import vanflow  # type: ignore[no-redef]

BEACON_INTERVAL, HEARTBEAT_INTERVAL, INFORMER_INTERVAL, WRITE_INTERVAL = 10.0, 2.0, 5.0, 2.0
STATE_FILE = "network.json"


@dataclass
class Settings:
    """What the controller is told through its environment (1.5's names where 1.5 has them)."""

    site_id: str
    site_name: str
    platform: str = "podman"
    namespace: str = ""  # SITE Namespace: SKUPPER_NAMESPACE, unset on 1.5 podman sites
    version: str = "1.5.5"
    router_url: str = "amqps://skupper-router-local:5671"
    tls_dir: str = "/etc/messaging"
    podman_namespace: str = "default"
    network: str = "skupper"
    services_file: str = "/etc/skupper-services/skupper-services.json"
    state_dir: str = "/var/lib/skupper-controller"
    purge_after: float = flowstate.PURGE_AFTER

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        defaults = cls("", "")
        return cls(
            site_id=env["SKUPPER_SITE_ID"],
            site_name=env["SKUPPER_SITE_NAME"],
            platform=env.get("SKUPPER_PLATFORM", "podman"),
            namespace=env.get("SKUPPER_NAMESPACE", ""),
            version=env.get("SKUPPER_CONTROLLER_VERSION", defaults.version),
            router_url=env.get("SKUPPER_ROUTER_URL", defaults.router_url),
            tls_dir=env.get("SKUPPER_TLS_DIR", defaults.tls_dir),
            podman_namespace=env.get("SKUPPER_PODMAN_NAMESPACE", defaults.podman_namespace),
            network=env.get("SKUPPER_PODMAN_NETWORK", defaults.network),
            services_file=env.get("SKUPPER_SERVICES_FILE", defaults.services_file),
            state_dir=env.get("SKUPPER_CONTROLLER_STATE", defaults.state_dir),
            purge_after=float(env.get("SKUPPER_FLOW_PURGE_SECONDS") or defaults.purge_after),
        )


@dataclass
class EmitterLinks(collecting.Links):
    """The collector's links plus the emitter's."""

    beacons: Any = None
    heartbeats: Any = None
    records: Any = None
    commands: Any = None
    beacon_sent: bool = False
    heartbeat_sent: bool = False


class SiteController(collecting.NetworkCollector):
    """Emitter of the site's records, and collector of the network's, on one router connection."""

    links: EmitterLinks

    def __init__(self, settings: Settings, processes: informer.ProcessInformer, hostname: str) -> None:
        super().__init__(collecting.RouterAccess(settings.router_url, settings.tls_dir), settings.purge_after,
                         echo_events=True, container_id=f"skupper-controller-{settings.site_id}")
        self.settings = settings
        self.processes = processes
        self.started = vanflow.now_us()
        self.site_record = {0: vanflow.SITE, 1: settings.site_id, 3: self.started, 30: settings.site_name,
                            12: settings.namespace, 11: settings.platform, 52: settings.version,
                            53: "disabled"}
        self.host_record = {0: vanflow.HOST, 1: settings.site_name, 2: settings.site_id, 3: self.started,
                            4: 0, 30: hostname, 11: settings.platform}
        self.pending: dict[str, dict[int, Any]] = {}  # identity -> latest record waiting for credit

    def new_links(self) -> EmitterLinks:
        return EmitterLinks()

    # -- start and links -------------------------------------------------------------------
    def on_start(self, event: Any) -> None:
        self.container = event.container
        self.event("ControllerStarted", f"site {self.settings.site_name} ({self.settings.site_id})")
        self.queue([self.site_record, self.host_record])
        super().on_start(event)
        for interval, action in ((BEACON_INTERVAL, self.send_beacon), (HEARTBEAT_INTERVAL, self.send_heartbeat),
                                 (INFORMER_INTERVAL, self.poll_processes), (WRITE_INTERVAL, self.write_state)):
            self.container.schedule(interval, collecting.Every(interval, action))
        self.poll_processes()

    def open_links(self, conn: Any) -> EmitterLinks:
        links = super().open_links(conn)
        site = self.settings.site_id
        links.beacons = self.container.create_sender(conn, vanflow.BEACON_ADDRESS, options=AtMostOnce())
        links.heartbeats = self.container.create_sender(conn, vanflow.record_address(site) + ".heartbeats",
                                                        options=AtMostOnce())
        links.records = self.container.create_sender(conn, vanflow.record_address(site))
        links.commands = self.container.create_receiver(conn, vanflow.direct_address(site))
        return links  # type: ignore[return-value]

    # -- emitting --------------------------------------------------------------------------
    @staticmethod
    def _live(link: Any) -> bool:
        return link is not None and bool(link.state & Endpoint.LOCAL_ACTIVE) and link.credit > 0

    def send_beacon(self) -> None:
        if self._live(self.links.beacons):
            self.links.beacons.send(vanflow.beacon_message(self.settings.site_id))
            self.links.beacon_sent = True
            self.counters["beacons"] += 1

    def send_heartbeat(self) -> None:
        if self._live(self.links.heartbeats):
            self.links.heartbeats.send(vanflow.heartbeat_message(self.settings.site_id))
            self.links.heartbeat_sent = True
            self.counters["heartbeats"] += 1

    def queue(self, records: list[dict[int, Any]]) -> None:
        """Send records as credit allows; a record waiting is replaced by a newer copy of itself."""
        for record in records:
            self.pending.pop(record[vanflow.IDENTITY], None)
            self.pending[record[vanflow.IDENTITY]] = record
        self.drain()

    def drain(self) -> None:
        sender = self.links.records
        while self.pending and self._live(sender):
            identity = next(iter(self.pending))
            sender.send(vanflow.record_message(self.settings.site_id, [self.pending.pop(identity)]))
            self.counters["records"] += 1

    def on_sendable(self, event: Any) -> None:
        """Credit arrived: records waiting go; a fresh link's first beacon or heartbeat goes now."""
        if event.sender == self.links.records:
            self.drain()
        elif event.sender == self.links.beacons and not self.links.beacon_sent:
            self.send_beacon()
        elif event.sender == self.links.heartbeats and not self.links.heartbeat_sent:
            self.send_heartbeat()

    def flush(self) -> None:
        """Everything held, again: the SITE, every PROCESS, the HOST (1.5's order)."""
        self.queue([self.site_record, *self.processes.records(), self.host_record])

    def poll_processes(self) -> None:
        changes = self.processes.poll()
        if self.processes.error:
            self.counters["informer_errors"] += 1
        for record in changes:
            ended = record.get(vanflow.END_TIME)
            self.event("ProcessEvent", f"process {record.get(30)} {'ended' if ended else 'announced'}")
        self.queue(changes)

    def on_message(self, event: Any) -> None:
        """Any message on ``sfe.<site id>`` is a FLUSH (1.5 does not check the subject)."""
        if event.receiver == self.links.commands:
            self.counters["flushes_received"] += 1
            self.event("FlushRequest", "a collector asked for every record")
            self.flush()
        else:
            super().on_message(event)

    # -- state file ------------------------------------------------------------------------
    def write_state(self) -> None:
        """``network.json``: what this controller knows, written atomically every few seconds."""
        data = {
            "written": time.time(), "siteId": self.settings.site_id, "siteName": self.settings.site_name,
            "connected": self.connected(), "counters": dict(self.counters), "purgeAfter": self.state.purge_after,
            **self.state.snapshot(), "events": list(self.events),
        }
        if self.processes.error:
            data["informerError"] = self.processes.error
        os.makedirs(self.settings.state_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.settings.state_dir, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, os.path.join(self.settings.state_dir, STATE_FILE))


def main() -> None:
    """Entry point of the controller container."""
    settings = Settings.from_env(dict(os.environ))
    sock = informer.default_socket()
    api = informer.PodmanApi(sock) if sock else None
    hostname = ""
    if api is not None:
        try:
            hostname = api.hostname()
        except (OSError, ValueError):
            hostname = ""
    processes = informer.ProcessInformer(settings.site_id, settings.podman_namespace, settings.network, api,
                                         settings.services_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Container(SiteController(settings, processes, hostname or os.uname().nodename)).run()


if __name__ == "__main__":
    main()
