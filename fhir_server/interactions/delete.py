"""delete (http://hl7.org/fhir/R4/http.html#delete): a tombstone version; then 410 on read."""

from __future__ import annotations

from ..core.errors import information
from ..core.ids import etag
from ..core.outcome import operation_outcome
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .route import Route
from .update import if_match


def handle_delete(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type and route.id
    record = repo.delete(route.resource_type, route.id, if_match(req))
    if record is None:
        return FhirResponse(204)
    message = f"Deleted {route.resource_type}/{route.id} (version {record.version_id})"
    return FhirResponse(
        200, operation_outcome([information(message)]), {"ETag": etag(record.version_id)}
    )
