"""Carrying one TCP connection across the router network as AMQP messages.

A stream has two ends: the client end on the router whose listener accepted the client, and
the server end on the router whose connector dialled the target. Each end owns a socket
channel and a per-stream address on its router (``amqp:/_topo/0/<router>/tcp.<id>.c|s`` or
``amqp:/_edge/<router>/…``); they exchange messages on the routers' data links:

* ordered (``id`` = sequence number per direction, reordered on arrival if routes change):
  ``opened`` (server → client: the server end's address, the routers that chose the target),
  ``d`` (a chunk of bytes), ``eof`` (the sender's socket reached end of input: half-close);
* unordered: ``ack`` (bytes written to the socket so far: per-stream flow control with a
  ``WINDOW`` of unacknowledged bytes), ``reset`` (the other end failed or was reset),
  ``fail`` (server → client: the target could not be reached).

An end closes its socket once both directions have ended; errors reset both sockets.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from proton import Message

from .socket_channel import SocketChannel

if TYPE_CHECKING:
    from .tcp_adaptor import DataPlane

WINDOW = 1 << 22      # unacknowledged bytes a sender may have in flight
ACK_STEP = 1 << 20    # acknowledge after this many bytes were written
LOW_WATER = 1 << 18   # …while no more than this is waiting in the socket buffer
OPEN_TIMEOUT = 60.0   # a client end waiting this long for its target gives up
GAP_TIMEOUT = 5.0     # a missing message this old means a link dropped it: reset
CONNECT_TIMEOUT = 30.0

OPENED, DATA, EOF, ACK, RESET, FAIL = "opened", "d", "eof", "ack", "reset", "fail"


@dataclass
class Counters:
    """Per listener/connector statistics: connections and bytes read from/written to sockets."""

    opened: int = 0
    closed: int = 0
    read: int = 0
    written: int = 0


class StreamEnd:
    """One end of a stream (the common part of the client and server ends)."""

    side = ""

    def __init__(self, plane: "DataPlane", stream_id: str, counters: Counters) -> None:
        self.plane = plane
        self.stream_id = stream_id
        self.counters = counters
        self.address = plane.stream_address(stream_id, self.side)
        self.peer: str | None = None
        self.deciders: list[str] = []
        self.channel: SocketChannel | None = None
        self.finished = False
        # how the end's socket appears as a ``connection`` record (set once it is connected)
        self.kind = "tcp"
        self.record_id = 0
        self.record_host: str | None = None
        self.record_dir = "in" if self.side == "c" else "out"
        self.created = time.monotonic()
        # A finished end stays addressable until then (see ``plane.end_finished``).
        self.linger_until = 0.0
        self._counted = False
        # socket -> network
        self._out_seq = 0
        self._sent = 0
        self._acked = 0
        self._window_full = False
        self._read_done = False
        # network -> socket
        self._in_seq = 0
        self._reorder: dict[int, Message] = {}
        self._gap_since: float | None = None
        self._received = 0
        self._ack_sent = 0
        self._peer_eof = False
        plane.register_end(self)

    # -- sending --------------------------------------------------------------------------------

    def _send(self, subject: str, *, body: Any = None, properties: dict[str, Any] | None = None,
              ordered: bool = False) -> None:
        if self.peer is None or self.finished:
            return
        message = Message(address=self.peer, subject=subject, body=body, properties=properties)
        if ordered:
            message.id = self._out_seq
            self._out_seq += 1
        if not self.plane.send(self.peer, message) and ordered:
            self.finish(abort=True)  # the other end cannot get the stream's bytes any more

    def _send_data(self, data: bytes) -> None:
        self._send(DATA, body=data, ordered=True)
        self._sent += len(data)
        if self._sent - self._acked >= WINDOW and self.channel is not None:
            self._window_full = True
            self.channel.pause()

    # -- channel events -------------------------------------------------------------------------

    def on_channel_ready(self) -> None:
        pass

    def on_channel_data(self, data: bytes) -> None:
        self.counters.read += len(data)
        self._send_data(data)

    def on_channel_eof(self) -> None:
        self._read_done = True
        self._send(EOF, ordered=True)
        self._maybe_finish()

    def on_channel_error(self, reason: str) -> None:
        log = self.plane.log_error if reason.startswith("internal") else self.plane.log_debug
        log("[%s] %s connection error: %s" % (self.stream_id, self.side, reason))
        self._send(RESET)
        self.finish(abort=True)

    def on_channel_drained(self) -> None:
        self._maybe_ack(drained=True)
        self._maybe_finish()

    # -- messages from the other end ------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """A message addressed to this end."""
        subject = message.subject
        if self.finished:
            self._on_late(message)
            return
        if subject == ACK:
            self._acked = max(self._acked, int((message.properties or {}).get("n", 0)))
            if self._window_full and self._sent - self._acked < WINDOW:
                self._window_full = False
                if self.channel is not None and not self._read_done:
                    self.channel.resume()
            return
        if subject == RESET:
            self.finish(abort=True)
            return
        if subject == FAIL:
            self._on_fail(message)
            return
        if message.id != self._in_seq:
            self._reorder[int(message.id)] = message
            self._gap_since = self._gap_since or time.monotonic()
            return
        while message is not None and not self.finished:
            self._in_seq += 1
            self._process(message)
            message = self._reorder.pop(self._in_seq, None)
        self._gap_since = time.monotonic() if self._reorder else None

    def _process(self, message: Message) -> None:
        subject = message.subject
        if subject == DATA and self.channel is not None:
            data = message.body
            self.channel.write(data)
            self._received += len(data)
            self.counters.written += len(data)
            self._maybe_ack()
        elif subject == EOF and self.channel is not None:
            self._peer_eof = True
            self.channel.shutdown_write()
            self._maybe_finish()
        elif subject == OPENED:
            self._on_opened(message)

    def _on_opened(self, message: Message) -> None:
        pass

    def _on_fail(self, message: Message) -> None:
        pass

    def _on_late(self, message: Message) -> None:
        """A message that arrived after this end finished."""

    def _maybe_ack(self, drained: bool = False) -> None:
        if self.channel is None or self._received == self._ack_sent or self._peer_eof:
            return  # after its EOF the other end sends no more bytes and needs no credit
        unacked = self._received - self._ack_sent
        if (drained or unacked >= ACK_STEP) and self.channel.buffered < LOW_WATER:
            self._ack_sent = self._received
            self._send(ACK, properties={"n": self._received})

    # -- ending ---------------------------------------------------------------------------------

    def _maybe_finish(self) -> None:
        if self._read_done and self._peer_eof and self.channel is not None and self.channel.write_done:
            self.finish()

    def finish(self, *, abort: bool = False, failed: bool = False) -> None:
        """Close the socket (a reset with ``abort``) and forget the stream."""
        if self.finished:
            return
        self.finished = True
        if self.channel is not None:
            self.channel.close(abort=abort)
        if self._counted:
            self.counters.closed += 1
        self.plane.end_finished(self, failed=failed)

    def describe(self, kind: str, sock: socket.socket) -> None:
        """Name the connected ``sock`` for the end's ``connection`` record."""
        from .connections import next_connection_id

        self.kind = kind
        try:
            host, port = sock.getpeername()[:2]
        except OSError:
            return
        self.record_id = next_connection_id()
        self.record_host = "%s:%s" % (host, port)

    def count_open(self) -> None:
        self._counted = True
        self.counters.opened += 1

    def check(self, now: float) -> None:
        """Periodic liveness check: the other end's router must stay reachable."""
        if self.finished:
            return
        if self.peer is not None and not self.plane.has_route(self.peer):
            self.finish(abort=True)
        elif self._gap_since is not None and now - self._gap_since > GAP_TIMEOUT:
            self._send(RESET)
            self.finish(abort=True)


