"""The data plane: tcpListener/tcpConnector (and httpListener/httpConnector as byte streams).

``TcpAdaptor`` is registered with ``adaptors.register`` and gives every router a
``DataPlane``. A connector advertises ``<kind>:<address>`` to the network (kind ``tcp``,
``http1`` or ``http2``); a listener keeps its port open only while that address is served on
this router or is reachable elsewhere, as the real router does (polled every ``POLL_SECONDS``).

Opening a stream: the client end sends an ``open`` request through the routers' ``tcp.ctl``
endpoints. Each router it reaches picks among the targets it knows (``balancer``): its own
connectors (cost 0) or, on an interior, attached edges (the edge link's cost) and other
interiors (the path cost; scope ``any`` only, the chosen interior then picks among its own
connectors and edges). An edge uses its own connectors when it has some, else its uplink.
Every router that chose is told when the stream ends (``done``), so its open-stream counts
stay right. The router with the chosen connector dials the target (``streams.ServerEnd``).
"""

from __future__ import annotations

import socket
import ssl
import time
import traceback
import uuid
from typing import TYPE_CHECKING, Any

from proton import Message

from . import addressing
from .balancer import Balancer, Candidate
from .socket_channel import SocketChannel
from .stream_tls import connector_context, listener_context
from .streams import CONNECT_TIMEOUT, FAIL, ClientEnd, Counters, ServerEnd, StreamEnd
from .connections import next_connection_id
from .tls import CredentialsError
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .entities import Entity
    from .router import Router

CONTROL = "tcp.ctl"
POLL_SECONDS = 0.25
_NEXT_SCOPE = {"edge": "local", "interior": "here", "uplink": "any"}


def service_kind(entity: "Entity") -> str:
    """``tcp``, ``http1`` or ``http2``: streams only join listeners and connectors of one kind."""
    if entity.short_type.startswith("tcp"):
        return "tcp"
    return "http2" if entity.get("protocolVersion") == "HTTP2" else "http1"


def advertised_name(kind: str, address: str) -> str:
    """The mobile address a connector of ``kind`` for ``address`` is announced as."""
    return "%s:%s" % (kind, address)


class ConnectorRuntime:
    """A tcpConnector/httpConnector: where its streams connect to, and its statistics."""

    def __init__(self, entity: "Entity") -> None:
        self.entity = entity
        self.kind = service_kind(entity)
        self.address = str(entity.get("address", ""))
        self.counters = Counters()
        # the real router's permanent "egress-dispatch" pseudo-connection of a tcpConnector
        self.dispatch_id = next_connection_id()

    def status(self) -> dict[str, Any]:
        if self.entity.short_type != "tcpConnector":
            return {}
        # The real router counts its permanent egress-dispatch pseudo-connection as opened.
        return {"connectionsOpened": self.counters.opened + 1, "connectionsClosed": self.counters.closed,
                "bytesIn": self.counters.read, "bytesOut": self.counters.written}


class ListenerRuntime:
    """A tcpListener/httpListener: its port (open only while its address is reachable)."""

    def __init__(self, plane: "DataPlane", entity: "Entity") -> None:
        self.plane = plane
        self.entity = entity
        self.kind = service_kind(entity)
        self.address = str(entity.get("address", ""))
        self.counters = Counters()
        self._selectable: Any = None
        self._socket: socket.socket | None = None
        self._bound_port: int | None = None
        self._error: str | None = None

    @property
    def listening(self) -> bool:
        return self._socket is not None

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"operStatus": "up" if self.listening else "down"}
        if self.entity.short_type == "tcpListener":
            status.update(connectionsOpened=self.counters.opened, connectionsClosed=self.counters.closed,
                          bytesIn=self.counters.read, bytesOut=self.counters.written)
        return status

    def open(self) -> None:
        """Bind and listen; a failure is logged once and retried at the next poll."""
        attrs = self.entity.attributes
        host = attrs.get("host") or "0.0.0.0"
        try:
            port = self._bound_port if self._bound_port is not None else _port_number(attrs.get("port"))
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
                sock.listen(int(attrs.get("backlog") or 0) or 128)
            except OSError:
                sock.close()
                raise
        except (OSError, ValueError) as exc:
            text = "Listener %s: cannot listen on %s:%s: %s" % (self.entity.name, host, attrs.get("port"), exc)
            if text != self._error:
                self.plane.log_error(text, self.kind)
            self._error = text
            return
        self._error = None
        sock.setblocking(False)
        self._socket = sock
        self._bound_port = sock.getsockname()[1]
        self._selectable = self.plane.container.selectable(handler=self, delegate=sock)
        self._selectable._transport = None
        self._selectable.reading = True
        self._selectable.update()
        self.plane.log_info("Listener %s: listening for client connections on %s:%s"
                            % (self.entity.name, host, self._bound_port), self.kind)

    def close(self) -> None:
        """Stop accepting (connections already accepted carry on)."""
        if self._socket is None:
            return
        self._socket = None
        self._selectable.reading = False
        self._selectable.terminate()
        self._selectable.update()
        self.plane.log_info("Listener %s: stopped listening for client connections on %s:%s"
                            % (self.entity.name, self.entity.get("host", "0.0.0.0"), self._bound_port),
                            self.kind)

    def on_selectable_readable(self, event: Any) -> None:
        for _ in range(16):
            if self._socket is None:
                return
            try:
                sock, _peer = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.plane.log_error("Listener %s: accept failed: %s" % (self.entity.name, exc), self.kind)
                return
            self.plane.guarded(self.plane.accept, self, sock)


