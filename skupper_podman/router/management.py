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
"""
from __future__ import annotations

import functools
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import proton._reactor
from proton import Condition, Delivery, Message, ProtonException, SSLDomain, Timeout, Url
from proton.utils import BlockingConnection, BlockingReceiver, BlockingSender, SendException

from skupper_podman.errors import InputError, ManagementError, RouterUnavailable

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
_TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_REPLY_CREDIT = 16
_CLOSE_TIMEOUT = 1.0
_NOT_TAKEN = [Delivery.REJECTED, Delivery.RELEASED, Delivery.MODIFIED]


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


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class _LazySSLConfig:
    """Proton's ``SSLConfig`` with its domains made on first use.

    Proton gives every Container, so every BlockingConnection, a client and a server SSL
    domain; each costs 60-100 ms of OpenSSL 3 set-up on a small host, twice per management
    connection, although our connections bring their own domain.
    """

    @functools.cached_property
    def client(self) -> SSLDomain:
        return SSLDomain(SSLDomain.MODE_CLIENT)

    @functools.cached_property
    def server(self) -> SSLDomain:
        return SSLDomain(SSLDomain.MODE_SERVER)

    def set_credentials(self, cert_file: str, key_file: str, password: str | None) -> None:
        self.client.set_credentials(cert_file, key_file, password)
        self.server.set_credentials(cert_file, key_file, password)

    def set_trusted_ca_db(self, certificate_db: str) -> None:
        self.client.set_trusted_ca_db(certificate_db)
        self.server.set_trusted_ca_db(certificate_db)


proton._reactor.SSLConfig = _LazySSLConfig  # type: ignore[misc]


class _TransportClosed(ProtonException):
    """The transport closed; carries the peer's or the TLS layer's reason as its message."""


class _Connection(BlockingConnection):
    """BlockingConnection whose disconnect errors carry the transport condition's description.

    Proton reports a dropped transport as ``Connection <url> disconnected: Condition(...)``;
    the description alone (``Connection refused``, ``SSL Failure: ...``) is what users need.
    """

    def wait(
        self,
        condition: Callable[[], bool],
        timeout: float | None | Literal[False] = False,
        msg: str | None = None,
    ) -> None:
        try:
            super().wait(condition, timeout=timeout, msg=msg)
        except _TransportClosed:
            raise
        except ProtonException as exc:
            if isinstance(self.disconnected, Condition):
                reason = self.disconnected.description or self.disconnected.name
                raise _TransportClosed(_one_line(reason)) from exc
            raise


@dataclass
class _Channel:
    """One open connection with its reply receiver and lazily created senders."""

    connection: _Connection
    replies: BlockingReceiver
    reply_to: str
    agent_sender: BlockingSender | None = None
    anonymous_sender: BlockingSender | None = None


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
        self.tls = tls
        self.server_name = server_name
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._ssl_domain = _client_ssl_domain(tls) if tls is not None else None
        self._channel: _Channel | None = None
        self._correlation = itertools.count(1)
        self._id_prefix = f"{uuid.uuid4().hex[:8]}-"

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
        if channel is None:
            return
        channel.connection.timeout = min(_CLOSE_TIMEOUT, channel.connection.timeout)
        try:
            channel.connection.close()
        except (ProtonException, OSError):
            pass

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
        message = Message(body=body, properties=properties, reply_to=channel.reply_to,
                          correlation_id=correlation_id)
        try:
            sender = self._sender(channel, node)
            if node is not None:
                message.address = node
            sender.send(message, timeout=_remaining(deadline), error_states=_NOT_TAKEN)
            reply = self._await_reply(channel, correlation_id, deadline)
        except SendException as exc:
            if exc.state != Delivery.REJECTED:
                raise RouterUnavailable(
                    f"{who} did not take {what}: no management agent reachable") from exc
            raise ManagementError(f"{who} rejected {what}") from exc
        except Timeout as exc:
            raise RouterUnavailable(
                f"{who} did not answer {what} within {self.timeout:g}s") from exc
        except ProtonException as exc:
            self.close()
            raise RouterUnavailable(f"{who} connection lost during {what}: "
                                    f"{_one_line(exc)}") from exc
        return _checked_body(reply, who, what)

    def _await_reply(self, channel: _Channel, correlation_id: str, deadline: float) -> Message:
        """Receive until the reply to ``correlation_id`` arrives; drops stale replies."""
        while True:
            reply = channel.replies.receive(timeout=_remaining(deadline))
            _settle_received(channel.replies)
            if reply.correlation_id == correlation_id:
                return reply

    def _sender(self, channel: _Channel, node: str | None) -> BlockingSender:
        if node is None:
            if channel.agent_sender is None:
                channel.agent_sender = channel.connection.create_sender(LOCAL_AGENT)
            return channel.agent_sender
        if channel.anonymous_sender is None:
            channel.anonymous_sender = channel.connection.create_sender(None)
        return channel.anonymous_sender

    def _open_channel(self) -> _Channel:
        if self._channel is not None:
            return self._channel
        connection: _Connection | None = None
        try:
            connection = _Connection(self.url, timeout=self.connect_timeout,
                                     **self._connect_options())
            connection.timeout = self.timeout
            replies = connection.create_receiver(None, dynamic=True, credit=_REPLY_CREDIT)
            reply_to = replies.remote_source.address
        except (ProtonException, OSError) as exc:
            if connection is not None:
                _close_quietly(connection)
            raise RouterUnavailable(
                f"cannot reach router management at {self.url}: {_describe(exc)}") from exc
        if not reply_to:
            _close_quietly(connection)
            raise RouterUnavailable(f"router at {self.url} gave no reply address")
        self._channel = _Channel(connection=connection, replies=replies, reply_to=reply_to)
        return self._channel

    def _connect_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"container_id": f"skupper-podman-{uuid.uuid4()}"}
        if self._ssl_domain is None:
            return options
        # The name to verify in the server certificate: proton >= 0.38 takes it from `sni`,
        # older releases from `virtual_host` (which also becomes the AMQP open hostname;
        # the router ignores that without vhost policies).
        options.update(ssl_domain=self._ssl_domain, allowed_mechs="EXTERNAL",
                       sni=self.server_name, virtual_host=self.server_name)
        return options


def _client_ssl_domain(tls: TlsFiles) -> SSLDomain:
    """TLS settings: trust only ``tls.ca``, check the server's name, present our certificate."""
    if missing := tls.missing():
        raise InputError(f"router management credential file not found: {missing[0]}")
    domain = _client_domain(tls.ca)
    try:
        domain.set_trusted_ca_db(str(tls.ca))
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, str(tls.ca))
        domain.set_credentials(str(tls.cert), str(tls.key), None)
    except ProtonException as exc:
        raise InputError(f"cannot load router management credential {tls.cert}: "
                         f"{_one_line(exc) or type(exc).__name__}") from exc
    return domain