class ClientEnd(StreamEnd):
    """The end on the listener's router: it asks the network for a target once the client's
    connection (and TLS handshake) is ready, and reads from the client only once it is open."""

    side = "c"

    def __init__(self, plane: "DataPlane", stream_id: str, counters: Counters,
                 open_stream: Callable[["ClientEnd"], None]) -> None:
        super().__init__(plane, stream_id, counters)
        self._open_stream = open_stream
        self._early: list[bytes] = []
        self._early_eof = False
        # where this router sent the open request (None: a local target or still choosing)
        self.open_target: str | None = None

    def on_channel_ready(self) -> None:
        self._open_stream(self)

    def on_channel_data(self, data: bytes) -> None:
        if self.peer is None:  # the target is not known yet: hold the bytes, stop reading
            self.counters.read += len(data)
            self._early.append(data)
            if self.channel is not None:
                self.channel.pause()
            return
        super().on_channel_data(data)

    def on_channel_eof(self) -> None:
        if self.peer is None:
            self._early_eof = True
            self._read_done = True
            return
        super().on_channel_eof()

    def _on_opened(self, message: Message) -> None:
        self.peer = (message.properties or {}).get("peer")
        self.deciders = list((message.body or {}).get("deciders") or [])
        early, self._early = self._early, []
        for chunk in early:
            self._send_data(chunk)
        if self._early_eof:
            self._send(EOF, ordered=True)
            self._maybe_finish()
        elif self.channel is not None and not self._window_full and not self.finished:
            self.channel.resume()

    def _on_fail(self, message: Message) -> None:
        body = message.body or {}
        self.deciders = list(body.get("deciders") or [])
        self.plane.log_debug("[%s] no target: %s" % (self.stream_id, body.get("reason")))
        self.finish(failed=True)

    def _on_late(self, message: Message) -> None:
        # The client left while its target was being chosen or connected: reset a server end
        # that connected after all, and let the routers that chose it count the stream closed.
        deciders = list((message.body or {}).get("deciders") or []) if isinstance(message.body, dict) else []
        if message.subject == OPENED:
            peer = (message.properties or {}).get("peer")
            if peer:
                self.plane.send(peer, Message(address=peer, subject=RESET))
            self.plane.notify_deciders(self.stream_id, deciders, failed=False)
        elif message.subject == FAIL:
            self.plane.notify_deciders(self.stream_id, deciders, failed=True)

    def check(self, now: float) -> None:
        if self.peer is None and not self.finished:
            lost = self.open_target is not None and not self.plane.has_route(self.open_target)
            if lost or now - self.created > OPEN_TIMEOUT:
                self.finish(failed=True)
                return
        super().check(now)