class DataPlane:
    """The tcp/http adaptors of one router."""

    def __init__(self, router: "Router") -> None:
        self.router = router
        self.container = router.container
        self.wakeup = Wakeup(self.container)
        self.balancer = Balancer()
        self.listeners: dict[int, ListenerRuntime] = {}
        self.connectors: dict[int, ConnectorRuntime] = {}
        self.ends: dict[str, StreamEnd] = {}
        self._advertised: set[str] = set()
        router.endpoints[CONTROL] = lambda message: self.guarded(self._on_control, message)
        self.container.schedule(POLL_SECONDS, _Timer(self._poll))

    # -- addresses and messages -----------------------------------------------------------------

    @property
    def _edge_mode(self) -> bool:
        return self.router.mode == "edge"

    def stream_address(self, stream_id: str, side: str) -> str:
        return addressing.topological(self.router.id, "tcp.%s.%s" % (stream_id, side), edge=self._edge_mode)

    @property
    def control_address(self) -> str:
        return addressing.topological(self.router.id, CONTROL, edge=self._edge_mode)

    def send(self, address: str, message: Message) -> bool:
        """Route ``message`` to ``address``; False when there is no route."""
        return self.router.route(message, address) is not False

    def has_route(self, address: str) -> bool:
        return self.router.network.has_route(address)

    def register_end(self, end: StreamEnd) -> None:
        local = addressing.parse(end.address).local
        self.ends[local] = end
        self.router.endpoints[local] = lambda message: self.guarded(end.deliver, message, end=end)

    def guarded(self, action: Any, *args: Any, end: StreamEnd | None = None) -> None:
        """Run ``action``; a bug is logged and resets the stream concerned, the router carries on."""
        try:
            action(*args)
        except Exception:
            self.log_error("Internal error: %s" % traceback.format_exc())
            if end is not None and not end.finished:
                try:
                    end.finish(abort=True)
                except Exception:
                    self.log_error("Internal error: %s" % traceback.format_exc())

    def end_finished(self, end: StreamEnd, *, failed: bool) -> None:
        if isinstance(end, ClientEnd):
            self.balancer.release(end.stream_id, failed=failed)
            self.notify_deciders(end.stream_id, end.deciders, failed=failed)
            if end.peer is None:
                # An "opened" may still come from a target being connected: keep the address
                # so that the late server end is reset rather than left connected.
                end.linger_until = time.monotonic() + CONNECT_TIMEOUT + 5
                return
        self._forget(end)

    def notify_deciders(self, stream_id: str, deciders: list[str], *, failed: bool) -> None:
        """Tell the other routers that chose a target for the stream that it ended."""
        for decider in deciders:
            if decider != self.control_address:
                self.send(decider, Message(address=decider, subject="done",
                                           body={"sid": stream_id, "failed": failed}))

    def _forget(self, end: StreamEnd) -> None:
        local = addressing.parse(end.address).local
        self.ends.pop(local, None)
        self.router.endpoints.pop(local, None)

    # -- entities -------------------------------------------------------------------------------

    def add(self, entity: "Entity") -> None:
        if entity.short_type.endswith("Listener"):
            listener = ListenerRuntime(self, entity)
            self.listeners[id(entity)] = listener
            self._update_listener(listener)
        else:
            self.connectors[id(entity)] = ConnectorRuntime(entity)
            self._connectors_changed()

    def remove(self, entity: "Entity") -> None:
        listener = self.listeners.pop(id(entity), None)
        if listener is not None:
            listener.close()
        if self.connectors.pop(id(entity), None) is not None:
            self._connectors_changed()

    def status(self, entity: "Entity") -> dict[str, Any] | None:
        runtime = self.listeners.get(id(entity)) or self.connectors.get(id(entity))
        return runtime.status() if runtime is not None else None

    def connection_records(self) -> list[dict[str, Any]]:
        """``connection`` records of the tcp adaptor, as the real router lists them: one
        "egress-dispatch" per tcpConnector plus one per open client or target connection."""
        records = [tcp_connection_record(c.dispatch_id, "egress-dispatch", "out")
                   for c in self.connectors.values() if c.entity.short_type == "tcpConnector"]
        for end in self.ends.values():
            if end.kind == "tcp" and end.record_host is not None and not end.finished:
                records.append(tcp_connection_record(end.record_id, end.record_host, end.record_dir))
        return sorted(records, key=lambda r: int(r["identity"]))

    def _connectors_changed(self) -> None:
        wanted = {advertised_name(c.kind, c.address) for c in self.connectors.values()}
        for name in sorted(wanted - self._advertised):
            self.router.network.advertise(name)
        for name in sorted(self._advertised - wanted):
            self.router.network.withdraw(name)
        self._advertised = wanted
        for listener in self.listeners.values():
            self._update_listener(listener)

    # -- listeners ------------------------------------------------------------------------------

    def _reachable(self, kind: str, address: str) -> bool:
        if any(c.kind == kind and c.address == address for c in self.connectors.values()):
            return True
        return self.router.network.reachable(advertised_name(kind, address))

    def _update_listener(self, listener: ListenerRuntime) -> None:
        wanted = self._reachable(listener.kind, listener.address)
        if wanted and not listener.listening:
            listener.open()
        elif not wanted and listener.listening:
            listener.close()

    def accept(self, listener: ListenerRuntime, sock: socket.socket) -> None:
        """A client connected to ``listener``: set up its stream's client end."""
        end = ClientEnd(self, uuid.uuid4().hex[:16], listener.counters,
                        lambda client: self._open(client, listener))
        end.count_open()
        end.describe(listener.kind, sock)
        context = None
        profile_name = listener.entity.get("sslProfile")
        if profile_name:
            try:
                context = listener_context(self.router.profile(profile_name) or {"name": profile_name},
                                           authenticate_peer=bool(listener.entity.get("authenticatePeer")))
            except CredentialsError as exc:
                self.log_error("Cannot set SSL credentials for %s: %s" % (listener.entity.name, exc), listener.kind)
                sock.close()
                end.finish()
                return
        end.channel = SocketChannel(self.container, sock, end, tls_context=context, server_side=True)
        end.channel.start()

    def _open(self, end: ClientEnd, listener: ListenerRuntime) -> None:
        end.open_target = self._route_open({
            "sid": end.stream_id, "kind": listener.kind, "address": listener.address,
            "reply": end.address, "scope": "any", "origin_edge": None, "deciders": []})

    # -- choosing targets -----------------------------------------------------------------------

    def _on_control(self, message: Message) -> None:
        body = message.body if isinstance(message.body, dict) else {}
        if message.subject == "open":
            self._route_open(body)
        elif message.subject == "done":
            self.balancer.release(str(body.get("sid")), failed=bool(body.get("failed")))

    def _candidates(self, kind: str, address: str, scope: str, origin_edge: str | None) -> list[Candidate]:
        local = [Candidate(("local", key), 0) for key, c in self.connectors.items()
                 if c.kind == kind and c.address == address]
        if scope == "local" or (local and self._edge_mode):
            return local
        remote = [Candidate((target, router_id), cost)
                  for target, router_id, cost in self.router.network.targets(advertised_name(kind, address))
                  if (target != "interior" or scope == "any") and router_id != origin_edge]
        return local + remote

    def _route_open(self, request: dict[str, Any]) -> str | None:
        """Choose a target for an open request here: connect to a local one, or pass the
        request on; returns the control address it was sent to (None if handled here)."""
        stream_id = str(request["sid"])
        deciders = list(request.get("deciders") or []) + [self.control_address]
        candidates = self._candidates(request["kind"], request["address"], request.get("scope", "any"),
                                      request.get("origin_edge"))
        if not candidates:
            self._refuse(request, deciders, "no route to %s" % request["address"])
            return None
        target, key = self.balancer.choose(stream_id, candidates).key
        if target == "local":
            self._start_server_end(self.connectors[key], request, deciders)
            return None
        forwarded = dict(request, deciders=deciders, scope=_NEXT_SCOPE[target],
                         origin_edge=self.router.id if target == "uplink" else request.get("origin_edge"))
        control = addressing.topological(key, CONTROL, edge=target == "edge")
        if not self.send(control, Message(address=control, subject="open", body=forwarded)):
            self.balancer.release(stream_id, failed=True)
            self._refuse(request, deciders, "no route to router %s" % key)
            return None
        return control

    def _refuse(self, request: dict[str, Any], deciders: list[str], reason: str) -> None:
        reply = str(request["reply"])
        self.send(reply, Message(address=reply, subject=FAIL, body={"deciders": deciders, "reason": reason}))

    def _start_server_end(self, connector: ConnectorRuntime, request: dict[str, Any],
                          deciders: list[str]) -> None:
        end = ServerEnd(self, str(request["sid"]), connector.counters, peer=str(request["reply"]),
                        deciders=deciders)
        end.kind = connector.kind
        attrs = connector.entity.attributes
        host = str(attrs.get("host") or "127.0.0.1")
        context: ssl.SSLContext | None = None
        try:
            port = _port_number(attrs.get("port"))
            profile_name = attrs.get("sslProfile")
            if profile_name:
                context = connector_context(self.router.profile(profile_name) or {"name": profile_name},
                                            verify_hostname=bool(attrs.get("verifyHostname", True)))
        except (CredentialsError, ValueError, OSError) as exc:
            end.fail("Connector %s cannot connect: %s" % (connector.entity.name, exc))
            return
        end.connect(host, port, context)

    # -- housekeeping ---------------------------------------------------------------------------

    def _poll(self) -> None:
        self.container.schedule(POLL_SECONDS, _Timer(self._poll))
        for listener in list(self.listeners.values()):
            self.guarded(self._update_listener, listener)
        now = time.monotonic()
        for end in list(self.ends.values()):
            if end.finished:
                if now > end.linger_until:
                    self._forget(end)
            else:
                self.guarded(end.check, now, end=end)

    def log_info(self, text: str, kind: str = "tcp") -> None:
        self.router.log.info(_module(kind), text)

    def log_error(self, text: str, kind: str = "tcp") -> None:
        self.router.log.error(_module(kind), text)

    def log_debug(self, text: str) -> None:
        self.router.log.debug("TCP_ADAPTOR", text)


