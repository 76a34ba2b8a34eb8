"""create (http://hl7.org/fhir/R4/http.html#create): 201 + Location + ETag; conditional create with
`If-None-Exist` (#ccreate): 200 with the existing resource on one match, 412 on several."""

from __future__ import annotations

from ..services.conditional import conditional_create
from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .render import version_headers, write_response
from .route import Route


def handle_create(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type
    criteria = req.header("if-none-exist")
    if criteria:
        created, existing = conditional_create(
            repo, route.resource_type, req.body, criteria, req.assigned_id
        )
        if existing is not None:
            return FhirResponse(200, existing.content, version_headers(existing))
        assert created is not None
        return write_response(
            req, repo.ctx.base_url, created.record, 201, "Created", list(created.issues)
        )
    result = repo.create(route.resource_type, req.body, req.assigned_id)
    return write_response(
        req, repo.ctx.base_url, result.record, 201, "Created", list(result.issues)
    )
