"""`FhirResponse`/errors → HTTP responses (FHIR JSON, `_pretty`, headers)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.errors import FhirError
from ..core.jsonio import dumps
from ..core.outcome import operation_outcome
from ..interactions.model import FhirResponse

FHIR_JSON_UTF8 = "application/fhir+json; charset=utf-8"


def json_response(
    status: int, body: Any, headers: dict[str, str] | None = None, pretty: bool = False
) -> Response:
    content = b"" if body is None else dumps(body, pretty)
    return Response(
        content=content,
        status_code=status,
        headers=headers or {},
        media_type=FHIR_JSON_UTF8 if body is not None else None,
    )


def fhir_response(resp: FhirResponse, pretty: bool, head: bool = False) -> Response:
    body: Any = resp.resource
    if body is None and resp.issues:
        body = operation_outcome(resp.issues)
    if head or resp.status in (204, 304):
        response = json_response(resp.status, None, resp.headers)
        return response
    return json_response(resp.status, body, resp.headers, pretty)


def error_response(exc: FhirError, pretty: bool = False) -> Response:
    return json_response(exc.status, operation_outcome(exc.issues), dict(exc.headers), pretty)