class ServerEnd(StreamEnd):
    """The end on the connector's router: dials the target from a thread (resolving the host
    name there, blocking, as the real router does) and reports ``opened`` or ``fail``."""

    side = "s"

    def __init__(self, plane: "DataPlane", stream_id: str, counters: Counters, *, peer: str,
                 deciders: list[str]) -> None:
        super().__init__(plane, stream_id, counters)
        self.peer = peer
        self.deciders = deciders

    def connect(self, host: str, port: int, tls_context: ssl.SSLContext | None) -> None:
        """Dial ``host:port`` in a thread; continue on the reactor thread when done."""

        def dial() -> None:
            try:
                sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                reason = "Connection to %s:%s failed: %s" % (host, port, exc.strerror or exc)
                self.plane.wakeup.call(lambda: self.fail(reason))
                return
            self.plane.wakeup.call(lambda: self._connected(sock, host, tls_context))

        threading.Thread(target=dial, name="tcp-connect-%s" % self.stream_id, daemon=True).start()

    def fail(self, reason: str) -> None:
        """The target cannot be reached: tell the client end (which closes its client)."""
        self.plane.log_error(reason)
        self._send(FAIL, body={"deciders": self.deciders, "reason": reason})
        self.finish(failed=True)

    def _connected(self, sock: socket.socket, host: str, tls_context: ssl.SSLContext | None) -> None:
        if self.finished:
            sock.close()
            return
        self.count_open()
        self.describe(self.kind, sock)
        self.channel = SocketChannel(self.plane.container, sock, self, tls_context=tls_context,
                                     server_hostname=host if tls_context else None)
        self.channel.start()

    def on_channel_ready(self) -> None:
        self._send(OPENED, properties={"peer": self.address}, body={"deciders": self.deciders},
                   ordered=True)

    def on_channel_error(self, reason: str) -> None:
        if self._out_seq == 0:  # failed before it opened (e.g. the TLS handshake)
            self.fail("Connection to target failed: %s" % reason)
            return
        super().on_channel_error(reason)
