"""history at instance, type and system level (http://hl7.org/fhir/R4/http.html#history).

`_since`, `_at`, `_count`; newest first; paging by a keyset cursor (`_page`, the global write
sequence) so pages stay correct while others write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from ..core import errors as E
from ..core.clock import fhir_instant
from ..core.fhirdate import parse_instant, parse_period
from ..core.ids import etag, parse_counter
from ..services.repository import FhirRepository
from ..storage.ports import HistoryQuery, StoredResource
from .model import FhirRequest, FhirResponse
from .route import Route

T = TypeVar("T")

_STATUS = {"POST": "201 Created", "PUT": "200 OK", "PATCH": "200 OK", "DELETE": "200 OK"}


def page_size(repo: FhirRepository, req: FhirRequest) -> int:
    raw = req.param("_count")
    if raw is None:
        return repo.components.default_page_size
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise E.bad_request(f"_count must be a non-negative integer, not '{raw}'", "_count")
    return min(int(text), repo.components.max_page_size)


def _query(repo: FhirRepository, req: FhirRequest, route: Route) -> HistoryQuery:
    since = at_start = at_end = None
    before = None
    if (raw := req.param("_since")) is not None:
        since = _instant_param("_since", raw, parse_instant)
    if (raw := req.param("_at")) is not None:
        at_start, at_end = _instant_param("_at", raw, parse_period)
    if (raw := req.param("_page")) is not None:
        before = parse_counter(raw)
        if before is None:
            raise E.bad_request(f"_page '{raw}' is not a valid history cursor", "_page")
    return HistoryQuery(
        route.resource_type, route.id, since, at_start, at_end, before, page_size(repo, req)
    )


def _instant_param(name: str, raw: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(raw)
    except ValueError as exc:
        raise E.bad_request(f"{name}: {exc}", name) from exc


def _entry(base: str, record: StoredResource) -> dict[str, Any]:
    url = f"{record.resource_type}/{record.id}"
    entry: dict[str, Any] = {"fullUrl": f"{base}/{url}"}
    if record.content is not None:
        entry["resource"] = record.content
    entry["request"] = {
        "method": record.method,
        "url": record.resource_type if record.method == "POST" else url,
    }
    entry["response"] = {
        "status": _STATUS.get(record.method, "200 OK"),
        "etag": etag(record.version_id),
        "lastModified": fhir_instant(record.last_updated),
    }
    return entry


def _link(base: str, route: Route, params: list[tuple[str, str]]) -> str:
    path = "/".join(p for p in (route.resource_type, route.id) if p)
    path = f"{path}/_history" if path else "_history"
    query = urlencode(params)
    return f"{base}/{path}" + (f"?{query}" if query else "")


def handle_history(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    query = _query(repo, req, route)
    records, total = repo.history(query)
    base = repo.ctx.base_url
    kept = [(k, v) for k, v in req.query if k in ("_since", "_at", "_count")]
    page = [("_page", str(query.before_seq))] if query.before_seq else []
    links = [{"relation": "self", "url": _link(base, route, [*kept, *page])}]
    if query.count and len(records) == query.count:
        links.append(
            {
                "relation": "next",
                "url": _link(base, route, [*kept, ("_page", str(records[-1].seq))]),
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "history",
        **({"total": total} if total is not None else {}),
        "link": links,
        "entry": [_entry(base, r) for r in records],
    }
    return FhirResponse(200, bundle)
