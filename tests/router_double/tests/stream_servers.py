"""Small threaded TCP servers on 127.0.0.1 for the data-plane tests (targets of tcpConnectors)."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from typing import Callable

Handler = Callable[[socket.socket], None]


class StreamServer:
    """Accepts connections on a free port and runs ``handler(sock)`` for each in a thread."""

    def __init__(self, handler: Handler, *, tls_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._tls = tls_context
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            self._handler(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._sock.close()


def echo(conn: socket.socket) -> None:
    """Echo everything back; close after the client's EOF."""
    while data := conn.recv(65536):
        conn.sendall(data)


def greeting_echo(name: bytes) -> Handler:
    """Send ``name`` and a newline first, then echo."""

    def handle(conn: socket.socket) -> None:
        conn.sendall(name + b"\n")
        echo(conn)

    return handle


def count_after_eof(conn: socket.socket) -> None:
    """Read until the client half-closes, then answer with the byte count and close."""
    total = 0
    while data := conn.recv(65536):
        total += len(data)
    conn.sendall(b"received %d bytes" % total)


def reset_after_first_read(conn: socket.socket) -> None:
    """Read once, then close with a TCP reset."""
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def closed_without_data(sock: socket.socket, timeout: float = 10) -> bool:
    """True when the peer closes ``sock`` before sending anything: by FIN, or by RST, which a
    close with our unread bytes still queued turns into (both mean the connection was refused)."""
    try:
        return read_all(sock, timeout) == b""
    except ConnectionResetError:
        return True


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything ``sock`` receives until EOF."""
    sock.settimeout(timeout)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)
