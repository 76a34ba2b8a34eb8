"""patch (http://hl7.org/fhir/R4/http.html#patch): JSON Patch or FHIRPath Patch, then validated."""

from __future__ import annotations

from typing import Any

from ..services.patching import apply_fhirpath_patch, apply_json_patch, detect_patch_format
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .render import write_response
from .route import Route
from .update import if_match


def handle_patch(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type and route.id
    fmt = detect_patch_format(req.content_type or "application/fhir+json")
    body = req.body

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        if fmt == "json-patch":
            return apply_json_patch(current, body)
        return apply_fhirpath_patch(current, body)

    result = repo.patch(route.resource_type, route.id, apply, if_match(req))
    return write_response(
        req, repo.ctx.base_url, result.record, 200, "Patched", list(result.issues)
    )
