"""The standard-library AMQP connection against scripted peers that misbehave on purpose.

The well-behaved cases (proton as the peer, mutual TLS, SASL EXTERNAL, paging, remote agents)
are in test_management.py; the real router's are in the e2e and conformance tests.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from skupper_podman.router.amqp_codec import Described, Symbol, Ubyte, Uint, Ulong, decode_at, encode
from skupper_podman.router.amqp_connection import (
    AMQP_HEADER,
    SASL_HEADER,
    Connection,
    ConnectionFailed,
    DeliveryRefused,
    Message,
    TimedOut,
)

pytestmark = pytest.mark.timeout(30)


def frame(code: int, fields: list, payload: bytes = b"", kind: int = 0) -> bytes:
    body = encode(Described(Ulong(code), fields)) + payload
    return struct.pack(">IBBH", 8 + len(body), 2, kind, 0) + body


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, Described | None, bytes]:
    """(frame size, performative or None for a heartbeat, payload)."""
    size, doff, _, _ = struct.unpack(">IBBH", recv_exactly(sock, 8))
    body = recv_exactly(sock, size - 8)[doff * 4 - 8:]
    if not body:
        return size, None, b""
    performative, end = decode_at(body, 0)
    return size, performative, body[end:]


def handshake(sock: socket.socket, *, max_frame: int | None = None, idle_ms: int | None = None) -> None:
    """Server side of SASL ANONYMOUS, open and begin."""
    assert recv_exactly(sock, 8) == SASL_HEADER
    sock.sendall(SASL_HEADER + frame(0x40, [[Symbol("ANONYMOUS")]], kind=1))
    _, init, _ = read_frame(sock)
    assert init.value[0] == "ANONYMOUS"
    sock.sendall(frame(0x44, [Ubyte(0)], kind=1))
    assert recv_exactly(sock, 8) == AMQP_HEADER
    sock.sendall(AMQP_HEADER)
    _, opened, _ = read_frame(sock)
    assert opened.descriptor == 0x10
    sock.sendall(frame(0x10, ["peer", None, None if max_frame is None else Uint(max_frame), None,
                              None if idle_ms is None else Uint(idle_ms)]))
    _, begun, _ = read_frame(sock)
    assert begun.descriptor == 0x11
    sock.sendall(frame(0x11, [0, Uint(0), Uint(1000), Uint(1000)]))


class ScriptedPeer:
    """A one-connection TCP server running ``script(sock)`` in a thread."""

    def __init__(self, script: Callable[[socket.socket], object]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.result: object = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script: Callable[[socket.socket], object]) -> None:
        conn, _ = self.listener.accept()
        with conn:
            try:
                self.result = script(conn)
            except BaseException as exc:  # noqa: BLE001 - reported by finish()
                self.error = exc

    def connection(self) -> Connection:
        return Connection("127.0.0.1", self.port, container_id="test-client")

    def finish(self) -> object:
        self.thread.join(10)
        self.listener.close()
        if self.error is not None:
            raise self.error
        return self.result


def soon(seconds: float = 3.0) -> float:
    return time.monotonic() + seconds


def _linger(sock: socket.socket) -> None:
    """Read and ignore until the client hangs up."""
    try:
        while sock.recv(1024):
            pass
    except OSError:
        pass


MALFORMED = [
    b"\x00\x00\x00\x0c\x02\x01\x00\x00\xff\xff\xff\xff",     # no AMQP value
    b"\x00\x00\x00\x0d\x02\x01\x00\x00\x00\x53\x40\x54\x05",  # fields as a number
    b"\x00\x00\x00\x0b\x02\x01\x00\x00\x00\xa3\x00",         # symbol descriptor, no value
    b"\x00\x00\x00\x00\x02\x01\x00\x00",                     # a frame of size 0
]


@pytest.mark.parametrize("answers, message", [
    ([AMQP_HEADER], "peer refused the SASL protocol header"),
    ([SASL_HEADER + frame(0x40, [[Symbol("PLAIN"), Symbol("SCRAM-SHA-256")]], kind=1)],
     r"does not offer SASL ANONYMOUS \(offers PLAIN, SCRAM"),
    ([SASL_HEADER + frame(0x40, [Symbol("ANONYMOUS")], kind=1), frame(0x44, [Ubyte(1)], kind=1)],
     r"SASL ANONYMOUS authentication failed \(outcome 1\)"),
    *(([SASL_HEADER + garbage], "malformed frame") for garbage in MALFORMED),
])
def test_a_failed_opening_is_a_connection_failure(answers, message):
    """The peer answers the SASL header (and then each frame of ours) with ``answers``."""
    def script(sock):
        recv_exactly(sock, 8)
        for index, answer in enumerate(answers):
            if index:
                read_frame(sock)
            sock.sendall(answer)
        _linger(sock)
    peer = ScriptedPeer(script)
    with pytest.raises(ConnectionFailed, match=message):
        peer.connection().open(soon())
    peer.finish()


def test_silent_peer_times_out():
    def script(sock):
        _linger(sock)
    peer = ScriptedPeer(script)
    started = time.monotonic()
    with pytest.raises(TimedOut):
        peer.connection().open(time.monotonic() + 0.5)
    assert time.monotonic() - started < 2
    peer.finish()


def test_peer_close_with_an_error_names_it():
    def script(sock):
        handshake(sock)
        read_frame(sock)  # attach
        sock.sendall(frame(0x18, [Described(Ulong(0x1D), [Symbol("amqp:resource-limit-exceeded"),
                                                           "too many links"])]))
        _linger(sock)
    peer = ScriptedPeer(script)
    connection = peer.connection()
    connection.open(soon())
    with pytest.raises(ConnectionFailed, match=r"too many links \(amqp:resource-limit-exceeded\)"):
        connection.open_sender("$management", soon())
    connection.abort()
    peer.finish()


def test_dropped_connection_is_a_connection_failure():
    def script(sock):
        handshake(sock)
        read_frame(sock)  # attach, then hang up
    peer = ScriptedPeer(script)
    connection = peer.connection()
    connection.open(soon())
    with pytest.raises(ConnectionFailed, match="connection closed by the peer"):
        connection.open_sender("$management", soon())
    peer.finish()


def _attach_sender_and_credit(sock) -> Described:
    _, attach, _ = read_frame(sock)
    name, handle = attach.value[0], attach.value[1]
    sock.sendall(frame(0x12, [name, Uint(7), True, None, None, attach.value[5], attach.value[6]]))
    sock.sendall(frame(0x13, [Uint(0), Uint(1000), Uint(0), Uint(1000), Uint(7), Uint(0), Uint(10)]))
    return handle


def test_large_messages_go_out_in_frames_the_peer_accepts():
    message = Message(body={"blob": "x" * 5000}, properties={"operation": "CREATE"})

    def script(sock):
        handshake(sock, max_frame=512)
        _attach_sender_and_credit(sock)
        sizes, payload, more = [], b"", True
        while more:
            size, transfer, chunk = read_frame(sock)
            assert transfer.descriptor == 0x14
            sizes.append(size)
            payload += chunk
            more = bool((list(transfer.value) + [None] * 6)[5])
        sock.sendall(frame(0x15, [True, Uint(0), None, True, Described(Ulong(0x24), [])]))
        _linger(sock)
        return sizes, payload
    peer = ScriptedPeer(script)
    connection = peer.connection()
    connection.open(soon())
    connection.send(connection.open_sender("$management", soon()), message, soon())
    connection.abort()
    sizes, payload = peer.finish()
    assert len(sizes) > 10 and max(sizes) <= 512
    assert Message.decode(payload) == message


@pytest.mark.parametrize("outcome, name", [(0x25, "rejected"), (0x26, "released"), (0x27, "modified")])
def test_outcomes_other_than_accepted_are_refusals(outcome, name):
    def script(sock):
        handshake(sock)
        _attach_sender_and_credit(sock)
        read_frame(sock)
        sock.sendall(frame(0x15, [True, Uint(0), None, True, Described(Ulong(outcome), [])]))
        _linger(sock)
    peer = ScriptedPeer(script)
    connection = peer.connection()
    connection.open(soon())
    with pytest.raises(DeliveryRefused) as refused:
        connection.send(connection.open_sender("$management", soon()), Message(body=None), soon())
    assert refused.value.outcome == name
    connection.abort()
    peer.finish()


def test_heartbeats_keep_an_idle_connection_alive_and_idling_makes_it_stale():
    def script(sock):
        handshake(sock, idle_ms=1000)
        read_frame(sock)  # attach of the receiver
        sock.sendall(frame(0x12, ["test-client-0", Uint(3), False, None, None,
                                  Described(Ulong(0x28), ["reply-here"]), Described(Ulong(0x29), []),
                                  None, None, Uint(0)]))
        beats = 0
        sock.settimeout(5)
        try:
            while True:
                _, performative, _ = read_frame(sock)
                beats += performative is None
        except (EOFError, OSError):
            return beats
    peer = ScriptedPeer(script)
    connection = peer.connection()
    connection.open(soon())
    receiver = connection.open_receiver("reply-here", soon())
    assert receiver.address == "reply-here"
    with pytest.raises(TimedOut):
        connection.receive(receiver, time.monotonic() + 2.2)
    assert not connection.stale  # a heartbeat went out at most ~0.5 s ago
    time.sleep(0.8)
    assert connection.stale      # nothing for longer than 3/4 of the peer's time-out
    connection.abort()
    assert peer.finish() >= 4
