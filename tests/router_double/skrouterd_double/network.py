"""The router network (control plane): connectors, neighbours, link state and forwarding.

Protocol between doubles (documented in README.md, "Inter-router protocol"): on every open
connection whose role is ``inter-router`` or ``edge`` each side attaches two sender links:

* ``control`` (target ``_router/control``): HELLO every ``helloIntervalSeconds`` with the
  sender's id, mode, metadata, link cost, served mobile addresses and (interior routers) its
  link state (neighbours with costs, attached edges, served addresses, sequence number).
  Link states are flooded to the other interior neighbours.
* ``data`` (anonymous target): routed messages, each carrying its address in ``to``.
  Forwarded deliveries stay unsettled until the next hop settles them, so a RELEASED at the
  far end comes back to the sender.

A neighbour, and any link state, stops carrying traffic after ``helloMaxAgeSeconds`` without
a HELLO (at once when its connection closes). Interior routers compute least-cost paths over
the link states; edges send everything they cannot deliver locally to their interior uplink.

As on the real 2.5.3, a router that was reachable stays listed in ``router.node`` (with no
``nextHop``/``routerLink``, its last cost) until ``remoteLsMaxAgeSeconds`` (60 s by default)
after its link state last arrived; edges list no ``router.node`` records at all.

A ``connector`` with role ``inter-router`` opens, besides the link connection, two
``inter-router-data`` connections to the same listener (open property ``qd.role``), as the real
2.5.3 does; they carry nothing between doubles. ``connectionStatus`` follows the real router:
``SUCCESS`` as soon as a connection attempt is under way (message unchanged, empty at first),
``CONNECTING`` with "Connection to <host:port> failed: ..." when it fails; the next attempt
comes ``RETRY_SECONDS`` after a failed attempt, ``RETRY_AFTER_LOSS_SECONDS`` after an open
connection was lost.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proton import Delivery, Message, SSLUnavailable

from . import tls, wire
from .addressing import Address, parse
from .connections import ROUTER_LINK_MAX_FRAME, ROUTER_ROLES, ConnectionRecord

if TYPE_CHECKING:
    from .entities import Entity
    from .router import Router

CONTROL_ADDRESS = "_router/control"
RETRY_SECONDS = 5.0
RETRY_AFTER_LOSS_SECONDS = 2.0
DATA_CONNECTIONS = 2
DATA_ROLE = "inter-router-data"


@dataclass
class Neighbour:
    """A peer router on one open inter-router/edge connection."""

    id: str
    mode: str
    record: ConnectionRecord
    control: Any = None
    data: Any = None
    cost: int = 1
    metadata: str | None = None
    addresses: list[str] = field(default_factory=list)
    last_hello: float = field(default_factory=time.monotonic)
    queue: deque = field(default_factory=deque)
    hello_sent: bool = False


@dataclass
class LinkState:
    """What an interior router advertises about itself."""

    id: str
    seq: int
    links: dict[str, int]
    edges: list[str]
    addresses: list[str]
    metadata: str | None
    received: float = field(default_factory=time.monotonic)


@dataclass
class ConnectorState:
    """The dialling state of one ``connector`` entity."""

    entity: "Entity"
    status: str = "CONNECTING"
    message: str = ""
    record: ConnectionRecord | None = None
    data_records: list[ConnectionRecord] = field(default_factory=list)
    deleted: bool = False
    dialled: bool = False


class Network:
    """Peer routers known to one router, and forwarding towards them."""

    def __init__(self, router: "Router") -> None:
        self.router = router
        attrs = router.router_entity.attributes
        self.hello_interval = float(attrs.get("helloIntervalSeconds") or 1)
        self.hello_max_age = float(attrs.get("helloMaxAgeSeconds") or 3)
        self.remote_ls_max_age = float(attrs.get("remoteLsMaxAgeSeconds") or 60)
        self.neighbours: dict[int, Neighbour] = {}  # by connection record identity
        self.link_states: dict[str, LinkState] = {}
        self.connectors: dict[str, ConnectorState] = {}  # by connector identity
        self.advertised: set[str] = set()
        self._seq = 0
        self._pending: dict[Delivery, Delivery] = {}  # forwarded delivery -> origin delivery
        self._routes: dict[str, tuple[str, int]] = {}  # router id -> (first hop id, cost)
        self._ls_arrived: dict[str, float] = {}  # router id -> when its link state last came
        self._stale: dict[str, int] = {}  # unreachable routers still listed -> last cost

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.router.container.schedule(self.hello_interval, _Timer(self._tick))

    def _tick(self) -> None:
        now = time.monotonic()
        for neighbour in list(self.neighbours.values()):
            if now - neighbour.last_hello > self.hello_max_age:
                self.router.log.info("ROUTER_HELLO", "Neighbor %s lost (no HELLO)" % neighbour.id)
                self._drop_neighbour(neighbour.record)
        for origin, state in list(self.link_states.items()):
            if now - state.received > self.hello_max_age:
                del self.link_states[origin]
        self._seq += 1
        self._compute_routes()
        for neighbour in self.neighbours.values():
            self._send_hello(neighbour)
        self.router.container.schedule(self.hello_interval, _Timer(self._tick))

    # -- connectors -----------------------------------------------------------------------------

    def add_connector(self, entity: "Entity") -> None:
        state = ConnectorState(entity)
        self.connectors[entity.identity] = state
        # The first attempt starts from the reactor loop, after a CREATE has been answered.
        self.router.container.schedule(0, _Timer(lambda: self._dial(state)))

    def remove_connector(self, entity: "Entity") -> None:
        state = self.connectors.pop(entity.identity, None)
        if state is None:
            return
        state.deleted = True
        for record in [state.record, *state.data_records]:
            if record is not None:
                record.connection.close()

    def connector_status(self, entity: "Entity") -> dict[str, Any]:
        state = self.connectors.get(entity.identity)
        if state is None:
            return {}
        return {"connectionStatus": state.status, "connectionMsg": state.message}

    def _dial(self, state: ConnectorState) -> None:
        if state.deleted or state.record is not None:
            return
        attrs = state.entity.attributes
        host, port = attrs.get("host", "127.0.0.1"), attrs.get("port", "amqp")
        target = "%s:%s" % (host, port)
        kwargs: dict[str, Any] = {"reconnect": False, "container_id": self.router.id,
                                  "max_frame_size": ROUTER_LINK_MAX_FRAME,
                                  "properties": {"qd.inter-router-cost": int(attrs.get("cost", 1))}}
        scheme = "amqp"
        profile_name = attrs.get("sslProfile")
        state.dialled = True
        state.status = "SUCCESS"  # the real router's status while an attempt is under way
        if profile_name:
            profile = self.router.profile(profile_name)
            try:
                if profile is None:
                    raise tls.CredentialsError("sslProfile %s not found" % profile_name)
                kwargs["ssl_domain"] = tls.client_domain(profile, verify_hostname=bool(attrs.get("verifyHostname", True)))
            except (tls.CredentialsError, SSLUnavailable) as exc:
                self.router.log.error("ERROR", "Run Time: Cannot set SSL credentials")
                self.router.log.debug("SERVER", "connector %s: %s" % (state.entity.name, exc))
                state.status = "CONNECTING"
                state.message = "Connection to %s failed: amqp:internal-error Cannot set SSL credentials" % target
                self._retry(state, RETRY_SECONDS)
                return
            scheme = "amqps"
            kwargs["allowed_mechs"] = "EXTERNAL" if profile.get("certFile") else "ANONYMOUS"
        else:
            kwargs["allowed_mechs"] = attrs.get("saslMechanisms") or "ANONYMOUS"
        from .router import service_port

        url = "%s://%s:%d" % (scheme, host, service_port(port))
        role = attrs.get("role", "normal")
        state.record = self._connect(state, url, kwargs, role, target)
        if role == "inter-router":
            data_kwargs = dict(kwargs, properties={"qd.role": DATA_ROLE})
            state.data_records = [self._connect(state, url, data_kwargs, DATA_ROLE, target)
                                  for _ in range(DATA_CONNECTIONS)]

    def _connect(self, state: ConnectorState, url: str, kwargs: dict[str, Any], role: str,
                 target: str) -> ConnectionRecord:
        connection = self.router.container.connect(url, **kwargs)
        record = ConnectionRecord(connection, role=role, direction="out", host=target,
                                  config_name=state.entity.name)
        record.extra["connector"] = state.entity.identity
        connection._double_record = record
        self.router.track(record)
        return record

    def _retry(self, state: ConnectorState, delay: float) -> None:
        self.router.container.schedule(delay, _Timer(lambda: self._dial(state)))

    def _connector_of(self, record: ConnectionRecord) -> ConnectorState | None:
        identity = record.extra.get("connector")
        state = self.connectors.get(identity) if identity else None
        return state if state is not None and state.record is record else None

    # -- connection events ----------------------------------------------------------------------

    def connection_opened(self, record: ConnectionRecord) -> None:
        if record.direction == "in" and (record.connection.remote_properties or {}).get("qd.role") == DATA_ROLE:
            record.role = DATA_ROLE
        state = self._connector_of(record)
        if state is not None:
            attrs = record.attributes()
            encrypted = attrs["sslProto"] or "no"
            state.status = "SUCCESS"
            state.message = ("[C%d] Connection Opened: dir=out host=%s encrypted=%s auth=%s user=%s container_id=%s"
                             % (record.identity, record.host, encrypted, attrs["sasl"] or "none",
                                attrs["user"] or "(null)", attrs["container"]))
            self.router.log.info("ROUTER_CORE", state.message)
        if record.role in ROUTER_ROLES:
            self._attach_router_links(record)

    def connection_failed(self, record: ConnectionRecord, text: str) -> None:
        state = self._connector_of(record)
        if state is not None:
            state.status = "CONNECTING"
            state.message = "Connection to %s failed: %s" % (record.host, text)
            self.router.log.error("SERVER", "[C%d] %s" % (record.identity, state.message))

    def connection_closed(self, record: ConnectionRecord) -> None:
        self._drop_neighbour(record)
        state = self._connector_of(record)
        if state is not None:
            state.record = None
            was_open = record.opened
            if state.status == "SUCCESS" and was_open:
                state.status = "CONNECTING"
                state.message = "Connection to %s failed: amqp:connection:forced connection closed" % record.host
            elif state.status == "SUCCESS":
                state.status = "CONNECTING"
                state.message = "Connection to %s failed: connection refused" % record.host
            for data in state.data_records:  # the data connections go with the link
                data.connection.close()
            state.data_records = []
            if not state.deleted:
                self._retry(state, RETRY_AFTER_LOSS_SECONDS if was_open else RETRY_SECONDS)

    def _drop_neighbour(self, record: ConnectionRecord) -> None:
        neighbour = self.neighbours.pop(record.identity, None)
        if neighbour is None:
            return
        self.router.log.info("ROUTER_HELLO", "Neighbor %s lost" % neighbour.id)
        self.link_states.pop(neighbour.id, None)
        for forwarded, origin in list(self._pending.items()):
            if forwarded.link.connection == record.connection:
                self._settle_origin(forwarded, Delivery.RELEASED)
        self._compute_routes()

    # -- router links ---------------------------------------------------------------------------

    def _attach_router_links(self, record: ConnectionRecord) -> None:
        connection = record.connection
        peer = connection.remote_container
        neighbour = Neighbour(id=peer, mode="", record=record)
        properties = connection.remote_properties or {}
        neighbour.cost = max(self._local_cost(record), int(properties.get("qd.inter-router-cost", 1)))
        session = connection.session()
        session.open()
        neighbour.control = session.sender("control-%s" % self.router.id)
        neighbour.control.target.address = CONTROL_ADDRESS
        neighbour.control.open()
        neighbour.data = session.sender("data-%s" % self.router.id)
        neighbour.data.open()
        self.neighbours[record.identity] = neighbour
        record.extra["linkType"] = "router-control" if record.role == "inter-router" else "edge"
        self._send_hello(neighbour)

    def _local_cost(self, record: ConnectionRecord) -> int:
        kind = "connector" if record.direction == "out" else "listener"
        entity = self.router.store.named(kind, record.config_name)
        return int(entity.get("cost", 1)) if entity else 1

    def claims_link(self, link: Any) -> bool:
        record = getattr(link.connection, "_double_record", None)
        if record is None or record.role not in ROUTER_ROLES:
            return False
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        return True

    def claims_message(self, event: Any) -> bool:
        record = getattr(event.connection, "_double_record", None)
        if record is None or record.role not in ROUTER_ROLES:
            return False
        receiver = event.receiver
        if receiver.target.address == CONTROL_ADDRESS:
            self._on_control(record, event.message)
            event.delivery.update(Delivery.ACCEPTED)
            event.delivery.settle()
            return True
        message = event.message
        if event.delivery.settled:  # forwarded pre-settled: deliver it on the same way
            self.router.route(message, message.address or "")
            event.delivery.settle()
            return True
        outcome = self.router.route(message, message.address or "", origin=event.delivery)
        if outcome is True:
            event.delivery.update(Delivery.ACCEPTED)
            event.delivery.settle()
        elif outcome is False:
            event.delivery.update(Delivery.RELEASED)
            event.delivery.settle()
        return True

    def on_sendable(self, sender: Any) -> bool:
        """Flush a neighbour's data queue; True when ``sender`` is a router data link."""
        for neighbour in self.neighbours.values():
            if neighbour.data == sender:
                self._flush(neighbour)
                return True
            if neighbour.control == sender:
                if not neighbour.hello_sent:
                    self._send_hello(neighbour)
                return True
        return False

    # -- control messages -----------------------------------------------------------------------

    def _send_hello(self, neighbour: Neighbour) -> None:
        if neighbour.control is None or neighbour.control.credit <= 0:
            return
        router = self.router
        body: dict[str, Any] = {"op": "HELLO", "id": router.id, "mode": router.mode,
                                "metadata": router.router_entity.get("metadata"),
                                "cost": self._local_cost(neighbour.record),
                                "addresses": sorted(self.local_addresses())}
        if router.mode == "interior":
            body["ls"] = [self._own_link_state()] + [
                _ls_dict(ls) for ls in self.link_states.values() if ls.id != neighbour.id]
        neighbour.control.send(Message(body=body))
        neighbour.hello_sent = True

    def _own_link_state(self) -> dict[str, Any]:
        links = {n.id: n.cost for n in self.neighbours.values() if n.mode == "interior"}
        edges = sorted(n.id for n in self.neighbours.values() if n.mode == "edge")
        addresses = set(self.local_addresses())
        for n in self.neighbours.values():
            if n.mode == "edge":
                addresses.update(n.addresses)
        return {"id": self.router.id, "seq": self._seq, "links": links, "edges": edges,
                "addresses": sorted(addresses), "metadata": self.router.router_entity.get("metadata")}

    def _on_control(self, record: ConnectionRecord, message: Message) -> None:
        body = message.body if isinstance(message.body, dict) else {}
        neighbour = self.neighbours.get(record.identity)
        if neighbour is None or body.get("op") != "HELLO":
            return
        first = not neighbour.mode
        addresses = list(body.get("addresses") or [])
        changed = first or addresses != neighbour.addresses
        neighbour.mode = body.get("mode", "interior")
        neighbour.id = body.get("id", neighbour.id)
        neighbour.metadata = body.get("metadata")
        neighbour.addresses = addresses
        neighbour.cost = max(neighbour.cost, int(body.get("cost") or 1))
        neighbour.last_hello = time.monotonic()
        if first:
            self.router.log.info("ROUTER_HELLO", "Neighbor %s (%s) up" % (neighbour.id, neighbour.mode))
        for raw in body.get("ls") or []:
            if raw.get("id") == self.router.id:
                continue
            known = self.link_states.get(raw["id"])
            # Only a newer sequence number refreshes a link state, so the state of a router
            # that is gone ages out even while other routers still relay their last copy.
            if known is None or raw["seq"] > known.seq:
                changed = changed or known is None or known.addresses != list(raw.get("addresses") or [])
                self.link_states[raw["id"]] = LinkState(raw["id"], raw["seq"], dict(raw.get("links") or {}),
                                                        list(raw.get("edges") or []),
                                                        list(raw.get("addresses") or []), raw.get("metadata"))
                self._ls_arrived[raw["id"]] = time.monotonic()
        self._compute_routes()
        if changed:  # our link state or served addresses changed: tell every neighbour now
            self._announce()

    def _announce(self) -> None:
        """Send a HELLO with a new link-state sequence number to every neighbour now."""
        self._seq += 1
        for neighbour in self.neighbours.values():
            self._send_hello(neighbour)

    # -- routing --------------------------------------------------------------------------------

    def local_addresses(self) -> set[str]:
        """Mobile addresses with a consumer on this router (temporary reply addresses excluded)."""
        served = {a for a in self.router.consumers.addresses() if not a.startswith("temp.")}
        return served | self.advertised

    def advertise(self, address: str) -> None:
        """Announce a mobile address served here (for a data plane's tcpConnector)."""
        if address not in self.advertised:
            self.advertised.add(address)
            self._announce()

    def withdraw(self, address: str) -> None:
        if address in self.advertised:
            self.advertised.discard(address)
            self._announce()

    def reachable(self, address: str) -> bool:
        """True when some other router currently serves the mobile ``address``.

        An edge learns it from the link states its interior uplink floods to it.
        """
        if self.router.mode == "edge":
            return self._uplink() is not None and any(
                address in ls.addresses for ls in self.link_states.values())
        return self._mobile_next_hop(address) is not None

    def targets(self, address: str) -> list[tuple[str, str, int]]:
        """Other routers serving the mobile ``address`` as ``(kind, router id, path cost)``.

        Interior routers list attached edges (kind ``edge``, the edge link's cost) and
        reachable interiors (kind ``interior``, the sum of link costs). An edge lists its
        uplink (kind ``uplink``) when the address is served somewhere beyond it.
        """
        if self.router.mode == "edge":
            uplink = self._uplink()
            return [("uplink", uplink.id, uplink.cost)] if uplink and self.reachable(address) else []
        found = [("edge", n.id, n.cost) for n in self.neighbours.values()
                 if n.mode == "edge" and address in n.addresses]
        for ls in self.link_states.values():
            route = self._routes.get(ls.id)
            if route is not None and address in ls.addresses:
                found.append(("interior", ls.id, route[1]))
        return found

    def has_route(self, address: str) -> bool:
        """True when a message for the topological ``address`` can be sent on now."""
        parsed = parse(address)
        if parsed.router in (None, self.router.id):
            return True
        neighbour = self._next_hop(parsed)
        return neighbour is not None and neighbour.data is not None

    def _interior_neighbours(self) -> dict[str, Neighbour]:
        return {n.id: n for n in self.neighbours.values() if n.mode == "interior"}

    def _compute_routes(self) -> None:
        """Least-cost paths from here over the links both ends report (fresh link states)."""
        routes: dict[str, tuple[str, int]] = {}
        if self.router.mode == "interior":
            me = self.router.id
            graph: dict[str, dict[str, int]] = {ls.id: ls.links for ls in self.link_states.values()}
            graph[me] = {n: neighbour.cost for n, neighbour in self._interior_neighbours().items()}

            def links(node: str) -> list[tuple[str, int]]:
                return [(peer, cost) for peer, cost in graph.get(node, {}).items()
                        if node in graph.get(peer, {})]

            heap = [(cost, peer, peer) for peer, cost in links(me)]
            heapq.heapify(heap)
            while heap:
                cost, node, hop = heapq.heappop(heap)
                if node in routes or node == me:
                    continue
                routes[node] = (hop, cost)
                for peer, link_cost in links(node):
                    if peer not in routes:
                        heapq.heappush(heap, (cost + link_cost, peer, hop))
        for node, (_, cost) in self._routes.items():
            if node not in routes:  # unreachable now: still listed until its link state ages out
                self._stale[node] = cost
        for node in routes:
            self._stale.pop(node, None)
        self._routes = routes

    def node_records(self) -> list[dict[str, Any]]:
        """``router.node``: this router, the reachable interiors and, until their link state is
        ``remoteLsMaxAgeSeconds`` old, the ones no longer reachable. None on an edge."""
        router = self.router
        if router.mode == "edge":
            return []
        now = time.monotonic()
        for node in [n for n in self._stale
                     if now - self._ls_arrived.get(n, 0.0) > self.remote_ls_max_age]:
            del self._stale[node]
        records = [self._node_record(router.id, "(self)", None, None,
                                     sorted(self._interior_neighbours()), 0)]
        nodes = sorted(set(self._routes) | set(self._stale))
        for index, node in enumerate(nodes, start=1):
            ls = self.link_states.get(node)
            if node in self._routes:
                hop, cost = self._routes[node]
                neighbour = self._interior_neighbours().get(node)
                records.append(self._node_record(node, None if neighbour else hop,
                                                 neighbour.record.identity if neighbour else None,
                                                 cost, sorted(ls.links) if ls else [], index))
            else:
                records.append(self._node_record(node, None, None, self._stale[node],
                                                 sorted(ls.links) if ls else [], index))
        return records

    @staticmethod
    def _node_record(node: str, next_hop: str | None, link: int | None, cost: int | None,
                     link_state: list[str], index: int) -> dict[str, Any]:
        return {"name": "router.node/%s" % node, "identity": "router.node/%s" % node,
                "type": "io.skupper.router.router.node", "id": node, "nextHop": next_hop,
                "address": "amqp:/_topo/0/%s" % node, "cost": cost, "index": index,
                "protocolVersion": 1, "linkState": link_state, "validOrigins": [],
                "routerLink": link, "instance": None, "lastTopoChange": None}

    def forward(self, message: Message, address: str, parsed: Address,
                origin: Delivery | None = None) -> bool | None:
        """Send ``message`` towards ``address``: True sent and done, None sent and waiting for
        the next hop's outcome (``origin`` settles then), False no route."""
        neighbour = self._next_hop(parsed)
        if neighbour is None or neighbour.data is None:
            return False
        message.address = address
        neighbour.queue.append((message, origin))
        self._flush(neighbour)
        return None if origin is not None else True

    def _next_hop(self, parsed: Address) -> Neighbour | None:
        router = self.router
        if router.mode == "edge":
            return self._uplink()
        if parsed.router is None:
            return self._mobile_next_hop(parsed.local)
        target = parsed.router
        by_id = {n.id: n for n in self.neighbours.values()}
        if parsed.edge:
            if target in by_id and by_id[target].mode == "edge":
                return by_id[target]
            owner = next((ls.id for ls in self.link_states.values() if target in ls.edges), None)
            if owner is None:
                return None
            target = owner
        route = self._routes.get(target)
        return self._interior_neighbours().get(route[0]) if route else None

    def _uplink(self) -> Neighbour | None:
        return next((n for n in self.neighbours.values() if n.mode == "interior"), None)

    def _mobile_next_hop(self, address: str) -> Neighbour | None:
        if self.router.mode == "edge":
            return self._uplink()
        for neighbour in self.neighbours.values():
            if neighbour.mode == "edge" and address in neighbour.addresses:
                return neighbour
        best: tuple[int, str] | None = None
        for ls in self.link_states.values():
            if address in ls.addresses and ls.id in self._routes:
                hop, cost = self._routes[ls.id]
                if best is None or cost < best[0]:
                    best = (cost, hop)
        return self._interior_neighbours().get(best[1]) if best else None

    def _flush(self, neighbour: Neighbour) -> None:
        while neighbour.queue and neighbour.data.credit > 0:
            message, origin = neighbour.queue.popleft()
            forwarded = wire.send(neighbour.data, message)
            if origin is not None:
                self._pending[forwarded] = origin
            else:  # nobody waits for the outcome: send it settled (no disposition round trip)
                forwarded.settle()

    def delivery_outcome(self, delivery: Delivery, outcome: int) -> bool:
        """Propagate a next hop's outcome to the origin; True if ``delivery`` was forwarded."""
        if delivery not in self._pending:
            return False
        self._settle_origin(delivery, outcome)
        return True

    def _settle_origin(self, forwarded: Delivery, outcome: int) -> None:
        origin = self._pending.pop(forwarded, None)
        if origin is not None and not origin.settled:
            origin.update(outcome)
            origin.settle()


def _ls_dict(ls: LinkState) -> dict[str, Any]:
    return {"id": ls.id, "seq": ls.seq, "links": ls.links, "edges": ls.edges,
            "addresses": ls.addresses, "metadata": ls.metadata}


class _Timer:
    """A reactor timer handler calling ``callback``."""

    def __init__(self, callback: Any) -> None:
        self._callback = callback

    def on_timer_task(self, event: Any) -> None:
        self._callback()
