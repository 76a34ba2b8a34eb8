"""Key populations of a resident, read through the repository gate (INTERFACE.md key populations)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ...conformance.ig import load_ig_data
from ...services.repository import FhirRepository
from .rules import Membership, Record, derive

_PAGE = 500


def population_rules() -> dict[str, Any]:
    """`terminology/key-population-rules.json` (read on each call: no module state)."""
    return load_ig_data("terminology", "key-population-rules.json")


def _subject_resources(repo: FhirRepository, rtype: str, patient_id: str) -> list[dict[str, Any]]:
    """Every resource of `rtype` about the patient, page after page (never truncated)."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = [("subject", f"Patient/{patient_id}")] + ([("_cursor", cursor)] if cursor else [])
        page = repo.search([rtype], query, page_size=_PAGE)
        out += [m.content for m in page.matches if m.content]
        cursor = page.next_cursor
        if not cursor:
            return out


def load_record(repo: FhirRepository, patient: dict[str, Any]) -> Record:
    pid = patient["id"]
    return Record(
        patient=patient,
        conditions=_subject_resources(repo, "Condition", pid),
        risk_assessments=_subject_resources(repo, "RiskAssessment", pid),
        flags=_subject_resources(repo, "Flag", pid),
    )


def key_populations(
    repo: FhirRepository, patient: dict[str, Any], on: date
) -> tuple[list[Membership], Record]:
    """The resident's memberships at `on` and the record they were derived from."""
    record = load_record(repo, patient)
    return derive(population_rules(), record, on), record