class TcpAdaptor:
    """The ``adaptors.Adaptor`` for tcp/http listeners and connectors: one ``DataPlane`` per router."""

    def __init__(self) -> None:
        self._planes: dict[int, DataPlane] = {}

    def on_start(self, router: "Router") -> None:
        self._planes[id(router)] = DataPlane(router)

    def on_create(self, router: "Router", entity: "Entity") -> None:
        self._planes[id(router)].add(entity)

    def on_delete(self, router: "Router", entity: "Entity") -> None:
        self._planes[id(router)].remove(entity)

    def status(self, entity: "Entity") -> dict[str, Any]:
        for plane in self._planes.values():
            status = plane.status(entity)
            if status is not None:
                return status
        return {}

    def connection_records(self, router: "Router") -> list[dict[str, Any]]:
        plane = self._planes.get(id(router))
        return plane.connection_records() if plane is not None else []

    def service_addresses(self, router: "Router") -> list[tuple[str, str, int]]:
        """``(network name, address, local connectors)`` of every listener's and connector's
        address on ``router``."""
        plane = self._planes.get(id(router))
        if plane is None:
            return []
        found: dict[tuple[str, str], int] = {}
        for listener in plane.listeners.values():
            found.setdefault((listener.kind, listener.address), 0)
        for connector in plane.connectors.values():
            key = (connector.kind, connector.address)
            found[key] = found.get(key, 0) + 1
        return [(advertised_name(kind, address), address, count)
                for (kind, address), count in sorted(found.items())]


