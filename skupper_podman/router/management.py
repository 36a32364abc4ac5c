"""Synchronous client for the skupper-router management agent (AMQP 1.0 request/reply).

The site router answers management requests on its ``amqps`` listener, published on
``127.0.0.1:<port>``: mutual TLS with the ``skupper-local-client`` credential, SASL EXTERNAL,
and a server certificate named ``skupper-router-local``. Plain ``amqp://`` URLs are accepted
for tests and tools. One connection carries one receiver on a dynamic address (the
``reply_to`` of every request) and lazily created senders: one to ``$management`` for the
local agent, one anonymous sender (``to`` set per message) for remote agents.

Every reply is checked strictly: a ``statusCode`` outside 200-299, or none, raises
:class:`~skupper_podman.errors.ManagementError`; transport problems (refused, TLS failure,
timeout) raise :class:`~skupper_podman.errors.RouterUnavailable`.

The transport is :mod:`skupper_podman.router.amqp_connection` (standard library only): a CLI
command opens one connection for a few requests, and importing proton would cost it ~45 ms.
"""
from __future__ import annotations

import itertools
import os
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skupper_podman._util import one_line
from skupper_podman.errors import InputError, ManagementError, RouterUnavailable
from skupper_podman.router.amqp_connection import (
    AmqpError,
    Connection,
    DeliveryRefused,
    Link,
    LinkRefused,
    Message,
    TimedOut,
)

ENTITY_PREFIX = "io.skupper.router."
LOCAL_AGENT = "$management"
DEFAULT_SERVER_NAME = "skupper-router-local"
DEFAULT_TIMEOUT = 5.0
QUERY_PAGE_SIZE = 500
# Entity types the router's C core agent answers (skupper-router 2.5.3,
# src/router_core/management_agent.c); it pages QUERY results by offset/count and echoes any
# correlation id. Every other type goes to the embedded Python agent.
CORE_AGENT_TYPES = frozenset({"router", "router.address", "router.link", "router.config.address",
                              "router.config.autoLink", "connection", "tcpConnection",
                              "httpRequestInfo"})
_REPLY_CREDIT = 16
_CLOSE_TIMEOUT = 1.0


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a client credential: the CA that signed the server, our cert and key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_dir(cls, directory: str | Path) -> TlsFiles:
        """Skupper's credential layout: ``ca.crt``, ``tls.crt``, ``tls.key`` in one directory."""
        base = Path(directory)
        return cls(ca=base / "ca.crt", cert=base / "tls.crt", key=base / "tls.key")

    def missing(self) -> list[Path]:
        """The files that do not exist (empty when the credential is complete)."""
        return [Path(p) for p in (self.ca, self.cert, self.key) if not Path(p).is_file()]


def full_type(name: str) -> str:
    """Full management type name: ``connector`` -> ``io.skupper.router.connector``."""
    if name.startswith(ENTITY_PREFIX) or name.startswith("org.amqp."):
        return name
    return ENTITY_PREFIX + name


def short_type(name: str) -> str:
    """Config-file type name: ``io.skupper.router.connector`` -> ``connector``."""
    return name[len(ENTITY_PREFIX):] if name.startswith(ENTITY_PREFIX) else name


def interior_agent(router_id: str) -> str:
    """Address of the management agent of a remote interior router."""
    return f"amqp:/_topo/0/{router_id}/$management"


def edge_agent(router_id: str) -> str:
    """Address of the management agent of a remote edge router."""
    return f"amqp:/_edge/{router_id}/$management"


@dataclass
class _Channel:
    """One open connection with its reply receiver and lazily created senders."""

    connection: Connection
    replies: Link                     # its address is the reply_to of every request
    agent_sender: Link | None = None
    anonymous_sender: Link | None = None


