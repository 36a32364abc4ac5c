"""Read-only requests to the Podman libpod API with the standard library.

Reads (``_ping``, inspect and list) are most of what the CLI does, and answering them without
importing podman-py (with requests, urllib3 and rich: ~100 ms) keeps ``status``, ``version``
and the other read-only commands fast. Changes still go through podman-py (see ``adapter``).
It speaks to the endpoints ``endpoint.normalize`` produces: ``unix://``, ``http://``, ``https://``.
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import quote, urlencode, urlparse

API_PREFIX = "/v4.0.0/libpod"  # the oldest API we accept; Podman 4.x answers it unchanged
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class ApiError(Exception):
    """A request failed: ``status`` is the HTTP status, 0 when the transport failed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("d", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ApiReader:
    """GET requests with JSON answers, over one kept-alive connection per thread."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.url.startswith("unix://"):
                conn = _UnixConnection(self.url[len("unix://"):], self.timeout)
            else:
                parsed = urlparse(self.url)
                kind = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
                conn = kind(parsed.hostname or "localhost", parsed.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, path: str, params: dict[str, Any] | None = None,
                prefix: str = API_PREFIX) -> tuple[int, dict[str, str], bytes]:
        """``GET prefix+path?params``: (status, headers, body); retried once on a stale connection."""
        target = prefix + path + ("?" + urlencode(params) if params else "")
        try:
            return self._get(target)
        except STALE:  # the service closed the kept-alive connection: once more on a new one
            pass
        try:
            return self._get(target)
        except STALE as err:
            raise ApiError(0, str(err) or type(err).__name__) from err

    def _get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        conn = self._connection()
        try:
            conn.request("GET", target)
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        except STALE:
            self.close()
            raise
        except (OSError, http.client.HTTPException) as err:
            self.close()
            raise ApiError(0, str(err) or type(err).__name__) from err
        except BaseException:  # e.g. a stop signal mid-request: the next request needs a fresh connection
            self.close()
            raise

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON answer; None for 404; :class:`ApiError` for other failures."""
        status, _headers, body = self.request(path, params)
        if status == 404:
            return None
        if status >= 400:
            raise ApiError(status, _message(body) or f"HTTP {status}")
        try:
            return json.loads(body or b"null")
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
            self._local.conn = None


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:300]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("cause") or "")
    return ""
