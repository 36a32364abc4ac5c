"""A blocking AMQP 1.0 client connection in the standard library (OASIS AMQP 1.0 part 2, 5).

What a request/reply client needs and no more: TCP or TLS, SASL ``EXTERNAL`` or
``ANONYMOUS``, one session, sender links (to an address or anonymous) and receiver links
(to an address or dynamic), unsettled sends that wait for their outcome, and messages with
``to``, ``reply_to``, ``correlation_id``, application properties and an ``amqp-value``
body. Messages of any size go out in frames the peer accepts and come back together.
Every wait takes a deadline (``time.monotonic()`` seconds); nothing runs in the background,
so heartbeats are sent while waiting and a connection left idle longer than the peer's
idle time-out reports itself :attr:`Connection.stale`.
"""
from __future__ import annotations

import itertools
import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from skupper_podman._util import openssl_reason
from skupper_podman.router.amqp_codec import (
    CodecError,
    Described,
    Symbol,
    Uint,
    Ulong,
    decode_at,
    encode,
)

AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_HEADER = b"AMQP\x03\x01\x00\x00"

# performatives (part 2.7) and SASL frames (part 5.3)
OPEN, BEGIN, ATTACH, FLOW, TRANSFER, DISPOSITION, DETACH, END, CLOSE = range(0x10, 0x19)
SASL_MECHANISMS, SASL_INIT, SASL_CHALLENGE, SASL_RESPONSE, SASL_OUTCOME = range(0x40, 0x45)
ERROR, SOURCE, TARGET = 0x1D, 0x28, 0x29
RECEIVED, ACCEPTED, REJECTED, RELEASED, MODIFIED = range(0x23, 0x28)
PROPERTIES, APPLICATION_PROPERTIES, AMQP_VALUE = 0x73, 0x74, 0x77

OUTCOMES = {ACCEPTED: "accepted", REJECTED: "rejected", RELEASED: "released", MODIFIED: "modified"}
_SECTION_NAMES = {"amqp:properties:list": PROPERTIES,
                  "amqp:application-properties:map": APPLICATION_PROPERTIES,
                  "amqp:amqp-value:*": AMQP_VALUE}
_WINDOW = Uint(0x7FFFFFFF)
_FRAME = struct.Struct(">IBBH")
_FRAME_OVERHEAD = 128  # frame header plus a transfer performative, rounded up
_READ_SIZE = 65536


class AmqpError(Exception):
    """Base of this module's errors; the message is one line for users."""


class ConnectionFailed(AmqpError):
    """The transport, TLS, SASL or the peer closed or broke the connection."""


class TimedOut(AmqpError):
    """A deadline passed before the awaited frame arrived."""


class LinkRefused(AmqpError):
    """The peer detached a link, or did not attach it, with this reason."""


class DeliveryRefused(AmqpError):
    """The peer settled a sent message with an outcome other than accepted."""

    def __init__(self, outcome: str) -> None:
        super().__init__(f"message {outcome}")
        self.outcome = outcome


@dataclass
class Message:
    """An AMQP message as a management client uses it."""

    body: Any = None
    properties: dict[str, Any] = field(default_factory=dict)  # application properties
    to: str | None = None
    reply_to: str | None = None
    correlation_id: Any = None

    def encode(self) -> bytes:
        """The bare message: properties, application-properties and amqp-value sections."""
        fields = [None, None, self.to, None, self.reply_to, self.correlation_id]
        while fields and fields[-1] is None:
            fields.pop()
        out = b""
        if fields:
            out += encode(Described(Ulong(PROPERTIES), fields))
        if self.properties:
            out += encode(Described(Ulong(APPLICATION_PROPERTIES), self.properties))
        return out + encode(Described(Ulong(AMQP_VALUE), self.body))

    @classmethod
    def decode(cls, data: bytes) -> Message:
        """A message from its sections; sections a management client ignores are skipped."""
        message = cls()
        offset = 0
        while offset < len(data):
            section, offset = decode_at(data, offset)
            if not isinstance(section, Described):
                raise CodecError("message section without a descriptor")
            code = _SECTION_NAMES.get(section.descriptor, section.descriptor)
            if code == PROPERTIES:
                values = list(section.value or []) + [None] * 6
                message.to, message.reply_to, message.correlation_id = (
                    values[2], values[4], values[5])
            elif code == APPLICATION_PROPERTIES:
                message.properties = dict(section.value or {})
            elif code == AMQP_VALUE:
                message.body = section.value
        return message


