"""The one URL table of the FHIR API: a request path + method → an interaction handler.

Interactions are declared as data (`INTERACTIONS`); the CapabilityStatement is generated from the
same table, so it lists exactly what is routed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..core import errors as E
from ..core.clock import serving
from ..services.repository import FhirRepository
from .conditional import (
    handle_conditional_delete,
    handle_conditional_patch,
    handle_conditional_update,
)
from .create import handle_create
from .delete import handle_delete
from .history import handle_history
from .model import FhirRequest, FhirResponse
from .patch import handle_patch
from .read import handle_read, handle_vread
from .route import Route
from .search import handle_search
from .update import handle_update

Handler = Callable[[FhirRepository, FhirRequest, Route], FhirResponse]


@dataclass(frozen=True)
class InteractionSpec:
    code: str  # CapabilityStatement interaction code
    level: str  # "instance" | "type" | "system"
    handler: Handler


INTERACTIONS: dict[str, InteractionSpec] = {
    "read": InteractionSpec("read", "instance", handle_read),
    "vread": InteractionSpec("vread", "instance", handle_vread),
    "update": InteractionSpec("update", "instance", handle_update),
    "patch": InteractionSpec("patch", "instance", handle_patch),
    "delete": InteractionSpec("delete", "instance", handle_delete),
    "history-instance": InteractionSpec("history-instance", "instance", handle_history),
    "history-type": InteractionSpec("history-type", "type", handle_history),
    "create": InteractionSpec("create", "type", handle_create),
    "history-system": InteractionSpec("history-system", "system", handle_history),
    "search-type": InteractionSpec("search-type", "type", handle_search),
    "search-system": InteractionSpec("search-system", "system", handle_search),
    "search-compartment": InteractionSpec("search-compartment", "type", handle_search),
    "conditional-update": InteractionSpec("conditional-update", "type", handle_conditional_update),
    "conditional-patch": InteractionSpec("conditional-patch", "type", handle_conditional_patch),
    "conditional-delete": InteractionSpec("conditional-delete", "type", handle_conditional_delete),
}


def resolve(req: FhirRequest) -> Route:
    """Map method + path to a Route; 400/404/405 for what the API does not have."""
    seg = req.segments
    method = "GET" if req.method == "HEAD" else req.method
    n = len(seg)
    if n == 0:
        return _pick(method, {"POST": "batch-transaction", "GET": "search-system"}, Route(""))
    head = seg[0]
    if n == 1 and head == "metadata":
        return _pick(method, {"GET": "capabilities"}, Route(""))
    if n == 1 and head == "_history":
        return _pick(method, {"GET": "history-system"}, Route(""))
    if n == 1 and head == "_search":  # POST [base]/_search: system search, form-encoded
        return _pick(method, {"POST": "search-system"}, Route(""))
    if head.startswith("$"):
        return Route("operation", operation=head) if n == 1 else _unknown(req)
    rtype = head
    if n == 1:
        table = {
            "GET": "search-type",
            "POST": "create",
            "PUT": "conditional-update",
            "PATCH": "conditional-patch",
            "DELETE": "conditional-delete",
        }
        return _pick(method, table, Route("", rtype))
    second = seg[1]
    if n == 2 and second == "_search":
        return _pick(method, {"POST": "search-type"}, Route("", rtype))
    if n == 2 and second == "_history":
        return _pick(method, {"GET": "history-type"}, Route("", rtype))
    if n == 2 and second.startswith("$"):
        return Route("operation", rtype, operation=second)
    rid = second
    if n == 2:
        table = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        return _pick(method, table, Route("", rtype, rid))
    third = seg[2]
    if n == 3 and third == "_history":
        return _pick(method, {"GET": "history-instance"}, Route("", rtype, rid))
    if n == 4 and third == "_history":
        return _pick(method, {"GET": "vread"}, Route("", rtype, rid, seg[3]))
    if n == 3 and third.startswith("$"):
        return Route("operation", rtype, rid, operation=third)
    if n == 3:
        return _pick(
            method, {"GET": "search-compartment"}, Route("", rtype, rid, compartment_type=third)
        )
    if n == 4 and seg[3] == "_search":  # POST Patient/123/Observation/_search
        return _pick(
            method, {"POST": "search-compartment"}, Route("", rtype, rid, compartment_type=third)
        )
    return _unknown(req)


def _pick(method: str, table: dict[str, str], route: Route) -> Route:
    code = table.get(method)
    if code is None:
        allowed = ", ".join(sorted(table))
        raise E.method_not_allowed(f"{method} is not allowed here (allowed: {allowed})")
    return Route(
        code, route.resource_type, route.id, route.version, route.operation, route.compartment_type
    )


def _unknown(req: FhirRequest) -> Route:
    raise E.FhirError(
        404, E.error("not-found", f"No FHIR endpoint at '{req.path}'", message_id="JY-0404-PATH")
    )


def dispatch(repo: FhirRepository, req: FhirRequest) -> FhirResponse:
    """Route and run one request (the HTTP layer and Bundle entries both come through here)."""
    route = resolve(req)
    spec = repo.components.interactions.get(route.interaction)
    if spec is None:
        raise E.FhirError(
            501 if route.interaction != "operation" else 404,
            E.error(
                "not-supported",
                f"The {route.interaction} interaction is not supported",
                message_id="JY-0501",
            ),
        )
    if route.resource_type:
        repo.check_type(route.resource_type)
    with serving(repo.components.clock):  # computed search parameters read "today" from it
        return spec.handler(repo, req, route)
