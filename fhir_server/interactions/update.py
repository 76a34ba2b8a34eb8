"""update and update-as-create (http://hl7.org/fhir/R4/http.html#update), `If-Match` locking."""

from __future__ import annotations

from ..core import errors as E
from ..core.ids import parse_etag
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .render import write_response
from .route import Route


def if_match(req: FhirRequest) -> str | None:
    value = req.header("if-match")
    if value is None:
        return None
    version = parse_etag(value)
    if version is None:
        raise E.bad_request(f"If-Match header '{value}' names no version", "If-Match")
    return version


def handle_update(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type and route.id
    result = repo.update(route.resource_type, route.id, req.body, if_match(req))
    status = 201 if result.created else 200
    message = "Created" if result.created else "Updated"
    return write_response(
        req, repo.ctx.base_url, result.record, status, message, list(result.issues)
    )