def tcp_connection_record(identity: int, host: str, direction: str) -> dict[str, Any]:
    """A ``connection`` record of the tcp adaptor (container "TcpAdaptor", protocol tcp)."""
    return {"name": "connection/%s" % host, "identity": str(identity), "host": host,
            "role": "normal", "protocol": "tcp", "dir": direction, "container": "TcpAdaptor",
            "sasl": "", "isAuthenticated": False, "user": "", "isEncrypted": False,
            "sslProto": None, "sslCipher": None, "properties": {}, "sslSsf": 0,
            "type": "io.skupper.router.connection", "ssl": False, "opened": True, "active": True,
            "adminStatus": "enabled", "operStatus": "up", "uptimeSeconds": 0,
            "lastDlvSeconds": 0, "enableProtocolTrace": False, "meshId": None}


def _port_number(port: Any) -> int:
    text = str(port if port is not None else "")
    if text.isdigit():
        return int(text)
    if not text:
        raise ValueError("no port configured")
    return socket.getservbyname(text, "tcp")


def _module(kind: str) -> str:
    return "TCP_ADAPTOR" if kind == "tcp" else "HTTP_ADAPTOR"


class _Timer:
    """A reactor timer handler calling ``callback``."""

    def __init__(self, callback: Any) -> None:
        self._callback = callback

    def on_timer_task(self, event: Any) -> None:
        self._callback()
