"""A vanflow collector on one router connection (proton reactor): 1.5's sequence, vanflow.md §7.2.

It listens on ``mc/sfe.all``; for every new source it subscribes to the source's record address
(and ``.heartbeats`` for controllers) and opens a sender to its ``direct`` address; the source's
first heartbeat arms one FLUSH; records go into a :class:`flowstate.FlowState`; sources silent
for the purge time are dropped with their records. When the router goes away it reconnects with
fresh links, re-subscribes every known source and flushes it again.

The site controller (inside the router image: standard library and proton only) extends it, and
the library's :class:`skupper_podman.network.collector.FlowCollector` runs it in a thread.
"""
from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proton import Endpoint, SSLDomain
from proton.handlers import MessagingHandler

try:
    from skupper_podman.network import flowstate, vanflow
except ImportError:  # inside the controller container the modules sit side by side
    import flowstate  # type: ignore[no-redef]
    import vanflow  # type: ignore[no-redef]

AGE_INTERVAL = 5.0
RECONNECT_MIN, RECONNECT_MAX = 1.0, 10.0
CREDIT = 250
MAX_EVENTS = 300


@dataclass(frozen=True)
class RouterAccess:
    """Where and how to reach a router: URL, and for ``amqps`` the credential directory."""

    url: str
    tls_dir: str = ""
    server_name: str = "skupper-router-local"

    def options(self) -> dict[str, Any]:
        """proton ``connect`` options: mutual TLS with SASL EXTERNAL for ``amqps``."""
        if not self.url.startswith("amqps:"):
            return {}
        ca = os.path.join(self.tls_dir, "ca.crt")
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, ca)
        domain.set_credentials(os.path.join(self.tls_dir, "tls.crt"), os.path.join(self.tls_dir, "tls.key"), None)
        return {"ssl_domain": domain, "allowed_mechs": "EXTERNAL", "sni": self.server_name,
                "virtual_host": self.server_name}


@dataclass
class Links:
    """The collector's links on the current connection (all replaced on reconnect)."""

    all_beacons: Any = None
    by_source: dict[str, list[Any]] = field(default_factory=dict)  # source id -> its links
    flush_senders: dict[str, Any] = field(default_factory=dict)


class Every:
    """A repeating reactor timer."""

    def __init__(self, interval: float, action: Callable[[], None]) -> None:
        self.interval, self.action = interval, action

    def on_timer_task(self, event: Any) -> None:
        try:
            self.action()
        finally:
            event.container.schedule(self.interval, self)


class Once:
    """A one-shot reactor timer."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action

    def on_timer_task(self, event: Any) -> None:
        self.action()


class NetworkCollector(MessagingHandler):
    """Learns the whole network from beacons and records, through one router."""

    def __init__(self, access: RouterAccess, purge_after: float = flowstate.PURGE_AFTER,
                 on_change: Callable[[flowstate.Change], None] | None = None, echo_events: bool = False,
                 container_id: str = "") -> None:
        super().__init__(prefetch=CREDIT, auto_accept=True)
        self.access = access
        self.state = flowstate.FlowState(purge_after)
        self.on_change = on_change or (lambda _change: None)
        self.echo_events = echo_events
        self.container_id = container_id
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_EVENTS)
        self.counters = collections.Counter[str]()
        self.container: Any = None
        self.connection: Any = None
        self.links = self.new_links()
        self.delay = RECONNECT_MIN

    # -- events ----------------------------------------------------------------------------
    def event(self, name: str, message: str) -> None:
        """Remember one event (``skupper debug events`` shows them); print it in the controller."""
        item = {"time": time.time(), "name": name, "message": message}
        self.events.append(item)
        if self.echo_events:
            print(json.dumps(item), flush=True)

    # -- connection ------------------------------------------------------------------------
    def new_links(self) -> Links:
        return Links()

    def on_start(self, event: Any) -> None:
        self.container = event.container
        self.connect()
        self.container.schedule(AGE_INTERVAL, Every(AGE_INTERVAL, self.age))

    def connect(self) -> None:
        options = {"reconnect": False, **self.access.options()}
        if self.container_id:
            options["container_id"] = self.container_id
        self.connection = self.container.connect(self.access.url, **options)
        self.links = self.open_links(self.connection)

    def open_links(self, conn: Any) -> Links:
        links = self.new_links()
        links.all_beacons = self.container.create_receiver(conn, vanflow.BEACON_ADDRESS)
        for source in self.state.sources.values():  # a reconnect re-subscribes and re-flushes
            source.flush_pending = True
            self.subscribe(links, conn, source)
        return links

    def connected(self) -> bool:
        return self.connection is not None and bool(self.connection.state & Endpoint.REMOTE_ACTIVE)

    def on_connection_opened(self, event: Any) -> None:
        if event.connection == self.connection:
            self.delay = RECONNECT_MIN
            self.event("RouterConnection", f"connected to {self.access.url}")

    def on_disconnected(self, event: Any) -> None:
        if event.connection != self.connection:
            return
        condition = event.transport.condition if event.transport else None
        reason = f": {condition.description}" if condition is not None and condition.description else ""
        self.event("RouterConnection", f"lost {self.access.url}{reason}; retrying in {self.delay:.0f}s")
        self.connection = None
        self.links = self.new_links()
        self.container.schedule(self.delay, Once(self.connect))
        self.delay = min(RECONNECT_MAX, self.delay * 2)

    def on_transport_error(self, event: Any) -> None:  # on_disconnected reports it
        pass

    # -- collecting ------------------------------------------------------------------------
    def on_message(self, event: Any) -> None:
        received = vanflow.parse(event.message)
        if received is not None:
            self.collect(received)

    def collect(self, received: vanflow.Received) -> None:
        now = time.monotonic()
        if received.kind == vanflow.BEACON:
            source = self.state.beacon(received.properties, now)
            if source is not None and self.connection is not None:
                self.event("SourceDetected", f"{source.type.lower()} {source.id}")
                self.on_change(flowstate.Change("source", source.type, source.id))
                self.subscribe(self.links, self.connection, source)
        elif received.kind == vanflow.HEARTBEAT:
            ready = self.state.heartbeat(received.properties, received.to, now)
            sender = self.links.flush_senders.get(ready.id) if ready is not None else None
            if sender is not None and ready is not None:
                sender.send(vanflow.flush_message(ready.direct))
                self.counters["flushes_sent"] += 1
        elif received.kind == vanflow.RECORD:
            for change in self.state.apply(received.source_id, received.records, now):
                self.on_change(change)

    def subscribe(self, links: Links, conn: Any, source: flowstate.EventSource) -> None:
        receivers = [self.container.create_receiver(conn, source.address)]
        if source.type == vanflow.SOURCE_CONTROLLER:
            receivers.append(self.container.create_receiver(conn, source.address + ".heartbeats"))
        sender = self.container.create_sender(conn, source.direct)
        links.by_source[source.id] = [*receivers, sender]
        links.flush_senders[source.id] = sender

    def age(self) -> None:
        for source in self.state.purge(time.monotonic()):
            self.event("SourcePurged", f"{source.type.lower()} {source.id} silent for {self.state.purge_after:.0f}s")
            self.on_change(flowstate.Change("purged", source.type, source.id))
            for link in self.links.by_source.pop(source.id, []):
                link.close()
            self.links.flush_senders.pop(source.id, None)

    def stop(self) -> None:
        """Close the connection and end the reactor (call from a reactor callback)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()
        if self.container is not None:
            self.container.stop()
