"""`Patient/[id]/$everything` (R4 patient-operation-everything.html): the resident's record as a
searchset Bundle — the Patient, the Patient compartment (what the caller may read, through the
gate) and supporting resources as `include` entries; `_since`, `_type`, `start`/`end`, `_count`
with `next` links.  Only for the resident's own patient-scoped token (`domain.sync.record.check_record_access`).  The record: `domain.sync.record`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ..core import errors as E
from ..domain.sync.record import RecordQuery, check_record_access, record_page
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/patient-everything"
DEFAULT_COUNT = 100


def _types(op: OperationInput) -> tuple[str, ...]:
    out: list[str] = []
    for value in op.all("_type"):
        out += [t.strip() for t in str(value).split(",") if t.strip()]
    return tuple(dict.fromkeys(out))


def _count(repo: FhirRepository, op: OperationInput) -> int:
    value = op.one("_count")
    if value is None:
        return DEFAULT_COUNT
    if not isinstance(value, int) or value < 1:
        raise E.bad_request("_count must be a positive integer", "_count")
    return min(value, repo.components.max_page_size)


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    check_record_access(repo.ctx.principal, op.id, "everything")
    query = RecordQuery(
        op.id,
        _types(op),
        str(op.one("_since")) if op.one("_since") else None,
        str(op.one("start")) if op.one("start") else None,
        str(op.one("end")) if op.one("end") else None,
        _count(repo, op),
    )
    cursor = op.one("_cursor")
    page = record_page(repo, query, str(cursor) if cursor else None)
    base = f"{repo.ctx.base_url}/Patient/{op.id}/$everything"
    params: list[tuple[str, Any]] = [("_count", query.count)]
    params += [(k, v) for k, v in (("_since", query.since), ("start", query.start),
                                   ("end", query.end)) if v]  # fmt: skip
    if query.types:
        params.append(("_type", ",".join(query.types)))
    links = [
        {
            "relation": "self",
            "url": f"{base}?{urlencode(params + ([('_cursor', cursor)] if cursor else []))}",
        }
    ]
    if page.next_cursor:
        links.append(
            {
                "relation": "next",
                "url": f"{base}?{urlencode(params + [('_cursor', page.next_cursor)])}",
            }
        )
    entries = [_entry(repo, r, "match") for r in page.matches]
    matched = {(r["resourceType"], r["id"]) for r in page.matches}
    entries += [
        _entry(repo, r, "include")
        for r in page.includes
        if (r["resourceType"], r["id"]) not in matched
    ]
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    return FhirResponse(200, bundle)


def _entry(repo: FhirRepository, resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{repo.ctx.base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


OPERATIONS = [
    OperationSpec(
        "everything",
        URL,
        _handle,
        instance=True,
        resource_types=("Patient",),
        affects_state=False,
        documentation="A resident's whole record (patient-scoped token, admin or back-end)",
    ),
]
