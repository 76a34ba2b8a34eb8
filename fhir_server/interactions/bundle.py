"""batch and transaction (http://hl7.org/fhir/R4/http.html#transaction).

Transaction: entries run in the spec's order (DELETE, POST, PUT/PATCH, GET/HEAD) inside one unit of
work; `urn:uuid:`/`urn:oid:` fullUrls get their ids first and every reference to them is rewritten;
any failing entry rolls everything back and its OperationOutcome is the response.
Batch: every entry on its own, failures reported per entry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..conformance.r4 import R4Definitions
from ..core import errors as E
from ..core.clock import serving
from ..core.ids import new_id
from ..core.outcome import operation_outcome
from ..core.refs import is_conditional, is_placeholder, parse_local, rewrite_references
from ..services import conditional
from ..services.batch import PendingCreateFailed, PendingCreates
from ..services.repository import FhirRepository
from .create import handle_create
from .model import FhirRequest, FhirResponse
from .placeholders import rewrite_links, unresolved_placeholders
from .render import write_response
from .route import Route

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_HEADER_FIELDS = {
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
    "ifNoneExist": "if-none-exist",
    "ifModifiedSince": "if-modified-since",
}


def handle_bundle(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    bundle = req.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise E.bad_request(
            "POST to the base URL takes a Bundle of type batch or transaction", "Bundle"
        )
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise E.bad_request(
            f"Bundle.type must be batch or transaction, not '{kind}'", "Bundle.type"
        )
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise E.bad_request("Bundle.entry must be an array", "Bundle.entry", code="structure")
    base_path = urlsplit(repo.ctx.base_url).path
    requests = [_entry_request(req, base_path, e, i) for i, e in enumerate(entries)]
    responses = _transaction(repo, requests) if kind == "transaction" else _batch(repo, requests)
    return FhirResponse(
        200,
        {
            "resourceType": "Bundle",
            "type": f"{kind}-response",
            "entry": [_response_entry(r) for r in responses],
        },
    )


# -- parsing entries ------------------------------------------------------------------------------
def _entry_request(
    outer: FhirRequest, base_path: str, entry: Any, index: int
) -> FhirRequest | E.FhirError:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        return E.bad_request("Each entry needs a request with method and url", f"{where}.request")
    request = entry["request"]
    method, url = request.get("method"), request.get("url")
    if method not in _ORDER or not isinstance(url, str) or not url:
        return E.bad_request(
            "entry.request needs a method (GET HEAD POST PUT PATCH DELETE) and a url",
            f"{where}.request",
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return E.bad_request(
            f"entry.request.url '{url}' is not a URL: {exc}", f"{where}.request.url"
        )
    path = parts.path
    if parts.scheme and base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    headers = {h: request[f] for f, h in _HEADER_FIELDS.items() if isinstance(request.get(f), str)}
    if "prefer" in outer.headers:
        headers["prefer"] = outer.headers["prefer"]
    body = entry.get("resource")
    content_type = "application/fhir+json"
    if method == "PATCH" and isinstance(body, dict) and body.get("resourceType") == "Binary":
        try:
            content_type, body = _binary_patch(body, where)
        except E.FhirError as exc:
            return exc
    query = parse_qsl(parts.query, keep_blank_values=True)
    full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
    return FhirRequest(method, path.strip("/"), query, headers, body, content_type, full_url)


def _binary_patch(binary: dict[str, Any], where: str) -> tuple[str, Any]:
    from ..core.jsonio import loads

    data = binary.get("data", "")
    if not isinstance(data, str):
        raise E.bad_request("Binary.data must be a base64 string", f"{where}.resource.data")
    try:
        raw = base64.b64decode(data, validate=True)
        kind = binary.get("contentType")
        return (kind if isinstance(kind, str) else "application/json-patch+json"), loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise E.bad_request(
            f"The Binary patch is not base64 JSON: {exc}", f"{where}.resource.data"
        ) from exc


# -- transaction -----------------------------------------------------------------------------------
def _transaction(
    repo: FhirRepository, requests: list[FhirRequest | E.FhirError]
) -> list[FhirResponse]:
    for i, r in enumerate(requests):
        if isinstance(r, E.FhirError):
            raise _at_entry(r, i)
    reqs = [r for r in requests if isinstance(r, FhirRequest)]
    mapping = _assign_identities(repo, reqs)
    _check_duplicates(reqs)
    responses: list[FhirResponse | None] = [None] * len(reqs)
    order = sorted(range(len(reqs)), key=lambda i: _ORDER[reqs[i].method])
    from .router import dispatch

    types = repo.components.types
    defs = types if isinstance(types, R4Definitions) else R4Definitions.load()
    pending = PendingCreates()
    with repo.transaction() as tx:
        _resolve_conditionals(tx, reqs, mapping)

        def flush() -> None:
            try:
                with serving(tx.components.clock):  # computed search parameters (indexing)
                    tx.flush_creates(pending)
            except PendingCreateFailed as exc:
                raise _at_entry(exc.error, exc.tag) from exc.error

        for i in order:
            r = reqs[i]
            if r.body is not None:
                r.body = rewrite_references(r.body, lambda ref: _rewrite(tx, mapping, ref, flush))
            if isinstance(r.body, dict):
                r.body = rewrite_links(r.body, mapping, defs)
                _refuse_dangling(r.body, i)
            plain = _plain_create(tx, r)
            if plain is None:
                flush()  # what follows reads or changes stored resources: they are written
            try:
                if plain is None:
                    responses[i] = dispatch(tx, r)
                else:
                    responses[i] = _create_later(tx, r, plain, pending, i)
            except PendingCreateFailed as exc:
                raise _at_entry(exc.error, exc.tag) from exc.error
            except E.FhirError as exc:
                raise _at_entry(exc, i) from exc
        flush()
    return [r for r in responses if r is not None]


def _plain_create(tx: FhirRepository, r: FhirRequest) -> str | None:
    """The type of a create that may wait for the bulk write of its neighbours: a POST to a
    type without `If-None-Exist`, served by the standard create, no POST write rule on it."""
    from .router import resolve

    if r.method != "POST" or r.header("if-none-exist") or not isinstance(r.body, dict):
        return None
    route = resolve(r)
    spec = tx.components.interactions.get("create")
    if route.interaction != "create" or spec is None or spec.handler is not handle_create:
        return None
    rtype = route.resource_type
    if rtype is None or not tx.components.types.is_resource_type(rtype):
        return None  # dispatch reports it
    return rtype if tx.defers_creates(rtype) else None


def _create_later(
    tx: FhirRepository, r: FhirRequest, rtype: str, pending: PendingCreates, index: int
) -> FhirResponse:
    """`handle_create` of a plain create, its write left in `pending` (same response)."""
    with serving(tx.components.clock):
        result = tx.create(rtype, r.body, r.assigned_id, pending=pending, tag=index)
    return write_response(r, tx.ctx.base_url, result.record, 201, "Created", list(result.issues))


def _assign_identities(repo: FhirRepository, reqs: list[FhirRequest]) -> dict[str, str]:
    """fullUrl placeholders → `Type/id`; POST entries get their server id now."""
    mapping: dict[str, str] = {}
    for r in reqs:
        full_url = r.entry_full_url or ""
        body = r.body if isinstance(r.body, dict) else None
        if r.method == "POST" and body is not None:
            rid = new_id()
            r.assigned_id = rid
            if full_url:
                mapping[full_url] = (
                    f"{r.segments[0] if r.segments else body.get('resourceType')}/{rid}"
                )
        elif r.method == "PUT" and full_url and is_placeholder(full_url) and len(r.segments) == 2:
            mapping[full_url] = "/".join(r.segments)
        elif full_url and not is_placeholder(full_url):
            local = parse_local(full_url, repo.ctx.base_url)
            if local is not None:
                mapping[full_url] = local.relative
    return mapping


def _resolve_conditionals(
    tx: FhirRepository, reqs: list[FhirRequest], mapping: dict[str, str]
) -> None:
    """A POST with `ifNoneExist` that matches an existing resource: its fullUrl means that one."""
    for i, r in enumerate(reqs):
        criteria = r.header("if-none-exist")
        if r.method != "POST" or not criteria or not r.entry_full_url or not r.segments:
            continue
        try:
            found = conditional.matches(tx, r.segments[0], criteria)
        except E.FhirError as exc:
            raise _at_entry(exc, i) from exc
        if len(found) == 1:
            mapping[r.entry_full_url] = f"{found[0].resource_type}/{found[0].id}"


def _refuse_dangling(body: dict[str, Any], index: int) -> None:
    for where, placeholder in unresolved_placeholders(body):
        raise _at_entry(
            E.bad_request(
                f"The reference {placeholder} names no entry of this transaction "
                "(no entry has it as its fullUrl)",
                where,
                code="not-found",
            ),
            index,
        )


def _rewrite(
    tx: FhirRepository, mapping: dict[str, str], reference: str, flush: Callable[[], None]
) -> str | None:
    if reference in mapping:
        return mapping[reference]
    if is_conditional(reference):
        flush()  # the search must see the creates before this entry
        mapping[reference] = conditional.resolve_reference(tx, reference)
        return mapping[reference]
    return None


def _check_duplicates(reqs: list[FhirRequest]) -> None:
    seen: dict[str, int] = {}
    for i, r in enumerate(reqs):
        if r.method in ("PUT", "PATCH", "DELETE") and len(r.segments) == 2:
            key = "/".join(r.segments)
            if key in seen:
                raise _at_entry(
                    E.bad_request(
                        f"{key} appears in more than one entry (entries {seen[key]} and {i})"
                    ),
                    i,
                )
            seen[key] = i


def _entry_expression(index: int, expression: str) -> str:
    """`Patient.name[0]` → `Bundle.entry[3].resource.name[0]`; other expressions are kept."""
    head, dot, rest = expression.partition(".")
    if head.isalpha() and head[:1].isupper() and not expression.startswith("Bundle.entry["):
        return f"Bundle.entry[{index}].resource" + (f".{rest}" if dot else "")
    return expression


def _at_entry(exc: E.FhirError, index: int) -> E.FhirError:
    issues = [
        E.Issue(
            i.severity,
            i.code,
            f"Bundle.entry[{index}]: {i.diagnostics}",
            tuple(_entry_expression(index, x) for x in i.expression) or (f"Bundle.entry[{index}]",),
            i.message_id,
        )
        for i in exc.issues
    ]
    return E.FhirError(exc.status, issues, exc.headers)


# -- batch -------------------------------------------------------------------------------------------
def _batch(repo: FhirRepository, requests: list[FhirRequest | E.FhirError]) -> list[FhirResponse]:
    from .router import dispatch

    out: list[FhirResponse] = []
    for i, r in enumerate(requests):
        try:
            if isinstance(r, E.FhirError):
                raise r
            out.append(dispatch(repo, r))
        except E.FhirError as exc:
            err = _at_entry(exc, i)
            out.append(FhirResponse(err.status, None, dict(err.headers), err.issues))
    return out


# -- responses ---------------------------------------------------------------------------------------
def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _response_entry(resp: FhirResponse) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status_line(resp.status)}
    headers = resp.headers
    if "Location" in headers or "Content-Location" in headers:
        response["location"] = headers.get("Location") or headers["Content-Location"]
    if "ETag" in headers:
        response["etag"] = headers["ETag"]
    entry: dict[str, Any] = {}
    resource = resp.resource
    if resp.issues:
        response["outcome"] = operation_outcome(resp.issues)
    elif (
        resource is not None
        and resource.get("resourceType") == "OperationOutcome"
        and resp.status != 200
    ):
        response["outcome"] = resource
        resource = None
    if resource is not None:
        meta = resource.get("meta") or {}
        if isinstance(meta, dict) and "lastUpdated" in meta:
            response["lastModified"] = meta["lastUpdated"]
        entry["resource"] = resource
    entry["response"] = response
    return entry
