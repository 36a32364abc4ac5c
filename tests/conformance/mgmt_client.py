"""A small AMQP management client for the conformance tests (python-qpid-proton, blocking).

Talks the router's management protocol: requests to ``$management`` (or, for remote agents,
to ``amqp:/_topo/0/<id>/$management`` / ``amqp:/_edge/<id>/$management`` via an anonymous
sender), replies on a dynamic receiver, ``correlation_id`` per request.
"""

from __future__ import annotations

import itertools
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
        self.timeout = timeout

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "ManagementClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, operation: str, *, body: Any = None, agent: str = "$management",
                via_anonymous: bool = False, **properties: Any) -> Reply:
        """Send one request to ``agent`` and return its reply."""
        key = None if via_anonymous else agent
        if key not in self._senders:
            self._senders[key] = self.connection.create_sender(key)
        correlation = next(self._ids)
        props = {"operation": operation, **{k: v for k, v in properties.items() if v is not None}}
        message = Message(body=body if body is not None else {}, properties=props,
                          reply_to=self.reply_to, correlation_id=correlation,
                          address=agent if via_anonymous else None)
        self._senders[key].send(message, timeout=self.timeout)
        while True:
            reply = self._receiver.receive(timeout=self.timeout)
            self._receiver.accept()
            if reply.correlation_id == correlation:
                props = reply.properties or {}
                return Reply(int(props["statusCode"]), props.get("statusDescription", ""), reply.body)

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
