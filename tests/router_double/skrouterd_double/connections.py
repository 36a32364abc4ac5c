"""AMQP connections: accepting them on listeners and describing them for management.

``ListenerAcceptor`` replaces proton's stock acceptor so that every accepted connection gets
its TLS and SASL set up from the listener entity at accept time (the real router does the same,
which is why unreadable credentials only fail the handshakes).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from proton import Connection, SSLUnavailable, Transport, Url
from proton._handlers import IOHandler
from proton._reactor import Acceptor  # not exported; same in 0.37 and 0.40

from . import tls

if TYPE_CHECKING:
    from .entities import Entity
    from .logs import Logger

_connection_ids = itertools.count(1)


def next_connection_id() -> int:
    """A fresh identity for a ``connection`` record (AMQP or not)."""
    return next(_connection_ids)
# Frames on inter-router/edge connections: large ones halve the CPU a byte stream costs per hop
# (the entities' maxFrameSize, 16384 in Skupper's configs, is not applied).
ROUTER_LINK_MAX_FRAME = 1 << 20
ROUTER_ROLES = ("inter-router", "edge")


@dataclass
class ConnectionRecord:
    """What the router knows about one AMQP connection (the ``connection`` entity)."""

    connection: Connection
    role: str
    direction: str  # "in" or "out"
    host: str       # the peer's "ip:port" (in) or the connector's "host:port" (out)
    config_name: str  # the listener or connector it belongs to
    identity: int = field(default_factory=next_connection_id)
    created: float = field(default_factory=time.monotonic)
    opened: bool = False
    closing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, Any]:
        """The ``connection`` entity attributes, as the router's core agent reports them."""
        transport = self.connection.transport
        sasl_mech, user, authenticated = None, None, False
        encrypted, proto, cipher = False, None, None
        if transport is not None:
            sasl = transport.sasl() if self.opened else None
            if sasl is not None:
                sasl_mech = sasl.mech or None
                # the real router counts ANONYMOUS as authenticated (user "anonymous") too
                authenticated = sasl_mech is not None and sasl.outcome == sasl.OK
            user = transport.user or ("anonymous" if sasl_mech == "ANONYMOUS" else None)
            ssl = getattr(self.connection, "_double_ssl", None)
            if ssl is None:  # outgoing: proton's connector keeps the SSL object
                ssl = getattr(getattr(self.connection, "_overrides", None), "ssl", None)
            if ssl is not None:
                proto, cipher = ssl.protocol_name(), ssl.cipher_name()
                encrypted = proto is not None
        container = self.connection.remote_container
        return {
            "name": "connection/%s" % self.host,
            "identity": str(self.identity),
            "type": "io.skupper.router.connection",
            "container": container,
            "host": self.host,
            "role": self.role,
            "dir": self.direction,
            "protocol": "amqp",
            "opened": self.opened,
            "operStatus": "closing" if self.closing else "up",
            "adminStatus": "enabled",
            "active": True,
            "isAuthenticated": authenticated,
            "isEncrypted": encrypted,
            "ssl": encrypted,
            "sslProto": proto,
            "sslCipher": cipher,
            "sasl": sasl_mech,
            "user": user,
            "uptimeSeconds": int(time.monotonic() - self.created),
            "lastDlvSeconds": 0,
            "properties": dict(self.connection.remote_properties or {}),
            "sslSsf": 0,
            "meshId": None,
            "enableProtocolTrace": False,
            **self.extra,
        }


def sasl_mechanisms(listener: dict[str, Any]) -> str:
    """The SASL mechanisms a listener offers."""
    configured = listener.get("saslMechanisms")
    if configured:
        return configured
    return "EXTERNAL" if listener.get("authenticatePeer") and listener.get("sslProfile") else "ANONYMOUS EXTERNAL"


class ListenerAcceptor(Acceptor):
    """Accepts AMQP connections for one ``listener`` entity."""

    def __init__(self, container: Any, host: str, port: int, handler: Any,
                 listener: "Entity", profile_lookup: Callable[[str], dict[str, Any] | None],
                 log: "Logger", on_accept: Callable[[ConnectionRecord], None]) -> None:
        self.listener = listener
        self._on_accept = on_accept
        self._held: list[Any] = []  # connections kept open without TLS credentials
        self._profile_lookup = profile_lookup
        self._log = log
        super().__init__(container, host, port, handler)

    def _hold(self, sock: Any) -> None:
        """Keep ``sock`` open, unanswered; drop the ones whose client has gone meanwhile."""
        import socket as _socket

        alive = []
        for held in self._held:
            gone = False
            try:
                while not gone:  # discard what the client sent; b"" means it has closed
                    gone = held.recv(65536, _socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                pass
            except OSError:
                gone = True
            if gone:
                held.close()
            else:
                alive.append(held)
        self._held = alive + [sock]

    def on_selectable_readable(self, event: Any) -> None:
        from proton._io import IO  # proton's socket helpers (same in 0.37 and 0.40)

        sock, peer = IO.accept(self._selectable)
        attrs = self.listener.attributes
        transport = Transport(Transport.SERVER)
        if attrs.get("role") in ROUTER_ROLES:
            transport.max_frame_size = ROUTER_LINK_MAX_FRAME
        profile_name = attrs.get("sslProfile")
        ssl = None
        if profile_name:
            profile = self._profile_lookup(profile_name)
            try:
                if profile is None:
                    raise tls.CredentialsError("sslProfile %s not found" % profile_name)
                domain = tls.server_domain(profile, authenticate_peer=bool(attrs.get("authenticatePeer")))
                ssl = transport.ssl(domain)
            except (tls.CredentialsError, SSLUnavailable) as exc:
                # As the real router: the connection stays open and silent (the client's
                # handshake never completes) and the router logs the failure.
                where = "%s:%s" % (attrs.get("host") or "", attrs.get("port"))
                self._log.error("ERROR", "Run Time: Cannot set SSL credentials")
                self._log.debug("SERVER", "listener %s: %s" % (self.listener.name, exc))
                self._log.error("SERVER", "[C%d] Connection from %s:%s (to %s) failed: "
                                "amqp:internal-error Run Time: Cannot set SSL credentials on %s"
                                % (next_connection_id(), peer[0], peer[1], where, where))
                self._hold(sock)
                return
        sasl = transport.sasl()
        sasl.allowed_mechs(sasl_mechanisms(attrs))
        sasl.allow_insecure_mechs = True

        reactor = self._reactor
        connection = reactor.connection(self._handler)
        connection._acceptor = self
        connection.url = Url(host=peer[0], port=peer[1])
        connection._double_ssl = ssl
        connection._double_record = ConnectionRecord(
            connection, role=attrs.get("role", "normal"), direction="in",
            host="%s:%s" % (peer[0], peer[1]), config_name=self.listener.name)
        self._on_accept(connection._double_record)
        transport.bind(connection)
        selectable = reactor.selectable(delegate=sock)
        selectable._transport = transport
        transport._selectable = selectable
        IOHandler.update(transport, selectable, reactor.now)
