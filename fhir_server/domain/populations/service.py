"""Key populations of a resident, read through the repository gate (INTERFACE.md key populations)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ...conformance.ig import load_ig_data
from ...services.repository import FhirRepository
from .rules import Membership, Record, derive

_PAGE = 500


def population_rules() -> dict[str, Any]:
    """`terminology/key-population-rules.json` (read on each call: no module state)."""
    return load_ig_data("terminology", "key-population-rules.json")


def subject_resources(
    repo: FhirRepository, rtypes: Sequence[str], patient_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Every resource of each of `rtypes` about the patient (`subject`), by type: one search over
    the types, page after page (never truncated)."""
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in rtypes}
    cursor: str | None = None
    while True:
        query = [("subject", f"Patient/{patient_id}")] + ([("_cursor", cursor)] if cursor else [])
        page = repo.search(list(rtypes), query, page_size=_PAGE)
        for m in page.matches:
            if m.content:
                out.setdefault(m.content.get("resourceType", ""), []).append(m.content)
        cursor = page.next_cursor
        if not cursor:
            return out


RECORD_TYPES = ("Condition", "RiskAssessment", "Flag")


def load_record(repo: FhirRepository, patient: dict[str, Any]) -> Record:
    found = subject_resources(repo, RECORD_TYPES, patient["id"])
    return Record(
        patient=patient,
        conditions=found["Condition"],
        risk_assessments=found["RiskAssessment"],
        flags=found["Flag"],
    )


def key_populations(
    repo: FhirRepository, patient: dict[str, Any], on: date
) -> tuple[list[Membership], Record]:
    """The resident's memberships at `on` and the record they were derived from."""
    record = load_record(repo, patient)
    return derive(population_rules(), record, on), record
