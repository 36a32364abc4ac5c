"""A non-blocking TCP socket, optionally TLS, served by the router's proton reactor.

The reactor's ``select`` loop reports the socket readable/writable to the channel, which
reads (up to ``CHUNK`` bytes at a time), writes what it can and buffers the rest, and tells
its handler what happened. TLS runs through ``ssl.SSLObject`` over memory BIOs, so the
socket stays non-blocking and everything happens on the reactor thread.
"""

from __future__ import annotations

import socket
import ssl
import struct
import traceback
from typing import Any, Protocol

CHUNK = 256 * 1024


class ChannelHandler(Protocol):
    """What a channel reports (always on the reactor thread)."""

    def on_channel_ready(self) -> None:
        """The channel can carry data (at once for plain TCP, after the TLS handshake)."""

    def on_channel_data(self, data: bytes) -> None:
        """Bytes read from the peer."""

    def on_channel_eof(self) -> None:
        """The peer will send nothing more (FIN, or TLS close_notify)."""

    def on_channel_error(self, reason: str) -> None:
        """The connection failed (reset, TLS failure, …); the channel stopped reading."""

    def on_channel_drained(self) -> None:
        """Everything written so far has been handed to the kernel."""


class SocketChannel:
    """One connected socket driven by the reactor; see the module docstring."""

    def __init__(self, container: Any, sock: socket.socket, handler: ChannelHandler, *,
                 tls_context: ssl.SSLContext | None = None, server_side: bool = False,
                 server_hostname: str | None = None) -> None:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.handler = handler
        self.closed = False
        self._sock = sock
        self._out = _SendBuffer()
        self._read_done = False
        self._shutdown_requested = False
        self._write_done = False
        self._tls: ssl.SSLObject | None = None
        self._handshaken = tls_context is None
        self._early: list[bytes] = []  # plaintext written before the TLS handshake finished
        if tls_context is not None:
            self._in_bio, self._out_bio = ssl.MemoryBIO(), ssl.MemoryBIO()
            self._tls = tls_context.wrap_bio(self._in_bio, self._out_bio, server_side=server_side,
                                             server_hostname=server_hostname)
        self._selectable = container.selectable(handler=self, delegate=sock)
        self._selectable._transport = None  # tells proton's IOHandler to leave it alone
        self._selectable.reading = False
        self._selectable.writing = False

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading (and the TLS handshake); reports ``on_channel_ready`` when usable."""
        self._set(reading=True)
        if self._tls is None:
            self.handler.on_channel_ready()
        elif not self._tls.server_side:
            self._advance_tls()

    @property
    def buffered(self) -> int:
        """Bytes accepted by ``write`` but not yet handed to the kernel."""
        return len(self._out) + sum(len(chunk) for chunk in self._early)

    @property
    def write_done(self) -> bool:
        """True once ``shutdown_write`` has completed (FIN sent)."""
        return self._write_done

    def pause(self) -> None:
        """Stop reading from the socket (flow control)."""
        self._set(reading=False)

    def resume(self) -> None:
        """Read again (unless the peer's input already ended)."""
        self._set(reading=not self._read_done)

    def write(self, data: bytes | memoryview) -> None:
        """Queue ``data`` for the peer and send what the kernel takes now."""
        if self.closed or self._shutdown_requested:
            return
        if not self._handshaken:
            self._early.append(bytes(data))
            return
        if self._tls is not None:
            try:
                self._tls.write(data)
            except ssl.SSLError as exc:
                self._fail("TLS error: %s" % exc)
                return
            self._out.append(self._out_bio.read())
        else:
            self._out.append(data)
        self._flush()

    def shutdown_write(self) -> None:
        """Send FIN (after TLS close_notify) once everything written has gone out."""
        if self.closed or self._shutdown_requested:
            return
        self._shutdown_requested = True
        if self._handshaken:
            self._finish_writing()

    def close(self, *, abort: bool = False) -> None:
        """Close the socket; ``abort`` makes it a reset (RST) instead of a FIN."""
        if self.closed:
            return
        self.closed = True
        if abort:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self._selectable.reading = self._selectable.writing = False
        self._selectable.terminate()
        self._selectable.update()  # proton's IOHandler closes the socket on the final event

    # -- reactor events -------------------------------------------------------------------------

    def on_selectable_readable(self, event: Any) -> None:
        try:
            self._readable()
        except Exception:  # a bug must cost this connection only, not the router
            self._fail("internal error: %s" % traceback.format_exc())

    def on_selectable_writable(self, event: Any) -> None:
        try:
            self._flush()
            if not self.closed and not self._out:
                self.handler.on_channel_drained()
        except Exception:
            self._fail("internal error: %s" % traceback.format_exc())

    # -- internals ------------------------------------------------------------------------------

    def _readable(self) -> None:
        if self.closed:
            return
        try:
            raw = self._sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(_describe(exc))
            return
        if self._tls is None:
            if raw:
                self.handler.on_channel_data(raw)
            else:
                self._end_of_input()
            return
        if raw:
            self._in_bio.write(raw)
        else:
            self._in_bio.write_eof()
        self._advance_tls()

    def _set(self, *, reading: bool | None = None, writing: bool | None = None) -> None:
        if self.closed:
            return
        selectable = self._selectable
        new_reading = selectable.reading if reading is None else reading
        new_writing = selectable.writing if writing is None else writing
        if (new_reading, new_writing) != (selectable.reading, selectable.writing):
            selectable.reading, selectable.writing = new_reading, new_writing
            selectable.update()

    def _flush(self) -> None:
        while self._out:
            try:
                self._out.send_to(self._sock)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._fail(_describe(exc))
                return
        if not self._out and self._shutdown_requested and not self._write_done:
            self._write_done = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self._set(writing=bool(self._out))

    def _advance_tls(self) -> None:
        tls = self._tls
        assert tls is not None
        if not self._handshaken:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                self._out.append(self._out_bio.read())
                self._flush()
                if self._in_bio.eof:
                    self._fail("TLS handshake failed: connection closed by peer")
                return
            except ssl.SSLError as exc:
                self._out.append(self._out_bio.read())  # the alert, if any
                self._flush()
                self._fail("TLS handshake failed: %s" % exc)
                return
            self._handshaken = True
            self._out.append(self._out_bio.read())
            early, self._early = self._early, []
            for chunk in early:
                self.write(chunk)
            self._flush()
            if self.closed:
                return
            self.handler.on_channel_ready()
            if self._shutdown_requested:
                self._finish_writing()
        self._read_tls()

    def _read_tls(self) -> None:
        tls = self._tls
        assert tls is not None
        chunks: list[bytes] = []
        eof = False
        while not self.closed:
            try:
                data = tls.read(CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                eof = True
                break
            except ssl.SSLError as exc:
                if self._in_bio.eof:  # a FIN without close_notify: treat it as the end
                    eof = True
                    break
                self._fail("TLS error: %s" % exc)
                return
            if not data:
                eof = True
                break
            chunks.append(data)
        if self._out_bio.pending:  # e.g. session tickets or a close_notify reply
            self._out.append(self._out_bio.read())
            self._flush()
        if chunks and not self.closed:
            self.handler.on_channel_data(b"".join(chunks))
        if eof and not self.closed:
            self._end_of_input()

    def _finish_writing(self) -> None:
        if self._tls is not None:
            try:
                self._tls.unwrap()  # queues our close_notify; the peer's comes later
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            self._out.append(self._out_bio.read())
        self._flush()

    def _end_of_input(self) -> None:
        self._read_done = True
        self._set(reading=False)
        self.handler.on_channel_eof()

    def _fail(self, reason: str) -> None:
        if self.closed:
            return
        self._read_done = True
        self._set(reading=False, writing=False)
        self.handler.on_channel_error(reason)


class _SendBuffer:
    """Bytes waiting for the socket, sent from an offset so that partial sends stay cheap."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._start = 0

    def __len__(self) -> int:
        return len(self._data) - self._start

    def append(self, data: bytes | bytearray | memoryview) -> None:
        self._data += data

    def send_to(self, sock: socket.socket) -> None:
        with memoryview(self._data) as view:
            self._start += sock.send(view[self._start:])
        if self._start == len(self._data):
            self._data.clear()
            self._start = 0
        elif self._start > CHUNK * 16:
            del self._data[:self._start]
            self._start = 0


def _describe(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__
