"""A small AMQP management client for the conformance tests (python-qpid-proton, blocking).

Talks the router's management protocol: requests to ``$management`` (or, for remote agents,
to ``amqp:/_topo/0/<id>/$management`` / ``amqp:/_edge/<id>/$management`` via an anonymous
sender), replies on a dynamic receiver, a *string* ``correlation_id`` per request.

Two facts of the real skupper-router 2.5.3 shape it: replies arrive pre-settled (so the client
settles only a reply that is not), and the Python agent, which answers every type but the C
core's (``router``, ``connection``, ``router.link``, ``router.address``, ``router.config.*``),
drops numeric correlation ids (the reply carries None) while it echoes string ones.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from proton import Message, SSLDomain
from proton.utils import BlockingConnection

PREFIX = "io.skupper.router."


@dataclass
class Reply:
    """One management response."""

    status: int
    description: str
    body: Any
    correlation_id: Any = None
    presettled: bool = False

    def rows(self) -> list[dict[str, Any]]:
        """A QUERY body as a list of attribute maps."""
        names = self.body["attributeNames"]
        return [dict(zip(names, row)) for row in self.body["results"]]


def tls_domain(cert: str | None, key: str | None, ca: str | None, *, verify_hostname: bool = False) -> SSLDomain:
    """A client TLS domain presenting ``cert``/``key`` and trusting ``ca``."""
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    if cert:
        domain.set_credentials(cert, key, None)
    if ca:
        domain.set_trusted_ca_db(ca)
        domain.set_peer_authentication(
            SSLDomain.VERIFY_PEER_NAME if verify_hostname else SSLDomain.VERIFY_PEER, ca)
    else:
        domain.set_peer_authentication(SSLDomain.ANONYMOUS_PEER)
    return domain


class ManagementClient:
    """One connection to a router; ``request`` sends an operation and waits for the reply."""

    def __init__(self, url: str, *, ssl_domain: SSLDomain | None = None, timeout: float = 10,
                 allowed_mechs: str | None = None, container_id: str | None = None) -> None:
        kwargs: dict[str, Any] = {"timeout": timeout}
        if ssl_domain is not None:
            kwargs["ssl_domain"] = ssl_domain
        if allowed_mechs:
            kwargs["allowed_mechs"] = allowed_mechs
        if container_id:
            kwargs["container_id"] = container_id
        self.connection = BlockingConnection(url, **kwargs)
        self._receiver = self.connection.create_receiver(None, dynamic=True)
        self.reply_to = self._receiver.remote_source.address
        self._senders: dict[str | None, Any] = {}
        self._ids = itertools.count(1)
        self._prefix = "cf-%s-" % uuid.uuid4().hex[:8]
        self.timeout = timeout

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "ManagementClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, operation: str, *, body: Any = None, agent: str = "$management",
                via_anonymous: bool = False, **properties: Any) -> Reply:
        """Send one request to ``agent`` and return its reply (matched by correlation id)."""
        correlation = "%s%d" % (self._prefix, next(self._ids))
        self._send(operation, body, agent, via_anonymous, correlation, properties)
        while True:
            reply = self._next_reply()
            if reply.correlation_id == correlation:
                return reply

    def exchange(self, operation: str, *, correlation_id: Any, body: Any = None,
                 **properties: Any) -> Reply:
        """Send one request with ``correlation_id`` as given and return the next reply, whatever
        its correlation id (callers send one request at a time)."""
        self._send(operation, body, "$management", False, correlation_id, properties)
        return self._next_reply()

    def _send(self, operation: str, body: Any, agent: str, via_anonymous: bool, correlation: Any,
              properties: dict[str, Any]) -> None:
        key = None if via_anonymous else agent
        if key not in self._senders:
            self._senders[key] = self.connection.create_sender(key)
        props = {"operation": operation, **{k: v for k, v in properties.items() if v is not None}}
        message = Message(body=body if body is not None else {}, properties=props,
                          reply_to=self.reply_to, correlation_id=correlation,
                          address=agent if via_anonymous else None)
        self._senders[key].send(message, timeout=self.timeout)

    def _next_reply(self) -> Reply:
        message = self._receiver.receive(timeout=self.timeout)
        # receive() parks an unsettled delivery for accept(); a pre-settled one is not parked
        presettled = not self._receiver.fetcher.unsettled
        if not presettled:
            self._receiver.accept()
        props = message.properties or {}
        return Reply(int(props["statusCode"]), props.get("statusDescription", ""), message.body,
                     message.correlation_id, presettled)

    def query(self, entity_type: str, attribute_names: list[str] | None = None, **kw: Any) -> Reply:
        return self.request("QUERY", entityType=PREFIX + entity_type, type="org.amqp.management",
                            name="self", body={"attributeNames": attribute_names or []}, **kw)

    def rows(self, entity_type: str, attribute_names: list[str] | None = None, **kw: Any) -> list[dict[str, Any]]:
        reply = self.query(entity_type, attribute_names, **kw)
        assert reply.status == 200, (reply.status, reply.description)
        return reply.rows()

    def read(self, entity_type: str, name: str) -> Reply:
        return self.request("READ", type=PREFIX + entity_type, name=name)

    def create(self, entity_type: str, name: str, attributes: dict[str, Any]) -> Reply:
        return self.request("CREATE", type=PREFIX + entity_type, name=name, body=attributes)

    def delete(self, entity_type: str, name: str) -> Reply:
        return self.request("DELETE", type=PREFIX + entity_type, name=name)