class ManagementClient:
    """A synchronous management client for one router; use it as a context manager.

    ``url`` is ``amqps://127.0.0.1:<port>`` (requires ``tls``) or ``amqp://host:port``.
    ``server_name`` is the name checked in the server certificate (the socket still goes
    to the URL's host). ``timeout`` bounds each request; ``connect_timeout`` (default: the
    same) bounds opening the connection. The connection opens on first use and reopens
    after a transport failure.
    """

    def __init__(
        self,
        url: str,
        *,
        tls: TlsFiles | None = None,
        server_name: str = DEFAULT_SERVER_NAME,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
    ) -> None:
        self.url = _normalise_url(url, tls)
        parts = urlsplit(self.url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self.tls = tls
        self.server_name = server_name
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._ssl_context = _client_ssl_context(tls) if tls is not None else None
        self._channel: _Channel | None = None
        self._correlation = itertools.count(1)
        self._id_prefix = f"{os.urandom(4).hex()}-"

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect now (requests connect on demand); raises RouterUnavailable on failure."""
        self._open_channel()

    def close(self) -> None:
        """Close the connection, if any; never raises."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.connection.close(time.monotonic() + min(_CLOSE_TIMEOUT, self.timeout))

    # -- operations ----------------------------------------------------------------------

    def query(
        self,
        entity_type: str,
        attribute_names: Iterable[str] = (),
        *,
        node: str | None = None,
    ) -> list[dict[str, Any]]:
        """All records of a type as dicts keyed by attribute name (all attributes when empty).

        Types the router's C core answers are paged ``QUERY_PAGE_SIZE`` rows at a time, as
        the router's own Python client does; the embedded Python agent answers every other
        type and ignores ``offset``/``count`` (it always returns every row), so those are
        asked for once.
        """
        full = full_type(entity_type)
        names = list(attribute_names)
        what = f"QUERY {short_type(full)}"
        paged = short_type(full) in CORE_AGENT_TYPES
        rows: list[dict[str, Any]] = []
        while True:
            properties: dict[str, Any] = {"operation": "QUERY", "entityType": full}
            if paged:
                properties.update(offset=len(rows), count=QUERY_PAGE_SIZE)
            body = self._request(properties, {"attributeNames": names}, node=node, what=what)
            page = _query_rows(body, names, what)
            rows.extend(page)
            if not paged or len(page) < QUERY_PAGE_SIZE:
                return rows

    def read(
        self,
        entity_type: str,
        name: str | None = None,
        *,
        identity: str | None = None,
        node: str | None = None,
    ) -> dict[str, Any]:
        """One record, looked up by ``name`` or ``identity``."""
        if (name is None) == (identity is None):
            raise ValueError("read needs exactly one of name or identity")
        full = full_type(entity_type)
        key = {"name": name} if name is not None else {"identity": identity}
        body = self._request({"operation": "READ", "type": full, **key}, {}, node=node,
                             what=f"READ {short_type(full)} {name or identity}")
        return _as_record(body, f"READ {short_type(full)}")

    def create(
        self,
        entity_type: str,
        name: str,
        attributes: Mapping[str, Any],
        *,
        node: str | None = None,
    ) -> dict[str, Any]:
        """Create an entity; returns the record the router created."""
        return self._write("CREATE", entity_type, name, attributes, node)

    def update(
        self,
        entity_type: str,
        name: str,
        attributes: Mapping[str, Any],
        *,
        node: str | None = None,
    ) -> dict[str, Any]:
        """Change attributes of an entity that supports UPDATE (e.g. ``log``, ``sslProfile``)."""
        return self._write("UPDATE", entity_type, name, attributes, node)

    def _write(self, operation: str, entity_type: str, name: str, attributes: Mapping[str, Any],
               node: str | None) -> dict[str, Any]:
        full = full_type(entity_type)
        body = self._request({"operation": operation, "type": full, "name": name},
                             dict(attributes), node=node,
                             what=f"{operation} {short_type(full)} {name}")
        return _as_record(body, f"{operation} {short_type(full)}")

    def delete(self, entity_type: str, name: str, *, node: str | None = None) -> None:
        """Delete an entity by name."""
        full = full_type(entity_type)
        self._request({"operation": "DELETE", "type": full, "name": name}, {}, node=node,
                      what=f"DELETE {short_type(full)} {name}")

    def ping(self) -> dict[str, Any]:
        """One QUERY of the ``router`` entity; returns its ``id``, ``mode`` and ``version``."""
        rows = self.query("router", ("id", "mode", "version"))
        if not rows:
            raise RouterUnavailable("router management returned no router record")
        return rows[0]

    def wait_ready(self, timeout: float, *, interval: float = 0.2) -> dict[str, Any]:
        """Retry :meth:`ping` until it succeeds or ``timeout`` seconds have passed.

        Refused connections, failed TLS handshakes and unanswered requests are retried (a
        router that is still starting shows all three); a ManagementError is not. Raises
        RouterUnavailable with the last failure once the deadline has passed.
        """
        deadline = time.monotonic() + timeout
        saved = (self.timeout, self.connect_timeout)
        try:
            while True:
                remaining = deadline - time.monotonic()
                self.timeout = max(0.05, min(saved[0], remaining))
                self.connect_timeout = max(0.05, min(saved[1], remaining))
                try:
                    return self.ping()
                except RouterUnavailable as exc:
                    self.close()
                    if time.monotonic() + interval >= deadline:
                        raise RouterUnavailable(
                            f"router not ready after {timeout:g}s: {exc}") from exc
                time.sleep(interval)
        finally:
            self.timeout, self.connect_timeout = saved

    # -- request/reply -------------------------------------------------------------------

    def _request(
        self,
        properties: dict[str, Any],
        body: Any,
        *,
        node: str | None,
        what: str,
    ) -> Any:
        """Send one request and return the body of its successful reply."""
        who = "router" if node is None else f"router {node}"
        channel = self._open_channel()
        deadline = time.monotonic() + self.timeout
        # A string id: the router's Python agent drops int/ulong ids from its replies
        # (real-router-behaviour.md §5), so only strings match on every entity type.
        correlation_id = f"{self._id_prefix}{next(self._correlation)}"
        message = Message(body=body, properties=properties, reply_to=channel.replies.address,
                          correlation_id=correlation_id, to=node)
        try:
            channel.connection.send(self._sender(channel, node, deadline), message, deadline)
            reply = self._await_reply(channel, correlation_id, deadline)
        except DeliveryRefused as exc:
            if exc.outcome != "rejected":
                raise RouterUnavailable(
                    f"{who} did not take {what}: no management agent reachable") from exc
            raise ManagementError(f"{who} rejected {what}") from exc
        except TimedOut as exc:
            raise RouterUnavailable(
                f"{who} did not answer {what} within {self.timeout:g}s") from exc
        except AmqpError as exc:
            self.close()
            raise RouterUnavailable(f"{who} connection lost during {what}: "
                                    f"{one_line(exc)}") from exc
        return _checked_body(reply, who, what)

    def _await_reply(self, channel: _Channel, correlation_id: str, deadline: float) -> Message:
        """Receive until the reply to ``correlation_id`` arrives; drops stale replies."""
        while True:
            reply = channel.connection.receive(channel.replies, deadline)
            if reply.correlation_id == correlation_id:
                return reply

    def _sender(self, channel: _Channel, node: str | None, deadline: float) -> Link:
        if node is None:
            if channel.agent_sender is None:
                channel.agent_sender = channel.connection.open_sender(LOCAL_AGENT, deadline)
            return channel.agent_sender
        if channel.anonymous_sender is None:
            channel.anonymous_sender = channel.connection.open_sender(None, deadline)
        return channel.anonymous_sender

    def _open_channel(self) -> _Channel:
        if self._channel is not None and self._channel.connection.stale:
            self.close()  # the router drops connections idle past its idle time-out
        if self._channel is not None:
            return self._channel
        deadline = time.monotonic() + self.connect_timeout
        connection = Connection(*self._address,
                                tls=self._ssl_context, server_name=self.server_name,
                                container_id=f"skupper-podman-{os.urandom(8).hex()}")
        try:
            connection.open(deadline)
            replies = connection.open_receiver(None, deadline, dynamic=True,
                                               credit=_REPLY_CREDIT)
        except AmqpError as exc:
            connection.abort()
            reason = "timed out" if isinstance(exc, TimedOut) else one_line(exc)
            raise RouterUnavailable(
                f"cannot reach router management at {self.url}: {reason}") from exc
        if not replies.address:
            connection.abort()
            raise RouterUnavailable(f"router at {self.url} gave no reply address")
        self._channel = _Channel(connection=connection, replies=replies)
        return self._channel


def _client_ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    """TLS settings: trust only ``tls.ca``, check the server's name, present our certificate."""
    if missing := tls.missing():
        raise InputError(f"router management credential file not found: {missing[0]}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the peer and its name
    try:
        context.load_verify_locations(cafile=str(tls.ca))
        context.load_cert_chain(str(tls.cert), str(tls.key))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"cannot load router management credential {tls.cert}: "
                         f"{one_line(exc) or type(exc).__name__}") from exc
    return context


def _normalise_url(url: str, tls: TlsFiles | None) -> str:
    """Default the scheme from ``tls`` and refuse an explicit scheme that contradicts it."""
    has_scheme = "://" in url
    parts = urlsplit(url if has_scheme else ("amqps://" if tls else "amqp://") + url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"unsupported management URL scheme: {url}")
    if (parts.scheme == "amqps") != (tls is not None):
        raise ValueError(f"{url}: amqps URLs need TLS files and amqp URLs take none")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid management URL {url}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"management URL without a host: {url}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 5671 if parts.scheme == "amqps" else 5672
    return f"{parts.scheme}://{host}:{port or default}"


def _checked_body(reply: Message, who: str, what: str) -> Any:
    """The reply body if its status is 2xx; otherwise a one-line ManagementError."""
    properties = reply.properties or {}
    code = properties.get("statusCode")
    description = one_line(properties.get("statusDescription") or "")
    if code is None:
        raise ManagementError(f"{who} refused {what}: reply has no statusCode"
                              + (f" ({description})" if description else ""))
    try:
        status = int(code)
    except (TypeError, ValueError):
        raise ManagementError(f"{who} refused {what}: invalid statusCode {code!r}") from None
    if not 200 <= status <= 299:
        raise ManagementError(f"{who} refused {what}: {status} {description}".rstrip(),
                              status_code=status)
    return reply.body


def _as_record(body: Any, what: str) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise ManagementError(f"router answered {what} with a {type(body).__name__}, not a map")
    return dict(body)


def _query_rows(body: Any, requested: list[str], what: str) -> list[dict[str, Any]]:
    """Map QUERY ``results`` (lists of values) onto the reply's ``attributeNames``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        raise ManagementError(f"router answered {what} without a results list")
    names = list(body.get("attributeNames") or requested)
    rows = []
    for values in body["results"]:
        if len(values) != len(names):
            raise ManagementError(f"router answered {what} with a row of {len(values)} values "
                                  f"for {len(names)} attribute names")
        rows.append(dict(zip(names, values)))
    return rows
