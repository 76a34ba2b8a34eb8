"""The resident's summary document (pure): a FHIR `document` Bundle whose first entry is a
`Composition` with one section per row of `profiles/summary/patient-summary-sections.json`
(problems, medications, allergies, immunizations, results, vital signs, plan of care — the
International Patient Summary's sections and LOINC codes), followed by the Patient, every
resource a section lists and the organizations / practitioners the Composition names.

Spec: R4 documents.html (Bundle.type `document`, `identifier`, `timestamp`, Composition first,
every referenced resource in the Bundle, `fullUrl` absolute) and composition.html (`cmp-1`: a
section has text, entries or sub-sections; `cmp-2`: `emptyReason` only without entries).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from ...conformance.ig import load_ig_data
from ...core.clock import fhir_instant

LOINC = "http://loinc.org"
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'


@dataclass(frozen=True)
class Section:
    key: str
    code: str
    display: str
    title: str


@dataclass(frozen=True)
class SummaryTable:
    type: Mapping[str, str]
    title: str
    author: str
    sections: tuple[Section, ...]
    rules: tuple[tuple[str, frozenset[str], str], ...]  # (type, categories or empty, section key)
    excluded_status: frozenset[str]

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(t for t, _c, _s in self.rules)


@cache
def summary_table() -> SummaryTable:
    data = load_ig_data("profiles", "summary/patient-summary-sections.json")
    comp = data["composition"]
    return SummaryTable(
        type=comp["type"],
        title=comp["title"],
        author=comp["author"],
        sections=tuple(
            Section(s["key"], s["code"], s["display"], s["title"]) for s in data["sections"]
        ),
        rules=tuple(
            (r["type"], frozenset(r.get("category") or ()), r["section"]) for r in data["rules"]
        ),
        excluded_status=frozenset(data.get("excluded_status") or ()),
    )


def _category_codes(resource: Mapping[str, Any]) -> set[str]:
    cats = resource.get("category") or []
    if isinstance(cats, Mapping):
        cats = [cats]
    return {
        str(c.get("code"))
        for cc in cats
        if isinstance(cc, Mapping)
        for c in cc.get("coding") or []
        if c.get("code")
    }


def section_of(table: SummaryTable, resource: Mapping[str, Any]) -> str | None:
    """The key of the section `resource` belongs to (None: it is in no section)."""
    if str(resource.get("status")) in table.excluded_status:
        return None
    rtype = resource.get("resourceType")
    codes = _category_codes(resource)
    for t, categories, key in table.rules:
        if t == rtype and (not categories or categories & codes):
            return key
    return None


def _text(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for c in concept.get("coding") or []:
        if c.get("display") or c.get("code"):
            return str(c.get("display") or c.get("code"))
    return None


def describe(resource: Mapping[str, Any]) -> str:
    """A short human-readable line for the section narrative."""
    for key in ("code", "medicationCodeableConcept", "vaccineCode", "title", "description"):
        value = resource.get(key)
        found = value if isinstance(value, str) else _text(value)
        if found:
            break
    else:
        found = f"{resource.get('resourceType')}/{resource.get('id')}"
    when = next(
        (
            str(resource[k])
            for k in ("effectiveDateTime", "occurrenceDateTime", "onsetDateTime", "authoredOn")
            if isinstance(resource.get(k), str)
        ),
        None,
    )
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, Mapping) and "value" in quantity:
        found += f": {quantity['value']} {quantity.get('unit') or quantity.get('code') or ''}"
    return f"{found} ({when[:10]})" if when else found


def _narrative(items: Sequence[str], empty: str) -> dict[str, str]:
    if not items:
        return {"status": "generated", "div": f"<div {XHTML}><p>{html.escape(empty)}</p></div>"}
    rows = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return {"status": "generated", "div": f"<div {XHTML}><ul>{rows}</ul></div>"}


def _ref(resource: Mapping[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def summary_document(
    patient: Mapping[str, Any],
    resources: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
    now: datetime,
    author: Mapping[str, Any] | None = None,
    bundle_id: str | None = None,
    table: SummaryTable | None = None,
) -> dict[str, Any]:
    """The document Bundle.  `author`: the institution (Organization) responsible, if known;
    otherwise the Composition names this server by display."""
    table = table or summary_table()
    by_section: dict[str, list[Mapping[str, Any]]] = {s.key: [] for s in table.sections}
    for resource in resources:
        key = section_of(table, resource)
        if key is not None:
            by_section[key].append(resource)
    sections = []
    for s in table.sections:
        members = sorted(by_section[s.key], key=lambda r: (r["resourceType"], str(r.get("id"))))
        section: dict[str, Any] = {
            "title": s.title,
            "code": {"coding": [{"system": LOINC, "code": s.code, "display": s.display}]},
            "text": _narrative([describe(r) for r in members], "无记录 No information"),
        }
        if members:
            section["entry"] = [{"reference": _ref(r)} for r in members]
        else:
            section["emptyReason"] = {
                "coding": [
                    {"system": EMPTY_REASON, "code": "unavailable", "display": "Unavailable"}
                ]
            }
        sections.append(section)
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": str(uuid.uuid4()),
        "status": "final",
        "type": {"coding": [dict(table.type)]},
        "subject": {"reference": _ref(patient)},
        "date": fhir_instant(now),
        "author": [{"reference": _ref(author)} if author else {"display": table.author}],
        "title": table.title,
        "section": sections,
    }
    listed = [r for s in table.sections for r in by_section[s.key]]
    entries = [composition, patient, *([author] if author else []), *listed]
    seen: set[str] = set()
    bundle_entries = []
    for resource in entries:
        ref = _ref(resource)
        if ref in seen:
            continue
        seen.add(ref)
        bundle_entries.append({"fullUrl": f"{base_url}/{ref}", "resource": dict(resource)})
    bundle_entries[0]["fullUrl"] = f"urn:uuid:{composition['id']}"
    return {
        "resourceType": "Bundle",
        **({"id": bundle_id} if bundle_id else {}),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": fhir_instant(now),
        "entry": bundle_entries,
    }
