"""The ``$management`` agent: AMQP management requests in, (status, description, body) out.

Behaves like skupper-router 2.5.3's agent:

* QUERY (``entityType``; ``type`` is accepted too) with ``attributeNames`` (empty: all of the
  type's attributes) → 200 ``{attributeNames, results}``; unknown attribute names → 404;
  records whose requested values are all null are left out; ``offset``/``count`` page.
* READ / DELETE by ``name`` or ``identity`` → 200 record / 204; no such entity → 404; an
  entity of another type than ``type`` → 400.
* CREATE with ``type``/``name`` properties and the attributes as body → 201 record; schema
  errors, duplicates and conflicts → 400.
* GET-TYPES, GET-ATTRIBUTES, GET-OPERATIONS, GET-MGMT-NODES, GET-ANNOTATIONS.
* An operation the type does not allow, or an unknown one → 501; anything else failing → 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schema import SchemaError

if TYPE_CHECKING:
    from .router import Router

STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
               401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               500: "Internal Server Error", 501: "Not Implemented"}
_NODE_OPERATIONS = ("QUERY", "GET-TYPES", "GET-ATTRIBUTES", "GET-OPERATIONS", "GET-MGMT-NODES",
                    "GET-ANNOTATIONS")


class ManagementError(Exception):
    """A request failed with an AMQP management status code."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Agent:
    """Answers management requests against one router."""

    def __init__(self, router: "Router") -> None:
        self.router = router
        self.schema = router.schema

    def handle(self, properties: dict[str, Any] | None, body: Any) -> tuple[int, str, Any]:
        """Process one request; never raises."""
        properties = properties or {}
        try:
            status, result = self._dispatch(properties, body)
            return status, STATUS_TEXT[status], result
        except ManagementError as exc:
            return exc.status, exc.description, {}
        except SchemaError as exc:
            return 400, str(exc), {}
        except Exception as exc:  # the real agent maps any other failure to 500
            return 500, "%s: %s" % (type(exc).__name__, exc), {}

    # -- dispatch -------------------------------------------------------------------------------

    def _dispatch(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        operation = props.get("operation")
        if not operation:
            raise ManagementError(400, "No 'operation' property: %s" % props)
        operation = str(operation).upper()
        if operation == "CREATE":
            return self._create(props, body)
        if operation in _NODE_OPERATIONS and not self._names_entity(props):
            return getattr(self, "_" + operation.lower().replace("-", "_"))(props, body)
        if operation in ("READ", "DELETE", "UPDATE"):
            return self._entity_operation(operation, props, body)
        raise ManagementError(501, "Operation '%s' not implemented" % operation)

    @staticmethod
    def _names_entity(props: dict[str, Any]) -> bool:
        return any(props.get(key) not in (None, "self") for key in ("name", "identity"))

    def _requested_type(self, props: dict[str, Any], *keys: str) -> str | None:
        for key in keys:
            if props.get(key):
                return self.schema.full_type(props[key])
        return None

    # -- management node operations -------------------------------------------------------------

    def _query(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        full_type = self._requested_type(props, "entityType")
        if full_type is None:
            # Accept the entity type in ``type`` too, unless it names the management node.
            full_type = self._requested_type(props, "type")
            if full_type in (self.schema.full_type("management"),
                             self.schema.full_type("org.amqp.management")):
                full_type = None
        body = body if isinstance(body, dict) else {}
        if full_type:
            all_names = self.schema.attribute_names(full_type)
            records = self.router.records(self.schema.entity_type(full_type).short_name)
        else:
            all_names = sorted({n for t in self._types() for n in self.schema.attribute_names(t)})
            records = self.router.all_records()
        names = list(body.get("attributeNames") or [])
        if names:
            unknown = [n for n in names if n not in all_names and not self._extra_column(full_type, n)]
            if unknown:
                for_type = " for type %s" % full_type if full_type else ""
                raise ManagementError(404, "Unknown attributes %s%s." % (unknown, for_type))
        else:
            names = all_names
        rows = [[record.get(n) for n in names] for record in records]
        rows = [row for row in rows if any(value is not None for value in row)]
        offset = int(props.get("offset") or 0)
        count = props.get("count")
        rows = rows[offset:] if count is None else rows[offset:offset + int(count)]
        return 200, {"attributeNames": names, "results": rows}

    def _extra_column(self, full_type: str | None, name: str) -> bool:
        # The core agent's connection records carry "active", which the 2.5.3 schema lacks.
        return full_type == self.schema.full_type("connection") and name == "active"

    def _types(self) -> list[str]:
        return [self.schema.full_type(t) for t in self.router.record_types()]

    def _get_types(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.entity_type(t).bases for t in self._all_schema_types()
                     if not wanted or t == wanted}

    def _get_attributes(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.attribute_names(t) for t in self._all_schema_types()
                     if not wanted or t == wanted}

    def _get_operations(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        wanted = self._requested_type(props, "entityType")
        return 200, {t: self.schema.operations(t) for t in self._all_schema_types()
                     if not wanted or t == wanted}

    def _get_mgmt_nodes(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        return 200, self.router.management_nodes()

    def _get_annotations(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        return 200, {}

    def _all_schema_types(self) -> list[str]:
        return self._types()

    # -- entity operations ----------------------------------------------------------------------

    def _create(self, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        attributes = dict(body) if isinstance(body, dict) else {}
        if body not in (None, {}) and not isinstance(body, dict):
            raise ManagementError(400, "CREATE body must be a map of attributes")
        for key in ("type", "name"):
            prop = props.get(key)
            if prop:
                old = attributes.get(key)
                if old is not None and old != prop and not (
                        key == "type" and self.schema.full_type(old) == self.schema.full_type(prop)):
                    raise ManagementError(400, "Conflicting values for '%s'" % key)
                attributes[key] = prop
        if attributes.get("identity") is not None:
            raise ManagementError(400, "'identity' attribute cannot be specified %s" % attributes)
        if not attributes.get("type"):
            raise ManagementError(400, "No 'type' attribute in %s" % attributes)
        full_type = self.schema.full_type(attributes["type"])
        self._check_allowed(full_type, "CREATE")
        return 201, self.router.create_entity(full_type, attributes)

    def _entity_operation(self, operation: str, props: dict[str, Any], body: Any) -> tuple[int, Any]:
        requested = self._requested_type(props, "type")
        ids = {k: props[k] for k in ("name", "identity") if props.get(k) is not None}
        if not ids:
            raise ManagementError(400, "%s: No name or identity provided" % requested)
        key, value = next(iter(ids.items()))
        found = [r for r in self.router.all_records() if r.get(key) == value]
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
        raise ManagementError(501, "Operation 'UPDATE' not implemented on %s" % record["type"])

    def _check_allowed(self, full_type: str, operation: str) -> None:
        if operation not in self.schema.operations(full_type):
            raise ManagementError(501, "Operation '%s' not implemented on %s" % (operation, full_type))
