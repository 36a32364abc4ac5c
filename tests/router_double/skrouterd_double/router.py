"""The router: entities, listeners, AMQP connections, message delivery and the agent.

One proton reactor (``Container``) runs everything except HTTP endpoints, which have threads.
Management requests, link attaches and entity changes all happen on the reactor thread.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any, Callable

from proton import Delivery, Endpoint, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from . import adaptors, addressing
from .connections import ConnectionRecord, ListenerAcceptor
from .entities import Entity, EntityConflict, EntityStore
from .http_endpoint import HttpEndpoint
from .logs import MODULES, Logger
from .management import Agent, ManagementError
from .network import Network
from .schema import Schema, SchemaError

VERSION = "2.5.3"
_SERVICE_PORTS = {"amqp": 5672, "amqps": 5671}


def service_port(port: Any) -> int:
    """A listener/connector ``port`` (number or service name) as a number."""
    text = str(port)
    if text.isdigit():
        return int(text)
    if text in _SERVICE_PORTS:
        return _SERVICE_PORTS[text]
    return socket.getservbyname(text, "tcp")


class Router(MessagingHandler):
    """A skupper-router 2.5.3 stand-in configured from validated entities."""

    def __init__(self, schema: Schema, config: list[tuple[str, dict[str, Any]]],
                 log: Logger | None = None) -> None:
        super().__init__(prefetch=250, auto_accept=False, auto_settle=True)
        self.schema = schema
        self.log = log or Logger()
        self.store = EntityStore(schema)
        self.agent = Agent(self)
        self.consumers = addressing.ConsumerTable()
        self.connections: list[ConnectionRecord] = []
        # In-process consumers of this router's topological addresses (a data plane's streams)
        self.endpoints: dict[str, Callable[[Message], None]] = {}
        self.container: Container | None = None
        self.started = time.monotonic()
        self._listeners: dict[str, Any] = {}
        self._adaptors = adaptors.registered()
        for module in MODULES:
            if module != "DEFAULT":
                self.store.add(schema.full_type("log"), {"module": module, "type": "io.skupper.router.log"})
        for full_type, attrs in config:
            self._add(full_type, attrs, at_start=True)
        if not self.store.of_type("log") or not self.store.first("log", lambda e: e.get("module") == "DEFAULT"):
            self.store.add(schema.full_type("log"), {"module": "DEFAULT", "enable": "info+"})
        router = self.router_entity
        router.attributes.setdefault("id", "Router.%s" % uuid.uuid4().hex[:8])
        self.id: str = router.attributes["id"]
        self.mode: str = router.attributes.get("mode", "standalone")
        router.attributes.setdefault("name", "router/%s" % self.id)
        self.network = Network(self)

    # -- properties ---------------------------------------------------------------------------

    @property
    def router_entity(self) -> Entity:
        router = self.store.first("router")
        if router is None:
            raise SchemaError("A router config needs exactly one router entity, found 0")
        return router

    def profile(self, name: str) -> dict[str, Any] | None:
        """The attributes of the sslProfile called ``name``."""
        entity = self.store.named("sslProfile", name)
        return entity.attributes if entity else None

    # -- running ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the reactor until the process is stopped."""
        self.container = Container(self)
        self.container.container_id = self.id
        self.container.run()

    def on_start(self, event: Any) -> None:
        self.container = event.container
        self.log.info("ROUTER", "Router started in %s mode, id=%s" % (self.mode.capitalize(), self.id))
        self.log.info("ROUTER", "Version: %s" % VERSION)
        for adaptor in self._adaptors:
            adaptor.on_start(self)
        for entity in self.store.all():
            self._activate(entity)
        self.network.start()
        self.log.info("SERVER", "Operational, 4 Threads Running (process ID %d)" % os.getpid())

    # -- entities -----------------------------------------------------------------------------

    def _add(self, full_type: str, attrs: dict[str, Any], *, at_start: bool = False) -> Entity:
        short = self.schema.entity_type(full_type).short_name
        if short == "log":
            existing = self.store.first("log", lambda e: e.get("module") == attrs.get("module"))
            if existing:
                existing.attributes.update({k: v for k, v in attrs.items() if k not in ("name", "identity")})
                self._activate_log(existing)
                return existing
        self._check_references(short, attrs)
        try:
            entity = self.store.add(full_type, attrs)
        except EntityConflict as exc:
            raise ManagementError(400, str(exc)) from None
        if short == "log":
            self._activate_log(entity)
        return entity

    def _check_references(self, short: str, attrs: dict[str, Any]) -> None:
        profile = attrs.get("sslProfile")
        if profile and short in ("listener", "connector") + adaptors.ADAPTOR_TYPES:
            if self.store.named("sslProfile", profile) is None:
                raise ManagementError(400, "Invalid %s configuration: sslProfile '%s' not found"
                                      % (short, profile))

    def create_entity(self, full_type: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """Management CREATE: validate, add and activate at once; returns the record."""
        validated = self.schema.validate_entity(full_type, attrs, creating=True)
        entity = self._add(full_type, validated)
        try:
            self._activate(entity)
        except ManagementError:
            self.store.remove(entity)
            raise
        self.log.info("AGENT", "Created %s %s" % (entity.short_type, entity.name))
        return self._record(entity)

    def delete_entity(self, full_type: str, identity: str) -> None:
        """Management DELETE of a configured entity."""
        entity = next(e for e in self.store.all() if e.identity == identity)
        self._deactivate(entity)
        if entity.short_type == "log":
            entity.attributes["enable"] = None  # logs cannot go away: back to the default
            self.log.configure(entity.get("module"), None)
            return
        self.store.remove(entity)
        self.log.info("AGENT", "Deleted %s %s" % (entity.short_type, entity.name))

    def _activate(self, entity: Entity) -> None:
        short = entity.short_type
        if short == "listener":
            self._start_listener(entity)
        elif short == "connector":
            self.network.add_connector(entity)
        elif short in adaptors.ADAPTOR_TYPES:
            for adaptor in self._adaptors:
                adaptor.on_create(self, entity)

    def _deactivate(self, entity: Entity) -> None:
        short = entity.short_type
        if short == "listener":
            runtime = self._listeners.pop(entity.identity, None)
            if runtime is not None:
                runtime.close()
        elif short == "connector":
            self.network.remove_connector(entity)
        elif short in adaptors.ADAPTOR_TYPES:
            for adaptor in self._adaptors:
                adaptor.on_delete(self, entity)

    def _activate_log(self, entity: Entity) -> None:
        try:
            self.log.configure(entity.get("module"), entity.get("enable"))
        except ValueError as exc:
            raise ManagementError(400, str(exc)) from None

    def _start_listener(self, entity: Entity) -> None:
        attrs = entity.attributes
        host = attrs.get("host") or "0.0.0.0"
        try:
            port = service_port(attrs.get("port", "amqp"))
            if attrs.get("http"):
                runtime: Any = HttpEndpoint(host, port, healthz=bool(attrs.get("healthz", True)),
                                            metrics=bool(attrs.get("metrics", True)),
                                            metrics_text=self.metrics_text)
            else:
                runtime = ListenerAcceptor(self.container, host, port, self, entity, self.profile,
                                           self.log, self._accepted)
        except OSError as exc:
            self.log.error("SERVER", "Listener error on %s:%s: %s" % (host, attrs.get("port"), exc))
            return
        self._listeners[entity.identity] = runtime
        self.log.info("SERVER", "Listening on %s:%s%s" % (host, attrs.get("port"),
                                                          " (HTTP)" if attrs.get("http") else ""))

    # -- records for management -----------------------------------------------------------------

    def record_types(self) -> list[str]:
        """Short names of every type QUERY can list."""
        configured = {e.short_type for e in self.store.all()}
        return sorted(configured | {"connection", "router.node", "router.link", "management"}
                      | set(adaptors.ADAPTOR_TYPES) | {"listener", "connector", "sslProfile"})

    def records(self, short_type: str) -> list[dict[str, Any]]:
        """Management records of one type (short name)."""
        if short_type == "connection":
            return [c.attributes() for c in self.connections]
        if short_type == "router.node":
            return self.network.node_records()
        if short_type == "router.link":
            return self._link_records()
        if short_type == "management":
            return [{"name": "self", "identity": "self", "type": self.schema.full_type("management")}]
        return [self._record(e) for e in self.store.of_type(short_type)]

    def all_records(self) -> list[dict[str, Any]]:
        return [r for t in self.record_types() for r in self.records(t)]

    def _record(self, entity: Entity) -> dict[str, Any]:
        record = entity.record()
        if entity.short_type == "router":
            record.update(self._router_status())
        elif entity.short_type == "connector":
            record.update(self.network.connector_status(entity))
        elif entity.short_type in adaptors.ADAPTOR_TYPES:
            record.update(_default_adaptor_status(entity.short_type))
            for adaptor in self._adaptors:
                record.update(adaptor.status(entity))
        return record

    def _router_status(self) -> dict[str, Any]:
        links = self._link_records()
        return {
            "version": VERSION,
            "hostName": socket.gethostname(),
            "uptimeSeconds": int(time.monotonic() - self.started),
            "connectionCount": len(self.connections),
            "linkCount": len(links),
            "nodeCount": max(len(self.network.node_records()) - 1, 0),
            "addrCount": len(self.consumers.addresses()),
            "autoLinkCount": 0,
            "tcpConnectionCount": 0,
        }

    def _link_records(self) -> list[dict[str, Any]]:
        records = []
        for conn in self.connections:
            link = conn.connection.link_head(Endpoint.LOCAL_ACTIVE)
            while link:
                terminus = link.source if link.is_sender else link.target
                records.append({
                    "name": link.name, "identity": str(len(records) + 1),
                    "type": "io.skupper.router.router.link", "linkName": link.name,
                    "linkType": conn.extra.get("linkType", "endpoint"),
                    "linkDir": "out" if link.is_sender else "in",
                    "owningAddr": terminus.address, "connectionId": conn.identity,
                    "capacity": link.credit if link.is_sender else 250,
                    "operStatus": "up", "adminStatus": "enabled",
                    "undeliveredCount": link.queued, "unsettledCount": link.unsettled,
                })
                link = link.next(Endpoint.LOCAL_ACTIVE)
        return records

    def management_nodes(self) -> list[str]:
        return [addressing.topological(node["id"], addressing.MANAGEMENT)
                for node in self.network.node_records() if node["nextHop"] != "(self)"]

    def metrics_text(self) -> str:
        """Prometheus text for /metrics."""
        values = {"qdr_connections_total": len(self.connections),
                  "qdr_links_total": len(self._link_records()),
                  "qdr_routers_total": len(self.network.node_records())}
        return "".join("# TYPE %s gauge\n%s %d\n" % (k, k, v) for k, v in values.items())

    # -- connections ----------------------------------------------------------------------------

    def _accepted(self, record: ConnectionRecord) -> None:
        self.connections.append(record)

    def track(self, record: ConnectionRecord) -> None:
        """Start reporting an outgoing connection."""
        self.connections.append(record)

    def on_connection_opening(self, event: Any) -> None:
        event.connection.container = self.id

    def on_connection_remote_open(self, event: Any) -> None:
        record = getattr(event.connection, "_double_record", None)
        if record is not None:
            record.opened = True
            self.network.connection_opened(record)

    def on_transport_error(self, event: Any) -> None:
        record = getattr(event.connection, "_double_record", None) if event.connection else None
        condition = event.transport.condition
        text = "%s %s" % (condition.name, condition.description) if condition else "error"
        if record is not None and record.direction == "in":
            self.log.info("SERVER", "[C%d] Connection from %s (to %s) failed: %s"
                          % (record.identity, record.host, record.config_name, text))
        if record is not None:
            self.network.connection_failed(record, text)

    def on_transport_closed(self, event: Any) -> None:
        connection = event.connection
        if connection is None:
            return
        record = getattr(connection, "_double_record", None)
        if record is not None and record in self.connections:
            self.connections.remove(record)
            self.network.connection_closed(record)
        self.consumers.remove_if(lambda link: link.connection == connection)

    def on_connection_remote_close(self, event: Any) -> None:
        record = getattr(event.connection, "_double_record", None)
        if record is not None:
            record.closing = True

    # -- links and messages ---------------------------------------------------------------------

    def on_link_opening(self, event: Any) -> None:
        link = event.link
        if self.network.claims_link(link):
            return
        if link.is_sender:
            source = link.remote_source
            if source.dynamic:
                local = addressing.temporary_name()
                address = addressing.topological(self.id, local, edge=self.mode == "edge")
                link.source.address = address
                self.consumers.add(local, link)
            else:
                link.source.copy(source)
                if source.address:
                    parsed = addressing.parse(source.address)
                    # announced to the network with the next HELLO
                    self.consumers.add(parsed.local if parsed.router in (None, self.id) else source.address, link)
            link.target.copy(link.remote_target)
        else:
            link.source.copy(link.remote_source)
            link.target.copy(link.remote_target)

    def on_link_closing(self, event: Any) -> None:
        if event.link.is_sender:
            self.consumers.remove_link(event.link)

    def on_sendable(self, event: Any) -> None:
        if not self.network.on_sendable(event.sender):
            self.consumers.flush(event.sender)

    def on_message(self, event: Any) -> None:
        receiver = event.receiver
        if self.network.claims_message(event):
            return
        address = receiver.target.address or event.message.address
        outcome = self.route(event.message, address, origin=event.delivery) if address else False
        if outcome is True:
            self.accept(event.delivery)
        elif outcome is False:
            self.release(event.delivery, delivered=False)
        # None: forwarded; the next hop's outcome settles the delivery later

    def on_accepted(self, event: Any) -> None:
        self.network.delivery_outcome(event.delivery, Delivery.ACCEPTED)

    def on_rejected(self, event: Any) -> None:
        self.network.delivery_outcome(event.delivery, Delivery.REJECTED)

    def on_released(self, event: Any) -> None:
        self.network.delivery_outcome(event.delivery, Delivery.RELEASED)

    def route(self, message: Message, address: str, origin: Delivery | None = None) -> bool | None:
        """Deliver ``message`` to ``address`` here or across the network.

        True: delivered; False: no route; None: forwarded, ``origin`` is settled with the next
        hop's outcome.
        """
        parsed = addressing.parse(address)
        if parsed.router == self.id and parsed.local in self.endpoints:
            self.endpoints[parsed.local](message)
            return True
        if parsed.router in (None, self.id):
            if parsed.local == addressing.MANAGEMENT:
                self._serve_management(message)
                return True
            if self.consumers.send(parsed.local, message):
                return True
            if parsed.router == self.id:
                return False
        return self.network.forward(message, address, parsed, origin)

    def _serve_management(self, request: Message) -> None:
        if not request.reply_to:
            return
        status, description, body = self.agent.handle(request.properties, request.body)
        if status >= 400:
            self.log.log("AGENT", "error", "Error performing %s: %s"
                         % ((request.properties or {}).get("operation"), description))
        reply = Message(address=request.reply_to, correlation_id=request.correlation_id,
                        properties={"statusCode": status, "statusDescription": description},
                        body=body)
        if self.route(reply, request.reply_to) is False:
            self.log.error("AGENT", "Can't respond to %s: no route" % request.reply_to)


def _default_adaptor_status(short_type: str) -> dict[str, Any]:
    # Without a data plane no address is reachable: listeners are down, counters are zero.
    status: dict[str, Any] = {"connectionsOpened": 0, "connectionsClosed": 0, "bytesIn": 0, "bytesOut": 0}
    if short_type.endswith("Listener"):
        status["operStatus"] = "down"
    if short_type.startswith("http"):
        status = {"operStatus": "down"} if short_type == "httpListener" else {}
    return status
