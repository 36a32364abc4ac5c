"""Requests to the Podman libpod API with the standard library.

Reads (``_ping``, inspect and list) and the simple changes (volumes, starting and removing
containers) are most of what the CLI does, and making them without importing podman-py (with
requests, urllib3 and rich: ~100 ms) keeps the commands fast. Creating containers and
networks and pulling images go through podman-py (see ``adapter``).
It speaks to the endpoints ``endpoint.normalize`` produces: ``unix://``, ``http://``, ``https://``.
"""
from __future__ import annotations

import json
import socket
import threading
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlparse

API_PREFIX = "/v4.0.0/libpod"  # the oldest API we accept; Podman 4.x answers it unchanged
_LINE = 65536  # longest status or header line we read


class ApiError(Exception):
    """A request failed: ``status`` is the HTTP status, 0 when the transport failed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Stale(Exception):
    """The service closed a kept-alive connection before answering: retry on a new one."""


class _Connection:
    """One kept-alive HTTP/1.1 connection (JSON requests; Content-Length or chunked answers).

    A few dozen lines instead of ``http.client``, which brings ``ssl`` and ``email`` along:
    ~15 ms of every read-only command's start.
    """

    def __init__(self, url: str, timeout: float) -> None:
        parsed = urlparse(url)
        self.url, self.timeout = url, timeout
        self.scheme, self.host, self.port = parsed.scheme, parsed.hostname or "localhost", parsed.port
        self.sock: socket.socket | None = None
        self.reader: BinaryIO | None = None

    def _open(self) -> None:
        if self.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.url[len("unix://"):])
            except OSError:
                sock.close()
                raise
        else:
            default = 443 if self.scheme == "https" else 80
            sock = socket.create_connection((self.host, self.port or default), timeout=self.timeout)
            if self.scheme == "https":
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock, self.reader = sock, sock.makefile("rb")

    def send(self, method: str, target: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send ``method target`` (with a JSON ``body``) and read the whole answer."""
        fresh = self.sock is None
        if fresh:
            self._open()
        assert self.sock is not None and self.reader is not None
        host = "d" if self.scheme == "unix" else self.host
        try:
            head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self.sock.sendall(head.encode() + b"\r\n" + (body or b""))
            status_line = self.reader.readline(_LINE)
        except (BrokenPipeError, ConnectionResetError) as err:
            raise (ConnectionError(str(err)) if fresh else _Stale(str(err))) from err
        if not status_line:
            raise ConnectionError("the service closed the connection") if fresh else _Stale("closed")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
        status, headers = int(parts[1]), self._headers()
        body = b"" if status in (204, 304) or status < 200 else self._body(headers)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def _headers(self) -> dict[str, str]:
        assert self.reader is not None
        headers: dict[str, str] = {}
        while (line := self.reader.readline(_LINE)) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return headers

    def _body(self, headers: dict[str, str]) -> bytes:
        assert self.reader is not None
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while size := int(self.reader.readline(_LINE).split(b";")[0].strip() or b"0", 16):
                chunks.append(self._exactly(size))
                self._exactly(2)  # the chunk's CRLF
            while self.reader.readline(_LINE) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        if "content-length" in headers:
            return self._exactly(int(headers["content-length"]))
        data = self.reader.read()  # neither: the body ends with the connection
        self.close()
        return data

    def _exactly(self, size: int) -> bytes:
        assert self.reader is not None
        data = self.reader.read(size)
        if len(data) != size:
            raise ConnectionError("the answer was cut short")
        return data

    def close(self) -> None:
        for part in (self.reader, self.sock):
            if part is not None:
                part.close()
        self.sock = self.reader = None


class ApiClient:
    """JSON requests to the libpod API, over one kept-alive connection per thread."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> _Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _Connection(self.url, self.timeout)
        return conn

    def request(self, path: str, params: dict[str, Any] | None = None, prefix: str = API_PREFIX,
                method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], bytes]:
        """``method prefix+path?params`` with ``body`` as JSON: (status, headers, body);
        retried once when the service had closed the kept-alive connection (before reading it)."""
        target = prefix + path + ("?" + urlencode(params) if params else "")
        data = None if body is None else json.dumps(body).encode()
        try:
            return self._send(method, target, data)
        except _Stale:  # the service closed the kept-alive connection: once more on a new one
            return self._send(method, target, data)

    def _send(self, method: str, target: str, data: bytes | None) -> tuple[int, dict[str, str], bytes]:
        conn = self._connection()
        try:
            return conn.send(method, target, data)
        except _Stale:
            conn.close()
            raise
        except (OSError, ValueError) as err:
            conn.close()
            raise ApiError(0, str(err) or type(err).__name__) from err
        except BaseException:  # e.g. a stop signal mid-request: the next request needs a fresh connection
            conn.close()
            raise

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON answer; None for 404; :class:`ApiError` for other failures."""
        return self.call("GET", path, params)

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """The decoded JSON answer (None when empty or 404); :class:`ApiError` for other failures."""
        status, _headers, answer = self.request(path, params, method=method, body=body)
        if status == 404:
            return None
        if status >= 400:
            raise ApiError(status, _message(answer) or f"HTTP {status}")
        try:
            return json.loads(answer) if answer.strip() else None
        except ValueError as err:
            raise ApiError(status, f"not JSON: {err}") from err

    def inspect(self, kind: str, name: str) -> Any:
        """``GET /<kind>/<name>/json`` (kind: containers, volumes, networks, images) or None."""
        return self.get_json(f"/{kind}/{quote(name, safe='')}/json")

    def list(self, kind: str, filters: dict[str, list[str]], **params: Any) -> list[Any]:
        """``GET /<kind>/json`` with Podman's JSON ``filters``."""
        found = self.get_json(f"/{kind}/json", {**params, "filters": json.dumps(filters)})
        return list(found or [])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:300]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("cause") or "")
    return ""
