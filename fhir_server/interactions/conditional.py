"""Conditional update, patch and delete at `[type]?criteria` (R4 http.html#cond-update, #cond-patch,
#cdelete); conditional create lives in `create.py` (`If-None-Exist`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ..core.errors import information
from ..core.outcome import operation_outcome
from ..services import conditional
from ..services.patching import apply_fhirpath_patch, apply_json_patch, detect_patch_format
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .render import write_response
from .route import Route
from .update import if_match

#: At most this many resources are deleted by one conditional delete (more → 412).
MAX_CONDITIONAL_DELETE = 100


def _criteria(req: FhirRequest) -> str:
    return urlencode([(k, v) for k, v in req.query if k not in ("_pretty", "_format")])


def handle_conditional_update(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type
    result = conditional.conditional_update(
        repo, route.resource_type, req.body, _criteria(req), if_match(req)
    )
    status = 201 if result.created else 200
    message = "Created" if result.created else "Updated"
    return write_response(
        req, repo.ctx.base_url, result.record, status, message, list(result.issues)
    )


def handle_conditional_patch(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type
    fmt = detect_patch_format(req.content_type or "application/fhir+json")
    body = req.body

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        return (
            apply_json_patch(current, body)
            if fmt == "json-patch"
            else apply_fhirpath_patch(current, body)
        )

    result = conditional.conditional_patch(
        repo, route.resource_type, _criteria(req), apply, if_match(req)
    )
    return write_response(
        req, repo.ctx.base_url, result.record, 200, "Patched", list(result.issues)
    )


def handle_conditional_delete(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type
    deleted = conditional.conditional_delete(
        repo, route.resource_type, _criteria(req), MAX_CONDITIONAL_DELETE
    )
    if not deleted:
        return FhirResponse(204)
    names = ", ".join(f"{d.resource_type}/{d.id}" for d in deleted)
    return FhirResponse(200, operation_outcome([information(f"Deleted {len(deleted)}: {names}")]))
