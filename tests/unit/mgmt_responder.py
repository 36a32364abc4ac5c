"""A minimal AMQP management responder for the management client's tests.

It runs a proton reactor in a thread and answers the skupper-router management request/reply
pattern (QUERY with count/offset, READ, CREATE, UPDATE, DELETE) from an in-memory table. It can
require mutual TLS with SASL EXTERNAL like the router's ``amqps`` listener, force a status
code, omit the status, stay silent (accept requests, never reply) and release requests for
remote agents it does not know. Every request is recorded for assertions.
"""
from __future__ import annotations

import copy
import itertools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from proton import Delivery, Message, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import ApplicationEvent, Container, EventInjector

from tests.helpers import free_port

PREFIX = "io.skupper.router."




@dataclass(frozen=True)
class ServerTls:
    """Server side of mutual TLS: our cert/key and the CA that must have signed the client."""

    ca: Path
    cert: Path
    key: Path


@dataclass
class Request:
    """One request as the responder saw it."""

    properties: dict[str, Any]
    body: Any
    to: str | None
    link_target: str | None
    reply_to: str | None
    correlation_id: Any


@dataclass
class Peer:
    """An accepted connection: the SASL mechanism, authenticated user and open hostname."""

    mechanism: str | None
    user: str | None
    hostname: str | None


@dataclass
class Behaviour:
    """How the responder answers; tests change it between requests."""

    status: tuple[int, str] | None = None   # answer every request with this status and no body
    omit_status: bool = False               # reply without statusCode
    silent: bool = False                    # accept requests and never reply
    delay: float = 0.0                      # seconds to hold each reply back
    known_remote_routers: set[str] = field(default_factory=set)


class _Handler(MessagingHandler):
    def __init__(self, responder: MgmtResponder) -> None:
        super().__init__(prefetch=16, auto_accept=False)
        self.responder = responder
        self.reply_links: dict[str, Any] = {}
        self.pending: dict[str, list[Message]] = {}
        self.names = itertools.count(1)
        self.connections: set[Any] = set()

    def on_start(self, event):
        r = self.responder
        self.container = event.container
        domain = None
        if r.tls is not None:
            domain = SSLDomain(SSLDomain.MODE_SERVER)
            domain.set_credentials(str(r.tls.cert), str(r.tls.key), None)
            domain.set_trusted_ca_db(str(r.tls.ca))
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER, str(r.tls.ca))
        r.acceptor = event.container.listen(f"{r.scheme}://127.0.0.1:{r.port}", ssl_domain=domain)
        event.container.selectable(r.injector)
        r.ready.set()

    def on_connection_bound(self, event):
        self.connections.add(event.connection)
        sasl = event.transport.sasl()
        sasl.allowed_mechs("EXTERNAL" if self.responder.tls is not None else "ANONYMOUS")

    def on_connection_opened(self, event):
        transport = event.transport
        with self.responder.lock:
            self.responder.peers.append(Peer(transport.sasl().mech, transport.user,
                                             event.connection.remote_hostname))

    def on_link_opening(self, event):
        link = event.link
        if link.is_sender:
            address = link.remote_source.address
            if link.remote_source.dynamic:
                address = f"reply-{next(self.names)}"
            link.source.address = address
            self.reply_links[address] = link
        else:
            link.target.address = link.remote_target.address

    def on_sendable(self, event):
        self._flush(event.link.source.address)

    def on_message(self, event):
        r = self.responder
        msg = event.message
        request = Request(dict(msg.properties or {}), copy.deepcopy(msg.body), msg.address,
                          event.link.remote_target.address, msg.reply_to, msg.correlation_id)
        with r.lock:
            r.requests.append(request)
            behaviour = r.behaviour
            if msg.address and not _addressed_to_known(msg.address, behaviour):
                # what the router does with a message it cannot route
                self.settle(event.delivery, Delivery.RELEASED)
                return
            self.accept(event.delivery)
            if behaviour.silent:
                return
            status, description, body = r.answer(request)
        reply = Message(address=msg.reply_to, correlation_id=_echoed_id(request), body=body,
                        properties={} if behaviour.omit_status else
                        {"statusCode": status, "statusDescription": description})
        if behaviour.delay:
            self.container.schedule(behaviour.delay, _Later(lambda: self._queue(reply)))
        else:
            self._queue(reply)

    def _queue(self, reply: Message) -> None:
        self.pending.setdefault(reply.address, []).append(reply)
        self._flush(reply.address)

    def on_shutdown(self, event):
        """Stop listening, close every connection, then stop the reactor shortly after."""
        r = self.responder
        r.acceptor.close()
        for connection in self.connections:
            if connection.state & connection.LOCAL_ACTIVE:
                connection.close()
        r.injector.close()
        self.container.schedule(0.05, _Later(self.container.stop))

    def _flush(self, address: str) -> None:
        link = self.reply_links.get(address)
        queue = self.pending.get(address, [])
        while link is not None and queue and link.credit > 0:
            link.send(queue.pop(0)).settle()  # the real router sends replies pre-settled


