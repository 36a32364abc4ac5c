"""The router: entities, listeners, AMQP connections, message delivery and the agent.

One proton reactor (``Container``) runs everything except HTTP endpoints, which have threads.
Management requests, link attaches and entity changes all happen on the reactor thread.
"""

from __future__ import annotations

import os
import random
import socket
import string
import time
from typing import Any, Callable

from proton import Delivery, Endpoint, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from . import adaptors, addressing
from .connections import ConnectionRecord, ListenerAcceptor
from .entities import Entity, EntityConflict, EntityStore
from .http_endpoint import HttpEndpoint
from .logs import MODULES, Logger
from .management import CONFIG_TYPES, Agent, ManagementError
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
            self.store.add(schema.full_type("log"), {"module": "DEFAULT", "enable": "info+",
                                                     "type": schema.full_type("log")})
        if self.store.first("router") is None:
            # Like the real router: a config without a router entity runs a standalone router.
            self.store.add(schema.full_type("router"),
                           schema.validate_entity("router", {"mode": "standalone"}))
        router = self.router_entity
        self.mode: str = router.attributes.get("mode", "standalone")
        # The real router names itself <Mode>_<15 random characters> when the config has no id.
        router.attributes.setdefault("id", "%s_%s" % (self.mode.capitalize(), "".join(
            random.choices(string.ascii_letters + string.digits + "+_", k=15))))
        self.id: str = router.attributes["id"]
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
        # The real router accepts a listener/connector naming a missing sslProfile (each of its
        # connections then fails with "Cannot set SSL credentials"); the adaptors refuse it.
        if short not in adaptors.ADAPTOR_TYPES:
            return
        if not attrs.get("address"):
            module = "HTTP_ADAPTOR" if short.startswith("http") else "TCP_ADAPTOR"
            self.log.error(module, "Unable to create %s: Python: KeyError: ('address',)" % short)
            raise ManagementError(500, "CError: Python: KeyError: ('address',)")
        profile = attrs.get("sslProfile")
        if profile and self.store.named("sslProfile", profile) is None:
            kind = "listener" if short.endswith("Listener") else "connector"
            self.log.error("TCP_ADAPTOR" if short.startswith("tcp") else "HTTP_ADAPTOR",
                           "Adaptor %s %s configuration error: failed to find sslProfile '%s'"
                           % (kind, attrs.get("name"), profile))
            raise ManagementError(400, "Invalid %s configuration: see logs for details." % short)

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
        """Records of one type (short name) as the Python agent sees them: it has none of the
        core agent's operational types (connection, router.link, router.address)."""
        if short_type in ("connection", "router.link", "router.address"):
            return []
        if short_type == "router.node":
            return self.network.node_records()
        if short_type == "management":
            return [{"name": "self", "identity": "self", "type": self.schema.full_type("management")}]
        return [self._record(e) for e in self.store.of_type(short_type)]

    def python_records(self) -> list[dict[str, Any]]:
        """Every record READ/DELETE (Python agent) can find by name or identity."""
        return [r for t in self.record_types() for r in self.records(t)]

    def all_records(self) -> list[dict[str, Any]]:
        return self.python_records()

    def core_records(self, short_type: str) -> list[dict[str, Any]]:
        """Records of a core agent type (short name), named the way the C core names them."""
        if short_type == "router":
            return [self._core_router_record()]
        if short_type == "connection":
            return self.connection_records()
        if short_type == "router.link":
            return self._link_records()
        if short_type == "router.address":
            return self._address_records()
        if short_type in CONFIG_TYPES:
            return [self._core_config_record(e) for e in self.store.of_type(short_type)]
        return []

    def connection_records(self) -> list[dict[str, Any]]:
        """AMQP connections once opened (the real router lists no connection whose AMQP open
        is still pending), then the data plane's (tcp) connections."""
        records = [c.attributes() for c in self.connections if c.opened]
        for adaptor in self._adaptors:
            records += adaptor.connection_records(self)
        return records

    def _core_config_record(self, entity: Entity) -> dict[str, Any]:
        record = {key: entity.attributes.get(key) for key in ("name", "identity", "type")}
        for key, value in entity.attributes.items():
            record.setdefault(key, value)
        record.setdefault("priority", -1)
        record.setdefault("pattern", None)
        return record

    def create_core_entity(self, short_type: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """The core agent's CREATE of a router.config.* entity: unknown attributes are ignored,
        an unknown distribution becomes ``balanced``; a taken name or prefix is refused."""
        full = self.schema.full_type(short_type)
        known = self.schema.attribute_names(full)
        values = {k: v for k, v in attrs.items() if k in known and k not in ("identity", "type") and v is not None}
        try:
            validated = self.schema.validate_entity(full, values)
        except SchemaError:
            if "distribution" in values:
                values["distribution"] = "balanced"
            validated = self.schema.validate_entity(full, values)
        existing = self.store.of_type(short_type)
        if validated.get("name") and any(e.name == validated["name"] for e in existing):
            raise ManagementError(400, "Name conflicts with an existing entity", None)
        for key in ("prefix", "pattern"):
            if validated.get(key) and any(e.get(key) == validated[key] for e in existing):
                raise ManagementError(400, "Already exists", None)
        entity = self.store.add(full, validated)
        self.log.info("AGENT", "Created %s %s" % (short_type, entity.name))
        return self._core_config_record(entity)

    def delete_core_entity(self, short_type: str, identity: str) -> None:
        entity = next(e for e in self.store.of_type(short_type) if e.identity == identity)
        self.store.remove(entity)

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
        connections = self.connection_records()
        return {
            "version": VERSION,
            "hostName": socket.gethostname(),
            "uptimeSeconds": int(time.monotonic() - self.started),
            "connectionCount": len(connections),
            "linkCount": len(self._link_records()),
            "nodeCount": max(len(self.network.node_records()) - 1, 0),
            "addrCount": len(self.consumers.addresses()),
            "autoLinkCount": 0,
            "tcpConnectionCount": 0,
            "connectionCounters": {"tcp": sum(1 for c in connections if c["protocol"] == "tcp"),
                                   "amqp": sum(1 for c in connections if c["protocol"] == "amqp"),
                                   "http1": 0, "http2": 0},
        }

    def _address_records(self) -> list[dict[str, Any]]:
        """``router.address`` as the real router keys it: ``M<address>`` for the service
        addresses of tcp/http listeners and connectors (subscriberCount = local connectors,
        remoteHostRouters = other routers serving it), ``R<id>`` per reachable router,
        ``L<address>`` per local consumer address, and ``$management``."""
        records: list[dict[str, Any]] = []

        def add(key: str, distribution: str, subscribers: int = 0, remote: list[str] | None = None,
                in_process: int = 0) -> None:
            records.append({
                "name": key, "identity": key, "type": self.schema.full_type("router.address"),
                "key": key, "distribution": distribution, "inProcess": in_process,
                "subscriberCount": subscribers, "remoteCount": len(remote or []),
                "remoteHostRouters": sorted(remote or []), "deliveriesIngress": 0,
                "deliveriesEgress": 0, "deliveriesTransit": 0, "deliveriesToContainer": 0,
                "deliveriesFromContainer": 0, "deliveriesEgressRouteContainer": 0,
                "deliveriesIngressRouteContainer": 0, "transitOutstanding": None,
                "trackedDeliveries": 0, "priority": -1, "deliveriesRedirectedToFallback": 0,
                "watch": False})

        add("M$management", "closest", in_process=1)
        add("L$management", "closest", in_process=1)
        for adaptor in self._adaptors:
            for network_name, address, local in adaptor.service_addresses(self):
                remote = sorted({router_id for _, router_id, _ in self.network.targets(network_name)})
                add("M" + address, "balanced", subscribers=local, remote=remote)
        for node in self.network.node_records():
            if node["nextHop"] != "(self)" and (node["nextHop"] or node["routerLink"] is not None):
                add("R" + node["id"], "closest", remote=[node["id"]])
        for address in self.consumers.addresses():
            add("L" + address, "balanced", subscribers=1)
        return records

    def _core_router_record(self) -> dict[str, Any]:
        """The core agent's router record: named by its id, identity "1"."""
        attrs = self.router_entity.attributes
        record: dict[str, Any] = {name: 0 for name in (
            "presettledDeliveries", "droppedPresettledDeliveries", "acceptedDeliveries",
            "rejectedDeliveries", "releasedDeliveries", "modifiedDeliveries",
            "deliveriesDelayed1Sec", "deliveriesDelayed10Sec", "deliveriesStuck",
            "deliveriesIngress", "deliveriesEgress", "deliveriesTransit",
            "deliveriesIngressRouteContainer", "deliveriesEgressRouteContainer",
            "deliveriesRedirectedToFallback", "linksBlocked")}
        record.update(self._router_status())
        record.update(name=self.id, identity="1", id=self.id, type=self.schema.full_type("router"),
                      mode=self.mode, area=attrs.get("area", "0"), metadata=attrs.get("metadata"),
                      workerThreads=attrs.get("workerThreads", 4), memoryUsage=None,
                      residentMemoryUsage=None)
        del record["hostName"], record["tcpConnectionCount"]
        return record

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
                    "owningAddr": terminus.address, "connectionId": str(conn.identity),
                    "capacity": link.credit if link.is_sender else 250,
                    "operStatus": "up", "adminStatus": "enabled",
                    "undeliveredCount": link.queued, "unsettledCount": link.unsettled,
                })
                link = link.next(Endpoint.LOCAL_ACTIVE)
        return records

    def management_nodes(self) -> list[str]:
        """The management agents of the interior routers known here, this one included (an
        edge router lists none)."""
        return [addressing.topological(node["id"], addressing.MANAGEMENT)
                for node in self.network.node_records()]

    def metrics_text(self) -> str:
        """Prometheus text for /metrics."""
        values = {"qdr_connections_total": len(self.connection_records()),
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
        if condition is not None and condition.name == "proton.pythonio" and record is not None:
            # python-qpid-proton's socket errors, worded as proton-c (the real router) words them
            reason = str(condition.description).replace(" to all addresses", "")
            text = "proton:io %s - disconnected %s" % (reason, record.host)
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
        delivery = event.delivery
        address = receiver.target.address or event.message.address
        if delivery.settled:  # sent pre-settled: nobody waits for an outcome
            if address:
                self.route(event.message, address)
            delivery.settle()
            return
        outcome = self.route(event.message, address, origin=delivery) if address else False
        if outcome is True:
            self.accept(delivery)
        elif outcome is False:
            self.release(delivery, delivered=False)
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
        hop's outcome. Without an ``origin`` (nobody waits for the outcome) the message is sent
        on pre-settled, locally as across the network.
        """
        parsed = addressing.parse(address)
        if parsed.router == self.id and parsed.local in self.endpoints:
            self.endpoints[parsed.local](message)
            return True
        if parsed.router in (None, self.id):
            if parsed.local == addressing.MANAGEMENT:
                self._serve_management(message)
                return True
            if self.consumers.send(parsed.local, message, settled=origin is None):
                return True
            if parsed.router == self.id:
                return False
        return self.network.forward(message, address, parsed, origin)

    def _serve_management(self, request: Message) -> None:
        if not request.reply_to:
            return
        reply = self.agent.handle(request.properties, request.body)
        operation = (request.properties or {}).get("operation")
        if reply is None:  # the real core agent leaves some requests unanswered
            self.log.debug("AGENT", "No reply to %s %s" % (operation, request.properties))
            return
        if reply.status >= 400:
            self.log.log("AGENT", "error", "Error performing %s: %s" % (operation, reply.description))
        correlation_id = request.correlation_id
        if not reply.core and not isinstance(correlation_id, (str, bytes)):
            correlation_id = None  # the Python agent only keeps string and binary ids
        message = Message(address=request.reply_to, correlation_id=correlation_id,
                          properties={"statusCode": reply.status, "statusDescription": reply.description},
                          body=reply.body)
        # no origin: the reply goes out pre-settled, as the real agents send it
        if self.route(message, request.reply_to) is False:
            self.log.error("AGENT", "Can't respond to %s: no route" % request.reply_to)


def _default_adaptor_status(short_type: str) -> dict[str, Any]:
    # Without a data plane no address is reachable: listeners are down, counters are zero.
    status: dict[str, Any] = {"connectionsOpened": 0, "connectionsClosed": 0, "bytesIn": 0, "bytesOut": 0}
    if short_type.endswith("Listener"):
        status["operStatus"] = "down"
    if short_type.startswith("http"):
        status = {"operStatus": "down"} if short_type == "httpListener" else {}
    return status
