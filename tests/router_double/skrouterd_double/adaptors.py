"""Hook for protocol adaptors (tcpListener, tcpConnector, httpListener, httpConnector).

The control plane only stores and reports these entities. A data plane registers an
``Adaptor`` with ``register``; the router calls ``on_start`` once its reactor runs (before
activating configured entities), then ``on_create`` when such an entity is created (after
validation, before the CREATE reply) and ``on_delete`` when deleted, and merges
``status(entity)`` into the entity's management record (e.g. ``operStatus``,
``connectionsOpened``). ``connection_records(router)`` adds the adaptor's own ``connection``
records (the tcp adaptor's client, target and egress-dispatch connections);
``service_addresses(router)`` names the addresses its listeners and connectors use (for
``router.address``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .entities import Entity
    from .router import Router

ADAPTOR_TYPES = ("tcpListener", "tcpConnector", "httpListener", "httpConnector")


class Adaptor(Protocol):
    """What a data-plane adaptor implements."""

    def on_start(self, router: "Router") -> None: ...

    def on_create(self, router: "Router", entity: "Entity") -> None: ...

    def on_delete(self, router: "Router", entity: "Entity") -> None: ...

    def status(self, entity: "Entity") -> dict[str, Any]: ...

    def connection_records(self, router: "Router") -> list[dict[str, Any]]: ...

    def service_addresses(self, router: "Router") -> list[tuple[str, str, int]]: ...


_registered: list[Adaptor] = []


def register(adaptor: Adaptor) -> None:
    """Add an adaptor; every router created afterwards uses it."""
    _registered.append(adaptor)


def registered() -> list[Adaptor]:
    """The adaptors in registration order."""
    return list(_registered)
