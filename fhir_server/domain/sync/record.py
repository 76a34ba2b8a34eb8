"""A resident's health record, read through the repository gate: `Patient/$everything`, the
summary document (`Patient/$summary`) and the health-record store adapter all use it.

Spec: R4 patient-operation-everything.html — the Patient, every resource of the Patient
compartment (R4 CompartmentDefinition-patient), and the resources those refer to that a reader
needs (practitioners, organizations, locations, medications), as `include` entries — each
type only as far as the caller may search it (an administrator's $everything leaves out the
audit trail, which only auditors and the resident read); `_since`
(changed after), `_type` (only these types), `start`/`end` (care dates, on types with a `date`
search parameter), `_count` with paging.

`record_page` pages statelessly: the cursor names the type reached and that type's own keyset
cursor, so a page is correct while others write (the search engine's paging guarantee).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...auth.bearer import forbidden
from ...core import errors as E
from ...search.registry import load_compartments

#: Types a record's resources commonly refer to, returned as `include` entries.
SUPPORTING_TYPES = ("Practitioner", "PractitionerRole", "Organization", "Location", "Medication")


def compartment_types() -> list[str]:
    """Every type of the R4 Patient compartment but Patient itself, sorted."""
    return sorted(t for t in load_compartments()["Patient"] if t != "Patient")


def check_record_access(principal: Any, patient_id: str, operation: str) -> None:
    """`$everything` / `$summary` are for the resident's own patient-scoped token only (issue 9:
    "served to a patient-scoped token only"), or the server itself (authorisation off).  A
    patient-scoped token of another resident gets 404 (the record is outside its reach); every
    other caller — doctors, administrators, back-end clients (they have Bulk Data `$export`) —
    403."""
    if principal is None:
        return
    if principal.patient:
        if principal.patient != patient_id:
            raise E.not_found("Patient", patient_id)
        return
    raise forbidden(
        f"Access denied: ${operation} is for the resident's own patient-scoped token "
        "(launch/patient) only"
    )


@dataclass(frozen=True)
class RecordQuery:
    patient_id: str
    types: tuple[str, ...] = ()  # empty: every compartment type
    since: str | None = None  # FHIR instant: changed after it
    start: str | None = None  # care dates (date search parameter), inclusive
    end: str | None = None
    count: int = 100
    includes: bool = True  # supporting resources as include entries


@dataclass
class RecordPage:
    matches: list[dict[str, Any]] = field(default_factory=list)
    includes: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def _encode(position: int, inner: str | None) -> str:
    raw = json.dumps([position, inner], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position, inner = json.loads(raw)
        if not isinstance(position, int) or position < 0:
            raise ValueError(position)
        if inner is not None and not isinstance(inner, str):
            raise ValueError(inner)
        return position, inner
    except (ValueError, TypeError) as exc:
        raise E.bad_request("The paging cursor is not valid", "_cursor") from exc


def _types(repo: Any, query: RecordQuery) -> list[str]:
    every = compartment_types()
    if not query.types:
        return ["Patient", *every]
    for t in query.types:
        if t != "Patient" and t not in every:
            if not repo.components.types.is_resource_type(t):
                raise E.bad_request(f"_type names an unknown resource type '{t}'", "_type")
            raise E.bad_request(f"{t} is not in the Patient compartment", "_type")
    return [t for t in ["Patient", *every] if t in query.types]


def _filters(repo: Any, rtype: str, query: RecordQuery) -> list[tuple[str, str]]:
    terms: list[tuple[str, str]] = []
    if query.since:
        terms.append(("_lastUpdated", f"gt{query.since}"))
    registry = getattr(repo.components.compartment, "registry", None)
    dated = registry is not None and registry.get(rtype, "date") is not None
    if dated and query.start:
        terms.append(("date", f"ge{query.start}"))
    if dated and query.end:
        terms.append(("date", f"le{query.end}"))
    return terms


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def supporting(repo: Any, resources: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The supporting resources `resources` refer to, read through the gate (unreadable or
    missing ones are left out)."""
    wanted: list[tuple[str, str]] = []
    for resource in resources:
        for ref in _references(resource):
            rtype, _, rid = ref.rpartition("/")
            rtype = rtype.rsplit("/", 1)[-1]
            if rtype in SUPPORTING_TYPES and rid and (rtype, rid) not in wanted:
                wanted.append((rtype, rid))
    out = []
    for rtype, rid in wanted:
        try:
            content = repo.read(rtype, rid).content
        except E.FhirError:
            continue
        if content is not None:
            out.append(content)
    return out


def record_page(repo: Any, query: RecordQuery, cursor: str | None = None) -> RecordPage:
    """One page of the record: at most `query.count` matches, then the next cursor."""
    types = _types(repo, query)
    position, inner = _decode(cursor) if cursor else (0, None)
    page = RecordPage()
    codes = load_compartments()["Patient"]
    while position < len(types) and len(page.matches) < query.count:
        rtype = types[position]
        if rtype == "Patient":
            patient = repo.read("Patient", query.patient_id).content  # 404/410 as the gate says
            since_ok = query.since is None or _changed_after(patient, query.since)
            if patient is not None and since_ok:
                page.matches.append(patient)
            position, inner = position + 1, None
            continue
        if repo.access is not None and not repo.access.may("search-compartment", rtype):
            position, inner = position + 1, None  # a type the caller may not see (audit trail)
            continue
        terms = _filters(repo, rtype, query) + ([("_cursor", inner)] if inner else [])
        result = repo.search(
            [rtype],
            terms,
            strict=True,
            page_size=query.count - len(page.matches),
            compartment=("Patient", query.patient_id, list(codes.get(rtype, []))),
        )
        page.matches += [r.content for r in result.matches if r.content is not None]
        if result.next_cursor:
            inner = result.next_cursor
        else:
            position, inner = position + 1, None
    if position < len(types):
        page.next_cursor = _encode(position, inner)
    if query.includes:
        page.includes = supporting(repo, page.matches)
    return page


def _changed_after(resource: dict[str, Any], since: str) -> bool:
    from ...core.fhirdate import parse_period

    last = (resource.get("meta") or {}).get("lastUpdated")
    if not isinstance(last, str):
        return True
    return parse_period(last)[0] > parse_period(since)[0]


def patient_record(
    repo: Any, patient_id: str, types: Sequence[str] = (), since: str | None = None
) -> list[dict[str, Any]]:
    """Every resource of the record (the Patient first), following the pages."""
    query = RecordQuery(patient_id, tuple(types), since, count=500, includes=False)
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = record_page(repo, query, cursor)
        out += page.matches
        cursor = page.next_cursor
        if not cursor:
            return out
