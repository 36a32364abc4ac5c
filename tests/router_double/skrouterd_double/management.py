"""The ``$management`` agent: AMQP management requests in, replies (or silence) out.

skupper-router 2.5.3 answers management requests with two agents, and the double does too:

* the **C core agent** takes CREATE/READ/UPDATE/DELETE/QUERY of ``router``, ``connection``,
  ``router.link``, ``router.address``, ``router.config.*``, ``tcpConnection`` and
  ``httpRequestInfo`` when the request names the *full*
  type (QUERY: ``entityType``, else ``type``). It echoes any ``correlation_id``. QUERY replaces
  unknown attribute names with ``name`` (no 404) and, without names, answers its own columns.
  ``router`` only supports QUERY: READ/CREATE/DELETE are 403 and UPDATE gets no reply at all;
  ``connection`` is READ by ``identity`` only (by ``name``: 400), DELETE is 403, CREATE gets no
  reply; ``router.link`` READ/CREATE/DELETE and ``router.address`` CREATE/DELETE get no reply.
  Its errors read "Not Found", "Forbidden", "Bad Request".
* the **Python agent** takes everything else. It echoes a string (or binary) ``correlation_id``
  but drops any other kind (int, ulong, uuid: the reply carries None). QUERY needs
  ``entityType`` (a ``type`` naming an entity type instead asks for one entity: 400 "No name or
  identity provided"); unknown attribute names → 404; rows whose requested values are all null
  are left out; ``offset``/``count`` are ignored (only the core agent pages, count 0 =
  all). READ/DELETE by ``name`` or
  ``identity`` → 200 record / 204; no such entity → 404; another type → 400. CREATE → 201;
  schema errors and duplicates → 400. An operation the type does not allow → 501 naming the
  type's operations; anything else failing → 500.

Every reply is sent pre-settled (see ``Router._serve_management``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .schema import SchemaError

if TYPE_CHECKING:
    from .router import Router

STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
               401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               500: "Internal Server Error", 501: "Not Implemented"}
_NODE_OPERATIONS = ("QUERY", "GET-TYPES", "GET-ATTRIBUTES", "GET-OPERATIONS", "GET-MGMT-NODES",
                    "GET-ANNOTATIONS")
_ENTITY_OPERATIONS = ("CREATE", "READ", "UPDATE", "DELETE", "QUERY")
# Types the C core agent owns (by short name) and the columns of its QUERY replies.
CORE_COLUMNS: dict[str, list[str]] = {
    "router": ["name", "identity", "id", "type", "mode", "area", "version", "metadata", "addrCount",
               "linkCount", "nodeCount", "autoLinkCount", "connectionCount", "presettledDeliveries",
               "droppedPresettledDeliveries", "acceptedDeliveries", "rejectedDeliveries",
               "releasedDeliveries", "modifiedDeliveries", "deliveriesDelayed1Sec",
               "deliveriesDelayed10Sec", "deliveriesStuck", "deliveriesIngress", "deliveriesEgress",
               "deliveriesTransit", "deliveriesIngressRouteContainer",
               "deliveriesEgressRouteContainer", "deliveriesRedirectedToFallback", "linksBlocked",
               "uptimeSeconds", "memoryUsage", "workerThreads", "residentMemoryUsage",
               "connectionCounters"],
    "connection": ["name", "identity", "host", "role", "protocol", "dir", "container", "sasl",
                   "isAuthenticated", "user", "isEncrypted", "sslProto", "sslCipher", "properties",
                   "sslSsf", "type", "ssl", "opened", "active", "adminStatus", "operStatus",
                   "uptimeSeconds", "lastDlvSeconds", "enableProtocolTrace", "meshId"],
    "router.link": ["name", "identity", "type", "linkName", "linkType", "linkDir", "owningAddr",
                    "capacity", "peer", "undeliveredCount", "unsettledCount", "deliveryCount",
                    "connectionId", "adminStatus", "operStatus", "presettledCount",
                    "droppedPresettledCount", "acceptedCount", "rejectedCount", "releasedCount",
                    "modifiedCount", "deliveriesDelayed1Sec", "deliveriesDelayed10Sec",
                    "deliveriesStuck", "openMovedStreams", "ingressHistogram", "priority",
                    "settleRate", "creditAvailable", "zeroCreditSeconds"],
    "router.address": ["name", "identity", "type", "key", "distribution", "inProcess",
                       "subscriberCount", "remoteCount", "remoteHostRouters", "deliveriesIngress",
                       "deliveriesEgress", "deliveriesTransit", "deliveriesToContainer",
                       "deliveriesFromContainer", "deliveriesEgressRouteContainer",
                       "deliveriesIngressRouteContainer", "transitOutstanding",
                       "trackedDeliveries", "priority", "deliveriesRedirectedToFallback", "watch"],
    "router.config.address": ["name", "identity", "type", "prefix", "distribution", "pattern",
                              "priority"],
    "router.config.autoLink": ["name", "identity", "type", "address", "addr", "direction", "dir",
                               "connection", "containerId", "externalAddress", "externalAddr",
                               "linkRef", "operStatus", "lastError"],
    "tcpConnection": ["name", "identity", "address", "host", "direction", "bytesIn", "bytesOut",
                      "uptimeSeconds", "lastInSeconds", "lastOutSeconds"],
    "httpRequestInfo": ["name", "identity", "address", "host", "site", "direction", "requests",
                        "bytesIn", "bytesOut", "maxLatency", "details"],
}
CONFIG_TYPES = ("router.config.address", "router.config.autoLink")
# Core-agent requests the real router never answers (the client times out).
_UNANSWERED = {("router", "UPDATE"), ("connection", "CREATE"), ("router.link", "CREATE"),
               ("router.link", "READ"), ("router.link", "DELETE"), ("router.address", "CREATE"),
               ("router.address", "DELETE")}


_EMPTY_MAP = object()


class ManagementError(Exception):
    """A request failed with an AMQP management status code."""

    def __init__(self, status: int, description: str, body: Any = _EMPTY_MAP) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        # the Python agent's error replies carry an empty map, the core agent's mostly none
        self.body = {} if body is _EMPTY_MAP else body


@dataclass
class Reply:
    """One answer: ``core`` tells which agent gave it (for the correlation id rule)."""

    status: int
    description: str
    body: Any
    core: bool


class _Silent(Exception):
    """The core agent drops this request without a reply."""


class Agent:
    """Answers management requests against one router."""

    def __init__(self, router: "Router") -> None:
        self.router = router
        self.schema = router.schema

    def handle(self, properties: dict[str, Any] | None, body: Any) -> Reply | None:
        """Process one request; None when the real router would not answer it."""
        properties = properties or {}
        core_type = self._core_type(properties)
        try:
            if core_type is not None:
                status, result = self._core(core_type, properties, body)
            else:
                status, result = self._dispatch(properties, body)
            return Reply(status, STATUS_TEXT[status], result, core_type is not None)
        except _Silent:
            return None
        except ManagementError as exc:
            return Reply(exc.status, exc.description, exc.body, core_type is not None)
        except SchemaError as exc:
            return Reply(400, str(exc), {}, core_type is not None)
        except Exception as exc:  # the real Python agent maps any other failure to 500
            return Reply(500, "%s: %s" % (type(exc).__name__, exc), {}, core_type is not None)

    # -- which agent ----------------------------------------------------------------------------

    def _core_type(self, props: dict[str, Any]) -> str | None:
        """The short core type a request is for, or None for the Python agent."""
        operation = str(props.get("operation") or "").upper()
        if operation not in _ENTITY_OPERATIONS:
            return None
        named = props.get("entityType") if operation == "QUERY" else None
        named = named or props.get("type")
        prefix = self.schema.prefix + "."
        if not isinstance(named, str) or not named.startswith(prefix):
            return None  # short names go to the Python agent
        short = named[len(prefix):]
        return short if short in CORE_COLUMNS else None

    # -- the core agent -------------------------------------------------------------------------

    def _core(self, short: str, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        operation = str(props["operation"]).upper()
        if (short, operation) in _UNANSWERED:
            raise _Silent()
        if operation == "QUERY":
            return self._core_query(short, props, body)
        if short == "router" or (short, operation) in (("connection", "DELETE"),
                                                       ("connection", "UPDATE")):
            if short == "connection" and operation == "UPDATE":
                raise ManagementError(400, "Bad Request")
            raise ManagementError(403, "Forbidden", None)
        if short == "connection" and props.get("identity") is None:
            raise ManagementError(400, "Name not supported. Identity required")
        if operation == "CREATE":
            attributes = dict(body) if isinstance(body, dict) else {}
            attributes["name"] = props.get("name")
            return 201, self.router.create_core_entity(short, attributes)
        record = self._core_lookup(short, props)
        if operation == "READ":
            return 200, record
        if operation == "DELETE" and short in CONFIG_TYPES:
            self.router.delete_core_entity(short, record["identity"])
            return 204, {}
        raise ManagementError(400, "Bad Request")

    def _core_query(self, short: str, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        records = self.router.core_records(short)
        known = set(CORE_COLUMNS[short]) | set(self.schema.attribute_names(short))
        names = [n if n in known else "name" for n in (body.get("attributeNames") or [])]
        names = names or list(CORE_COLUMNS[short])
        rows = _page([[record.get(n) for n in names] for record in records], props)
        return 200, {"attributeNames": names, "results": rows}

    def _core_lookup(self, short: str, props: dict[str, Any]) -> dict[str, Any]:
        for key in ("identity", "name"):
            value = props.get(key)
            if value is None:
                continue
            for record in self.router.core_records(short):
                if record.get(key) == value:
                    return record
            raise ManagementError(404, "Not Found")
        raise ManagementError(400, "Bad Request")

    # -- the Python agent -----------------------------------------------------------------------

    def _dispatch(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        operation = props.get("operation")
        if not operation:
            raise ManagementError(400, "No 'operation' property: %s" % props)
        operation = str(operation).upper()
        if operation == "CREATE":
            return self._create(props, body)
        if operation in _NODE_OPERATIONS and not self._names_entity(props):
            return getattr(self, "_" + operation.lower().replace("-", "_"))(props, body)
        if operation == "QUERY":
            # QUERY of one entity: the agent wants to know which one first.
            raise ManagementError(400, "%s: No name or identity provided"
                                  % self._requested_type(props, "type"))
        return self._entity_operation(operation, props, body)

    def _names_entity(self, props: dict[str, Any]) -> bool:
        if any(props.get(key) not in (None, "self") for key in ("name", "identity")):
            return True
        named = props.get("type")
        return bool(named) and props.get("entityType") is None and named not in (
            "org.amqp.management", self.schema.full_type("org.amqp.management"),
            self.schema.full_type("management"))

    def _requested_type(self, props: dict[str, Any], *keys: str) -> str | None:
        for key in keys:
            if props.get(key):
                return self.schema.full_type(props[key])
        return None

    # -- management node operations -------------------------------------------------------------

    def _query(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        full_type = self._requested_type(props, "entityType")
        body = body if isinstance(body, dict) else {}
        if full_type:
            all_names = self.schema.attribute_names(full_type)
            records = self.router.records(self.schema.entity_type(full_type).short_name)
        else:
            all_names = sorted({n for t in self._types() for n in self.schema.attribute_names(t)})
            records = self.router.all_records()
        names = list(body.get("attributeNames") or [])
        if names:
            unknown = [n for n in names if n not in all_names]
            if unknown:
                for_type = " for type %s" % full_type if full_type else ""
                raise ManagementError(404, "Unknown attributes %s%s." % (unknown, for_type))
        else:
            names = all_names
        rows = [[record.get(n) for n in names] for record in records]
        rows = [row for row in rows if any(value is not None for value in row)]
        return 200, {"attributeNames": names, "results": rows}  # offset/count are ignored

    def _types(self) -> list[str]:
        return [self.schema.full_type(t) for t in self.router.record_types()]

    def _get_types(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.entity_type(t).bases for t in self._types()
                     if not wanted or t == wanted}

    def _get_attributes(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.attribute_names(t) for t in self._types()
                     if not wanted or t == wanted}

    def _get_operations(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.operations(t) for t in self._types()
                     if not wanted or t == wanted}

    def _get_mgmt_nodes(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        return 200, self.router.management_nodes()

    def _get_annotations(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        return 200, {}

    # -- entity operations ----------------------------------------------------------------------

    def _create(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        if body not in (None, {}) and not isinstance(body, dict):
            raise ManagementError(400, "CREATE body must be a map of attributes")
        attributes = dict(body) if isinstance(body, dict) else {}
        for key in ("type", "name"):
            prop = props.get(key)
            if prop:
                old = attributes.get(key)
                if old is not None and old != prop and not (
                        key == "type" and self.schema.full_type(old) == self.schema.full_type(prop)):
                    raise ManagementError(400, "Conflicting values for '%s'" % key)
                attributes[key] = prop
        if attributes.get("identity") is not None:
            raise ManagementError(400, "Cannot set attribute 'identity' in CREATE")
        if not attributes.get("type"):
            raise ManagementError(400, "No 'type' attribute in %s" % attributes)
        full_type = self.schema.full_type(attributes["type"])
        self._check_allowed(full_type, "CREATE")
        return 201, self.router.create_entity(full_type, attributes)

    def _entity_operation(self, operation: str, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        requested = self._requested_type(props, "type")
        ids = {k: props[k] for k in ("name", "identity") if props.get(k) is not None}
        if not ids:
            if requested is None:
                self._check_allowed(self.schema.full_type("management"), operation)
            raise ManagementError(400, "%s: No name or identity provided" % requested)
        key, value = next(iter(ids.items()))
        found = [r for r in self.router.python_records() if r.get(key) == value]
        if not found:
            raise ManagementError(404, "No entity with %s" % " ".join(
                "%s=%s" % item for item in ids.items()))
        if len(found) > 1:
            raise ManagementError(500, "Duplicate (%d) entities with %s=%s" % (len(found), key, value))
        record = found[0]
        if any(record.get(k) != v for k, v in ids.items()):
            raise ManagementError(400, "Conflicting %s" % ids)
        if requested and not self.schema.is_a(record["type"], requested):
            raise ManagementError(400, "Entity type '%s' does not extend requested type '%s'"
                                  % (record["type"], requested))
        self._check_allowed(record["type"], operation)
        if operation == "READ":
            return 200, record
        if operation == "DELETE":
            self.router.delete_entity(record["type"], record["identity"])
            return 204, {}
        raise ManagementError(501, "Operation '%s' not implemented on %s" % (operation, record["type"]))

    def _check_allowed(self, full_type: str, operation: str) -> None:
        allowed = self.schema.operations(full_type)
        if full_type == self.schema.full_type("management"):
            allowed = allowed + ["READ"] if "READ" not in allowed else allowed
        if operation not in allowed:
            raise ManagementError(501, "Operation '%s' not implemented for '%s' %s"
                                  % (operation, full_type, allowed))


def _page(rows: list[list[Any]], props: dict[str, Any]) -> list[list[Any]]:
    offset = int(props.get("offset") or 0)
    count = int(props.get("count") or 0)
    return rows[offset:offset + count] if count else rows[offset:]