# Types the router's C core answers: it echoes any correlation id and pages QUERY results. The
# embedded Python agent answers every other type, drops int/ulong ids and ignores offset/count
# (real-router-behaviour.md §5; skupper-router 2.5.3 management_agent.c and agent.py).
_CORE_TYPES = {"router", "router.address", "router.link", "router.config.address", "router.config.autoLink",
               "connection", "tcpConnection", "httpRequestInfo"}


def _echoed_id(request: Request) -> Any:
    kind = str(request.properties.get("entityType") or request.properties.get("type") or "")
    if kind.removeprefix(PREFIX) in _CORE_TYPES or not isinstance(request.correlation_id, int):
        return request.correlation_id
    return None


class _Later:
    """Timer task that calls a function on the reactor thread."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.action = action

    def on_timer_task(self, event):
        self.action()


def _addressed_to_known(address: str, behaviour: Behaviour) -> bool:
    parts = address.split("/")
    for prefix in ("amqp:/_topo/0/", "amqp:/_edge/"):
        if address.startswith(prefix) and address.endswith("/$management"):
            router_id = parts[-2]
            return router_id in behaviour.known_remote_routers
    return address == "$management"


class MgmtResponder:
    """A management agent on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(self, *, tls: ServerTls | None = None, port: int | None = None) -> None:
        self.tls = tls
        self.port = port or free_port()
        self.scheme = "amqps" if tls else "amqp"
        self.behaviour = Behaviour()
        self.requests: list[Request] = []
        self.peers: list[Peer] = []
        self.table: dict[str, dict[str, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.injector = EventInjector()
        self.acceptor = None
        self._handler = _Handler(self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def add(self, entity_type: str, name: str, **attributes: Any) -> None:
        """Put a record into the table."""
        full = _full(entity_type)
        with self.lock:
            self.table.setdefault(full, {})[name] = _record(full, name, attributes)

    def records(self, entity_type: str) -> dict[str, dict[str, Any]]:
        """A copy of the records of one type, by name."""
        with self.lock:
            return copy.deepcopy(self.table.get(_full(entity_type), {}))

    def start(self) -> MgmtResponder:
        container = Container(self._handler)
        self._thread = threading.Thread(target=container.run, name="mgmt-responder", daemon=True)
        self._thread.start()
        if not self.ready.wait(5):
            raise RuntimeError("management responder did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self.injector.trigger(ApplicationEvent("shutdown"))
        self._thread.join(5)
        if self._thread.is_alive():
            raise RuntimeError("management responder did not stop")
        self._thread = None
        for fd in self.injector.pipe:  # proton leaves the injector's pipe open
            os.close(fd)

    def __enter__(self) -> MgmtResponder:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the agent (called with the lock held) --------------------------------------------

    def answer(self, request: Request) -> tuple[int, str, Any]:
        if self.behaviour.status is not None:
            code, description = self.behaviour.status
            return code, description, None
        props = request.properties
        operation = props.get("operation")
        full = props.get("entityType") or props.get("type")
        records = self.table.setdefault(full, {}) if full else {}
        if operation == "QUERY":
            return self._query(records, props, request.body or {})
        name = props.get("name")
        if name is None and props.get("identity") is not None:
            name = next((n for n, r in records.items() if r["identity"] == props["identity"]), None)
        if operation == "CREATE":
            if name in records:
                return 400, f"Duplicate name: {name}", None
            records[name] = _record(full, name, request.body or {})
            return 201, "Created", copy.deepcopy(records[name])
        if name not in records:
            return 404, f"Not Found: {full} {name}", None
        if operation == "READ":
            return 200, "OK", copy.deepcopy(records[name])
        if operation == "UPDATE":
            records[name].update(request.body or {})
            return 200, "OK", copy.deepcopy(records[name])
        if operation == "DELETE":
            del records[name]
            return 204, "No Content", None
        return 501, f"Not Implemented: {operation}", None

    @staticmethod
    def _query(records: dict[str, dict[str, Any]], props: dict[str, Any], body: dict) -> tuple:
        rows = list(records.values())
        names = list(body.get("attributeNames") or (sorted(rows[0]) if rows else []))
        paged = str(props.get("entityType") or props.get("type") or "").removeprefix(PREFIX) in _CORE_TYPES
        offset = int(props.get("offset") or 0) if paged else 0
        count = props.get("count") if paged else None
        selected = rows[offset:] if count is None else rows[offset:offset + int(count)]
        results = [[row.get(n) for n in names] for row in selected]
        return 200, "OK", {"attributeNames": names, "results": results}


def _full(entity_type: str) -> str:
    return entity_type if entity_type.startswith(PREFIX) else PREFIX + entity_type


def _record(full: str, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    short = full[len(PREFIX):]
    return {**attributes, "name": name, "identity": f"{short}/{name}", "type": full}