def _client_domain(ca: Path) -> SSLDomain:
    """A client domain whose default trust store is ``ca`` alone.

    OpenSSL fills a new context with the system trust store (``SSL_CERT_FILE``/``SSL_CERT_DIR``,
    by default ~140 CAs: 40-60 ms on a small host); we trust only the site's CA anyway, so the
    defaults are pointed at it while the domain is made.
    """
    saved = {name: os.environ.get(name) for name in _TRUST_ENV}
    os.environ.update({"SSL_CERT_FILE": str(ca), "SSL_CERT_DIR": ""})
    try:
        return SSLDomain(SSLDomain.MODE_CLIENT)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _normalise_url(url: str, tls: TlsFiles | None) -> str:
    """Default the scheme from ``tls`` and refuse an explicit scheme that contradicts it."""
    has_scheme = "://" in url
    parsed = Url(url if has_scheme else ("amqps://" if tls else "amqp://") + url, defaults=False)
    if parsed.scheme not in ("amqp", "amqps"):
        raise ValueError(f"unsupported management URL scheme: {url}")
    if (parsed.scheme == "amqps") != (tls is not None):
        raise ValueError(f"{url}: amqps URLs need TLS files and amqp URLs take none")
    if parsed.port is None:
        parsed.port = 5671 if parsed.scheme == "amqps" else 5672
    return str(parsed)


def _settle_received(receiver: BlockingReceiver) -> None:
    """Accept the message just received unless it came pre-settled.

    The real router sends management replies pre-settled: there is then nothing to settle
    and ``BlockingReceiver.accept()`` would fail on an empty queue.
    """
    fetcher = receiver.fetcher
    if fetcher is not None and fetcher.unsettled:
        receiver.accept()


def _remaining(deadline: float) -> float:
    return max(0.001, deadline - time.monotonic())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Timeout):
        return "timed out"
    return _one_line(exc) or type(exc).__name__


def _close_quietly(connection: BlockingConnection) -> None:
    connection.timeout = min(_CLOSE_TIMEOUT, connection.timeout)
    try:
        connection.close()
    except (ProtonException, OSError):
        pass


def _checked_body(reply: Message, who: str, what: str) -> Any:
    """The reply body if its status is 2xx; otherwise a one-line ManagementError."""
    properties = reply.properties or {}
    code = properties.get("statusCode")
    description = _one_line(properties.get("statusDescription") or "")
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
