"""capabilities (http://hl7.org/fhir/R4/http.html#capabilities): `GET [base]/metadata`."""

from __future__ import annotations

from ..services.repository import FhirRepository
from .model import FhirRequest, FhirResponse
from .route import Route


def handle_capabilities(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    mode = req.param("mode") or "full"
    statement = dict(repo.components.capability_statement)
    if mode == "normative":
        statement.pop("rest", None)
    return FhirResponse(200, statement)
