"""Stored versions → response records: ETag, Last-Modified, Location, and the `Prefer` header."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from ..core.errors import Issue, information
from ..core.ids import etag
from ..core.outcome import operation_outcome
from ..storage.ports import StoredResource
from .model import FhirRequest, FhirResponse


def version_url(base_url: str, record: StoredResource) -> str:
    return f"{base_url}/{record.resource_type}/{record.id}/_history/{record.version_id}"


def http_date(record: StoredResource) -> str:
    return format_datetime(record.last_updated.replace(microsecond=0), usegmt=True)


def version_headers(record: StoredResource) -> dict[str, str]:
    return {"ETag": etag(record.version_id), "Last-Modified": http_date(record)}


def prefer_return(req: FhirRequest) -> str:
    """`return=minimal | representation | OperationOutcome`; representation by default."""
    for part in (req.header("prefer") or "").split(";"):
        for token in part.split(","):
            key, _, value = token.strip().partition("=")
            if key.strip() == "return":
                value = value.strip().strip('"')
                if value in ("minimal", "representation", "OperationOutcome"):
                    return value
    return "representation"


def write_response(
    req: FhirRequest,
    base_url: str,
    record: StoredResource,
    status: int,
    message: str,
    extra_issues: list[Issue] | None = None,
) -> FhirResponse:
    headers = version_headers(record)
    location = version_url(base_url, record)
    if status == 201:
        headers["Location"] = location
    headers["Content-Location"] = location
    mode = prefer_return(req)
    if mode == "minimal":
        return FhirResponse(status, None, headers)
    if mode == "OperationOutcome":
        issues = [information(message), *(extra_issues or [])]
        return FhirResponse(status, operation_outcome(issues), headers)
    resource: dict[str, Any] | None = record.content
    # Warnings of the write rules (WriteResult.issues) ride along: a Bundle entry's
    # `response.outcome`; a plain response keeps the resource as its body.
    return FhirResponse(status, resource, headers, list(extra_issues or []))
