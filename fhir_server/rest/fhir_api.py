"""The FHIR endpoint: every method under `/fhir` goes through `interactions.router.dispatch`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..auth.bearer import TokenVerifier, authenticate
from ..core import errors as E
from ..interactions.model import FhirRequest
from ..interactions.router import dispatch, resolve
from ..services.audit import AuditRecord, entry_records, route_targets
from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from .negotiation import check_format, media_type, parse_body
from .responses import error_response, fhir_response

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def build_router(
    components: ServerComponents,
    base_url: str,
    max_request_bytes: int,
    verifier: TokenVerifier | None = None,
) -> APIRouter:
    """`verifier` None: authorisation off (every caller has full access; loopback only)."""
    router = APIRouter()

    async def endpoint(request: Request, path: str = "") -> Response:
        pretty = request.query_params.get("_pretty") == "true"
        principal = None
        fhir_request: FhirRequest | None = None
        try:
            if verifier is not None and not _public(request.method, path):
                principal = await run_in_threadpool(
                    authenticate, request.headers.get("authorization"), verifier
                )
            fhir_request = await _fhir_request(request, path, max_request_bytes)
            ctx = RequestContext(
                base_url=base_url, request_id=request.state.request_id, principal=principal
            )
            repo = FhirRepository(ctx, components)
            result = await run_in_threadpool(dispatch, repo, fhir_request)
            _audit(
                components, request, path, principal, fhir_request, result.status, result.resource
            )
            return fhir_response(result, pretty, head=request.method == "HEAD")
        except E.FhirError as exc:
            _audit(components, request, path, principal, fhir_request, exc.status, None)
            return error_response(exc, pretty)

    router.add_api_route("/fhir", endpoint, methods=METHODS, include_in_schema=False)
    router.add_api_route("/fhir/", endpoint, methods=METHODS, include_in_schema=False)
    router.add_api_route("/fhir/{path:path}", endpoint, methods=METHODS, include_in_schema=False)
    return router


def _audit(
    components: ServerComponents,
    request: Request,
    path: str,
    principal: Any,
    fhir_request: FhirRequest | None,
    status: int,
    resource: Any,
) -> None:
    """Hand the request to the audit trail (when authorisation is on): accesses and denials."""
    sink = components.audit
    if sink is None or (principal is None and status not in (401, 403)):
        return
    interaction, query = "", request.url.query
    targets: tuple[str, ...] = ()
    named = fhir_request or FhirRequest(
        request.method, path, list(request.query_params.multi_items())
    )
    if named is not None:
        query = urlencode(named.query)  # POST _search: the body's parameters too
        try:
            route = resolve(named)
            interaction = route.interaction
            targets = route_targets(route.resource_type, route.id, named.query)
        except E.FhirError:
            interaction = ""
    record = AuditRecord(
        recorded=datetime.now(UTC),
        method=request.method,
        path=path,
        query=query,
        status=status,
        source_ip=request.client.host if request.client else None,
        request_id=request.state.request_id,
        principal=principal,
        resource=resource if interaction != "batch-transaction" else None,
        interaction=interaction,
        targets=targets,
    )
    sink.record(record)
    if interaction == "batch-transaction" and fhir_request is not None:
        for entry in entry_records(record, fhir_request.body, resource, _entry_route):
            sink.record(entry)


def _entry_route(
    method: str, path: str, query: list[tuple[str, str]]
) -> tuple[str, str | None, str | None]:
    route = resolve(FhirRequest(method, path, query))
    return route.interaction, route.resource_type, route.id


def _public(method: str, path: str) -> bool:
    """The CapabilityStatement is readable without a token (SMART discovery needs it)."""
    return method in ("GET", "HEAD") and path.strip("/") == "metadata"


async def _fhir_request(request: Request, path: str, limit: int) -> FhirRequest:
    resolve(FhirRequest(request.method, path))  # 404/405 for what is not there, whatever the body
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = b""
    if request.method in ("POST", "PUT", "PATCH"):
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        raw = b"".join(chunks)
    query = [
        (k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")
    ]
    _check_query(query)
    check_format(request.query_params.get("_format"), request.headers.get("accept"))
    content_type = request.headers.get("content-type")
    body: Any = None
    if request.method == "POST" and path.rstrip("/").endswith("_search"):
        # POST [type]/_search: parameters form-encoded in the body, joined to the URL's.
        if media_type(content_type) not in (None, "application/x-www-form-urlencoded"):
            raise E.FhirError(
                415,
                E.error(
                    "not-supported",
                    "POST _search takes application/x-www-form-urlencoded",
                    "Content-Type",
                ),
            )
        query = [*query, *parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)]
    else:
        body = parse_body(request.method, content_type, raw)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return FhirRequest(request.method, path, query, headers, body, content_type)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _check_query(query: list[tuple[str, str]]) -> None:
    """No FHIR value holds a control character (datatypes.html#string), and PostgreSQL cannot
    compare text with NUL in it: such a parameter is refused before it reaches a query."""
    for key, value in query:
        if _CONTROL.search(key) or _CONTROL.search(value):
            raise E.bad_request(
                f"The query parameter '{key.encode('unicode_escape').decode()}' holds a control "
                "character",
                key.encode("unicode_escape").decode(),
            )


def _too_large(limit: int) -> E.FhirError:
    return E.FhirError(
        413,
        E.error(
            "too-costly",
            f"The request body exceeds the limit of {limit} bytes",
            message_id="JY-0413",
        ),
    )
