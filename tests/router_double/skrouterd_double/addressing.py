"""Router addresses: parsing ``amqp:/_topo/0/<router>/<rest>``, ``amqp:/_edge/<router>/<rest>``
and mobile addresses, and the table of local consumers (sender links) per address."""

from __future__ import annotations

import itertools
import random
import string
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from proton import Message, Sender

MANAGEMENT = "$management"
_temp_counter = itertools.count()


@dataclass(frozen=True)
class Address:
    """A parsed address: ``router`` is None for mobile addresses; ``edge`` marks ``_edge/``."""

    router: str | None
    local: str
    edge: bool = False


def parse(address: str) -> Address:
    """Split a router address into its target router (if any) and the address there."""
    text = address
    if text.startswith("amqp:"):
        text = text[len("amqp:"):]
    text = text.lstrip("/")
    if text.startswith("_topo/"):
        parts = text.split("/", 3)
        if len(parts) == 4:
            return Address(parts[2], parts[3])
    if text.startswith("_edge/"):
        parts = text.split("/", 2)
        if len(parts) == 3:
            return Address(parts[1], parts[2], edge=True)
    if text.startswith("_local/"):
        return Address(None, text[len("_local/"):])
    return Address(None, text)


def topological(router_id: str, local: str, *, edge: bool = False) -> str:
    """The full address of ``local`` on router ``router_id``."""
    if edge:
        return "amqp:/_edge/%s/%s" % (router_id, local)
    return "amqp:/_topo/0/%s/%s" % (router_id, local)


def temporary_name() -> str:
    """A fresh local name for a dynamic (reply) address."""
    tail = "".join(random.choices(string.ascii_letters + string.digits, k=15))
    return "temp.%s%d" % (tail, next(_temp_counter))


class ConsumerTable:
    """Local sender links by address, with per-link queues for messages waiting for credit."""

    def __init__(self) -> None:
        self._by_address: dict[str, list[Sender]] = {}
        self._queued: dict[Sender, deque[tuple[Message, bool]]] = {}

    def add(self, address: str, sender: Sender) -> None:
        self._by_address.setdefault(address, []).append(sender)
        self._queued.setdefault(sender, deque())

    def remove_link(self, sender: Any) -> None:
        self._queued.pop(sender, None)
        for address, senders in list(self._by_address.items()):
            if sender in senders:
                senders.remove(sender)
                if not senders:
                    del self._by_address[address]

    def remove_if(self, test: Callable[[Sender], bool]) -> None:
        for sender in [s for s in self._queued if test(s)]:
            self.remove_link(sender)

    def has(self, address: str) -> bool:
        return bool(self._by_address.get(address))

    def addresses(self) -> list[str]:
        return list(self._by_address)

    def send(self, address: str, message: Message, *, settled: bool = False) -> bool:
        """Queue ``message`` on the consumer with the most credit; False if none exists.
        ``settled`` sends it pre-settled."""
        senders = self._by_address.get(address)
        if not senders:
            return False
        sender = max(senders, key=lambda s: s.credit - len(self._queued[s]))
        self._queued[sender].append((message, settled))
        self.flush(sender)
        return True

    def flush(self, sender: Sender) -> None:
        """Send queued messages while ``sender`` has credit."""
        queue = self._queued.get(sender)
        while queue and sender.credit > 0:
            message, settled = queue.popleft()
            delivery = sender.send(message)
            if settled:
                delivery.settle()
