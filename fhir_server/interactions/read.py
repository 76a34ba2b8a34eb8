"""read and vread (http://hl7.org/fhir/R4/http.html#read, #vread), with conditional read.

`If-None-Match` (ETag) and `If-Modified-Since` give 304; `_summary` and `_elements` shape the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ..core.ids import parse_etag
from ..services.repository import FhirRepository
from ..storage.ports import StoredResource
from .model import FhirRequest, FhirResponse
from .presentation import shape_resource
from .render import version_headers
from .route import Route


def handle_read(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type and route.id
    record = repo.read(route.resource_type, route.id)
    return _respond(repo, req, record, conditional=True)


def handle_vread(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    assert route.resource_type and route.id and route.version
    record = repo.vread(route.resource_type, route.id, route.version)
    return _respond(repo, req, record, conditional=False)


def http_date_value(value: str) -> datetime | None:
    """An HTTP date (RFC 9110 §5.6.7) as an aware datetime; a date without a zone is read as UTC
    (HTTP dates are GMT by definition); None when the value is no date at all."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _not_modified(req: FhirRequest, record: StoredResource) -> bool:
    if_none_match = req.header("if-none-match")
    if if_none_match is not None:
        tags = {parse_etag(t) for t in if_none_match.split(",")}
        return "*" in tags or str(record.version_id) in tags
    since = req.header("if-modified-since")
    if since:
        when = http_date_value(since)
        return when is not None and record.last_updated.replace(microsecond=0) <= when
    return False


def _respond(
    repo: FhirRepository, req: FhirRequest, record: StoredResource, conditional: bool
) -> FhirResponse:
    headers = version_headers(record)
    if conditional and _not_modified(req, record):
        return FhirResponse(304, None, headers)
    assert record.content is not None
    return FhirResponse(200, shape_resource(repo, req, record.content), headers)