@dataclass
class Link:
    """One link of the connection's session, as this end sees it."""

    name: str
    handle: Uint
    receiver: bool
    attached: bool = False
    address: str | None = None        # receivers: the source address (dynamic: the peer's)
    delivery_count: int = 0
    credit: int = 0
    detached: str | None = None       # why the peer detached, once it has
    inbox: deque[Message] = field(default_factory=deque)
    window: int = 0                   # receivers: the credit kept open


@dataclass
class _Incoming:
    link: Link
    delivery_id: int
    settled: bool
    payload: bytearray


class Connection:
    """One AMQP connection with one session; not thread-safe.

    ``tls`` (a client ``SSLContext``) selects TLS, with ``server_name`` checked in the
    peer's certificate, and SASL EXTERNAL; without it SASL ANONYMOUS is used.
    """

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 server_name: str | None = None, container_id: str) -> None:
        self.host, self.port = host, port
        self.tls, self.server_name = tls, server_name or host
        self.container_id = container_id
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self._handles = itertools.count()
        self._links: dict[int, Link] = {}          # by our handle
        self._remote: dict[int, Link] = {}         # by the peer's handle
        self._next_delivery = 0
        self._next_outgoing = 0
        self._next_incoming = 0
        self._incoming: _Incoming | None = None
        self._outcomes: dict[int, str] = {}
        self._peer_max_frame = 512
        self._peer_idle = 0.0
        self._last_sent = 0.0
        self._opened = self._begun = False
        self.closed: str | None = None              # why the connection ended, once it has

    # -- lifecycle -----------------------------------------------------------------------

    def open(self, deadline: float) -> None:
        """Connect, authenticate and open the connection and its session."""
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=_left(deadline))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                self._sock = self.tls.wrap_socket(self._sock, server_hostname=self.server_name)
            self._sasl(deadline)
            self._send_raw(AMQP_HEADER + _frame(Described(Ulong(OPEN), [
                self.container_id, self.server_name])) + _frame(Described(Ulong(BEGIN), [
                    None, Uint(0), _WINDOW, _WINDOW])))
            self._expect_header(AMQP_HEADER, deadline, "AMQP")
            self._wait(lambda: self._opened and self._begun, deadline)
        except TimeoutError:
            self.abort()
            raise TimedOut("timed out") from None
        except OSError as exc:
            self.abort()
            raise ConnectionFailed(_os_reason(exc)) from None
        except (CodecError, TypeError, ValueError) as exc:
            self.abort()
            raise ConnectionFailed(f"malformed frame from the peer: {exc}") from None
        except BaseException:
            self.abort()
            raise

    def close(self, deadline: float) -> None:
        """Close politely (waits for the peer's close until ``deadline``); never raises."""
        if self._sock is None:
            return
        try:
            if self.closed is None:
                self._send(CLOSE, [])
                self._wait(lambda: self.closed is not None, deadline)
        except AmqpError:
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the socket at once."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def stale(self) -> bool:
        """True when the peer may have dropped us for idling (its idle time-out passed)."""
        return bool(self._peer_idle) and time.monotonic() - self._last_sent > self._peer_idle * 0.75

    # -- links ---------------------------------------------------------------------------

    def open_receiver(self, address: str | None, deadline: float, *, dynamic: bool = False,
                      credit: int = 10) -> Link:
        """Attach a receiver (``dynamic``: on an address the peer makes) and grant ``credit``."""
        source = [address, None, None, None, True] if dynamic else [address]
        link = self._attach(True, Described(Ulong(SOURCE), source),
                            Described(Ulong(TARGET), []), deadline)
        link.window = link.credit = credit
        self._flow(link)
        return link

    def open_sender(self, address: str | None, deadline: float) -> Link:
        """Attach a sender to ``address``; ``None`` makes an anonymous sender (``to`` routes)."""
        return self._attach(False, Described(Ulong(SOURCE), []),
                            Described(Ulong(TARGET), [address]), deadline)

    def send(self, link: Link, message: Message, deadline: float) -> None:
        """Send ``message`` unsettled and wait for its outcome; raises DeliveryRefused unless
        the peer accepts it."""
        self._wait(lambda: link.credit > 0 or link.detached is not None, deadline)
        self._check_link(link)
        delivery_id = self._next_delivery
        self._next_delivery += 1
        link.credit -= 1
        link.delivery_count += 1
        payload = message.encode()
        chunk = max(self._peer_max_frame - _FRAME_OVERHEAD, 256)
        frames = []
        for start in range(0, max(len(payload), 1), chunk):
            more = start + chunk < len(payload)
            fields = [link.handle, Uint(delivery_id), struct.pack(">Q", delivery_id), Uint(0),
                      False, more] if start == 0 else [link.handle, None, None, None, None, more]
            frames.append(_frame(Described(Ulong(TRANSFER), fields), payload[start:start + chunk]))
            self._next_outgoing += 1
        self._send_raw(b"".join(frames))
        self._wait(lambda: delivery_id in self._outcomes or link.detached is not None, deadline)
        outcome = self._outcomes.pop(delivery_id, None)
        if outcome is None:
            self._check_link(link)
        if outcome != "accepted":
            raise DeliveryRefused(outcome or "unsettled")

    def receive(self, link: Link, deadline: float) -> Message:
        """The next message on receiver ``link``."""
        self._wait(lambda: bool(link.inbox) or link.detached is not None, deadline)
        if not link.inbox:
            self._check_link(link)
        return link.inbox.popleft()

    # -- internals: links ----------------------------------------------------------------

    def _attach(self, receiver: bool, source: Described, target: Described,
                deadline: float) -> Link:
        handle = Uint(next(self._handles))
        link = Link(name=f"{self.container_id}-{handle}", handle=handle, receiver=receiver)
        self._links[handle] = link
        fields: list[Any] = [link.name, handle, receiver, None, None, source, target]
        if not receiver:
            fields += [None, None, Uint(0)]
        self._send(ATTACH, fields)
        self._wait(lambda: link.attached or link.detached is not None, deadline)
        self._check_link(link)
        return link

    def _flow(self, link: Link) -> None:
        link.credit = link.window
        self._send(FLOW, [Uint(self._next_incoming), _WINDOW, Uint(self._next_outgoing), _WINDOW,
                          link.handle, Uint(link.delivery_count), Uint(link.credit)])

    def _check_link(self, link: Link) -> None:
        self._check_open()
        if link.detached is not None:
            raise LinkRefused(link.detached)

    def _check_open(self) -> None:
        if self.closed is not None:
            raise ConnectionFailed(self.closed)

    # -- internals: frames in ------------------------------------------------------------

    def _wait(self, done: Callable[[], bool], deadline: float) -> None:
        self._handle_frames()  # what arrived with the protocol header or an earlier read
        while not done():
            self._check_open()
            self._read(deadline)

    def _read(self, deadline: float) -> None:
        """Read once from the socket (heartbeating if due) and handle every whole frame."""
        wait = None
        if self._peer_idle:
            wait = self._last_sent + self._peer_idle / 2 - time.monotonic()
            if wait <= 0:
                self._send_raw(_FRAME.pack(8, 2, 0, 0))
                wait = self._peer_idle / 2
        self._recv(deadline, wait)
        self._handle_frames()

    def _take_frame(self) -> bytes | None:
        """The body of the next whole frame in the buffer (``b""`` for a heartbeat); None
        while it is still incomplete."""
        if len(self._buffer) < 8:
            return None
        size, doff, _, _ = _FRAME.unpack_from(self._buffer)
        if size < 8 or doff < 2 or doff * 4 > size:
            self._fail(f"malformed frame header (size {size}, doff {doff})")
        if len(self._buffer) < size:
            return None
        body = bytes(self._buffer[doff * 4:size])
        del self._buffer[:size]
        return body

    def _handle_frames(self) -> None:
        while (body := self._take_frame()) is not None:
            if not body:
                continue  # heartbeat
            try:
                performative, end = decode_at(body, 0)
                if not isinstance(performative, Described):
                    raise CodecError("frame body is not a performative")
                self._dispatch(int(performative.descriptor), list(performative.value or []),
                               body[end:])
            except (CodecError, TypeError, ValueError) as exc:
                self._fail(f"malformed frame from the peer: {exc}")

    def _dispatch(self, code: int, fields: list[Any], payload: bytes) -> None:
        fields += [None] * 12
        if code == OPEN:
            self._opened = True
            self._peer_max_frame = int(fields[2] if fields[2] is not None else 0xFFFFFFFF)
            self._peer_idle = (fields[4] or 0) / 1000
        elif code == BEGIN:
            self._begun = True
            self._next_incoming = int(fields[1] or 0)
        elif code == ATTACH:
            self._on_attach(fields)
        elif code == FLOW:
            link = self._remote.get(fields[4]) if fields[4] is not None else None
            if link is not None and not link.receiver and fields[6] is not None:
                link.credit = int(fields[5] or 0) + int(fields[6]) - link.delivery_count
        elif code == TRANSFER:
            self._on_transfer(fields, payload)
        elif code == DISPOSITION:
            self._on_disposition(fields)
        elif code == DETACH:
            link = self._remote.pop(fields[0], None)
            if link is not None:
                link.detached = _error_text(fields[2]) or "link detached by the peer"
        elif code in (END, CLOSE):
            self.closed = _error_text(fields[0]) or "connection closed by the peer"

    def _on_attach(self, fields: list[Any]) -> None:
        link = next((lk for lk in self._links.values() if lk.name == fields[0]), None)
        if link is None:
            return
        self._remote[fields[1]] = link
        # A refused attach carries no terminus; the detach that follows says why.
        terminus = fields[5] if link.receiver else fields[6]
        if terminus is None:
            return
        link.attached = True
        if link.receiver:
            link.delivery_count = int(fields[9] or 0)
            if isinstance(terminus, Described) and terminus.value:
                link.address = terminus.value[0]

    def _on_transfer(self, fields: list[Any], payload: bytes) -> None:
        self._next_incoming += 1
        link = self._remote.get(fields[0])
        if link is None:
            return
        if self._incoming is None:
            self._incoming = _Incoming(link, int(fields[1] or 0), bool(fields[4]), bytearray())
        incoming = self._incoming
        incoming.payload += payload
        incoming.settled = incoming.settled or bool(fields[4])
        if fields[5]:  # more frames follow
            return
        self._incoming = None
        if fields[9]:  # aborted
            return
        link.delivery_count += 1
        link.credit -= 1
        link.inbox.append(Message.decode(bytes(incoming.payload)))
        if not incoming.settled:
            self._send(DISPOSITION, [True, Uint(incoming.delivery_id), None, True,
                                     Described(Ulong(ACCEPTED), [])])
        if link.credit <= link.window // 2:
            self._flow(link)

    def _on_disposition(self, fields: list[Any]) -> None:
        if not fields[0]:  # role receiver: the peer settles what we sent
            return
        state = fields[4]
        outcome = OUTCOMES.get(int(state.descriptor)) if isinstance(state, Described) else None
        if outcome is None and not fields[3]:
            return  # not settled, no terminal state yet
        first = int(fields[1])
        last = int(fields[2]) if fields[2] is not None else first
        for delivery_id in range(first, last + 1):
            self._outcomes[delivery_id] = outcome or "settled without an outcome"

    # -- internals: bytes ----------------------------------------------------------------

    def _sasl(self, deadline: float) -> None:
        self._send_raw(SASL_HEADER)
        self._expect_header(SASL_HEADER, deadline, "SASL")
        mechanisms = self._sasl_frame(SASL_MECHANISMS, deadline)[0]
        offered = [mechanisms] if isinstance(mechanisms, str) else list(mechanisms or [])
        wanted = "EXTERNAL" if self.tls is not None else "ANONYMOUS"
        if wanted not in offered:
            raise ConnectionFailed(f"peer does not offer SASL {wanted} "
                                   f"(offers {', '.join(offered) or 'nothing'})")
        self._send_raw(_frame(Described(Ulong(SASL_INIT), [Symbol(wanted), b""]), kind=1))
        code = self._sasl_frame(SASL_OUTCOME, deadline)[0]
        if code != 0:
            raise ConnectionFailed(f"SASL {wanted} authentication failed (outcome {code})")

    def _sasl_frame(self, expected: int, deadline: float) -> list[Any]:
        while (frame := self._take_frame()) is None or not frame:  # none yet, or a heartbeat
            if frame is None:
                self._recv(deadline)
        performative, _ = decode_at(frame, 0)
        code = int(performative.descriptor) if isinstance(performative, Described) else -1
        if code != expected:
            raise ConnectionFailed(f"unexpected SASL frame 0x{code:02x}")
        return list(performative.value or []) + [None, None]

    def _expect_header(self, header: bytes, deadline: float, what: str) -> None:
        while len(self._buffer) < 8:
            self._recv(deadline)
        got = bytes(self._buffer[:8])
        del self._buffer[:8]
        if got != header:
            raise ConnectionFailed(f"peer refused the {what} protocol header (sent {got!r})")

    def _recv(self, deadline: float, wait: float | None = None) -> None:
        """Add what the socket brings within ``wait`` seconds (default: until ``deadline``) to the
        buffer; raises TimedOut once ``deadline`` has passed with nothing read."""
        if self._sock is None:
            raise ConnectionFailed(self.closed or "not connected")
        left = _left(deadline)
        self._sock.settimeout(max(min(left, left if wait is None else wait), 0.001))
        try:
            data = self._sock.recv(_READ_SIZE)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise TimedOut("timed out") from None
            return
        except OSError as exc:
            self._fail(_os_reason(exc))
        if not data:
            self._fail("connection closed by the peer")
        self._buffer += data

    def _send(self, code: int, fields: list[Any]) -> None:
        self._send_raw(_frame(Described(Ulong(code), fields)))

    def _send_raw(self, data: bytes) -> None:
        if self._sock is None:
            raise ConnectionFailed(self.closed or "not connected")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self._fail(_os_reason(exc))
        self._last_sent = time.monotonic()

    def _fail(self, reason: str) -> NoReturn:
        self.closed = self.closed or reason
        self.abort()
        raise ConnectionFailed(reason)


def _frame(performative: Described, payload: bytes = b"", *, kind: int = 0) -> bytes:
    body = encode(performative) + payload
    return _FRAME.pack(8 + len(body), 2, kind, 0) + body


def _error_text(error: Any) -> str | None:
    """``description (condition)`` of an AMQP error, or ``None`` when there is none."""
    if not isinstance(error, Described) or not error.value:
        return None
    condition, description = (list(error.value) + [None, None])[:2]
    if description and condition:
        return f"{description} ({condition})"
    return str(description or condition)


def _os_reason(exc: OSError) -> str:
    """``Connection refused``; ``SSL failure: certificate verify failed: ...`` for TLS."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"SSL failure: certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"SSL failure: {openssl_reason(exc)}"
    return exc.strerror or str(exc) or type(exc).__name__


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimedOut("timed out")
    return left


__all__ = ["AmqpError", "Connection", "ConnectionFailed", "DeliveryRefused", "Link",
           "LinkRefused", "Message", "TimedOut"]
