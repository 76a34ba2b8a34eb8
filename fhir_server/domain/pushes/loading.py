"""Bulk reads for one page of residents, through `FhirRepository.search` (the one gate): for planning
their Patients, Conditions, Flags, RiskAssessments, Observations, Consents and CarePlans; for
delivery their Patients and Consents — a few searches per page instead of several per resident."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...services.every_match import iter_matches
from .record import ResidentRecord

_CHUNK = 200


def search_all(
    repo: Any, resource_type: str, query: list[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """Every match, in pages of the server's largest page size."""
    return iter_matches(repo, resource_type, query, repo.components.max_page_size)


def by_patient(
    repo: Any,
    resource_type: str,
    param: str,
    patient_ids: Sequence[str],
    extra: list[tuple[str, str]],
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = list(patient_ids)
    for i in range(0, len(ids), _CHUNK):
        refs = ",".join(f"Patient/{p}" for p in ids[i : i + _CHUNK])
        for res in search_all(repo, resource_type, [(param, refs), *extra]):
            ref = _patient_ref(res, param)
            if ref:
                out[ref].append(res)
    return out


def _patient_ref(resource: Mapping[str, Any], param: str) -> str | None:
    field = "patient" if param == "patient" else "subject"
    ref = str((resource.get(field) or {}).get("reference", ""))
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


@dataclass
class PageData:
    records: dict[str, ResidentRecord]
    care_plans: dict[str, list[dict[str, Any]]]


@dataclass
class Contacts:
    """What delivery needs of a page of residents: the Patient (telecom, address) and the active
    Consents (channel opt-outs)."""

    patients: dict[str, dict[str, Any]]
    consents: dict[str, list[dict[str, Any]]]


def load_patients(repo: Any, patient_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = sorted(set(patient_ids))
    patients: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), _CHUNK):
        for p in search_all(repo, "Patient", [("_id", ",".join(ids[i : i + _CHUNK]))]):
            patients[p["id"]] = p
    return patients


def load_contacts(repo: Any, patient_ids: Sequence[str], *, patients: bool = True) -> Contacts:
    """A search per chunk of residents for their active Consents, and one for their Patients
    unless `patients` is False (no channel needs an address)."""
    ids = sorted(set(patient_ids))
    consents = by_patient(repo, "Consent", "patient", ids, [("status", "active")])
    return Contacts(load_patients(repo, ids) if patients else {}, dict(consents))


def load_page(repo: Any, patient_ids: Sequence[str]) -> PageData:
    """The residents' records for planning: Patients, Conditions, active Flags, RiskAssessments,
    the Observations personalisation reads (BMI, weight, height, smoking), active Consents and
    active CarePlans."""
    ids = sorted(set(patient_ids))
    patients = load_patients(repo, ids)
    conditions = by_patient(repo, "Condition", "subject", ids, [])
    flags = by_patient(repo, "Flag", "subject", ids, [("status", "active")])
    risks = by_patient(repo, "RiskAssessment", "subject", ids, [])
    observations = by_patient(
        repo,
        "Observation",
        "subject",
        ids,
        [
            (
                "code",
                "http://loinc.org|39156-5,http://loinc.org|29463-7,http://loinc.org|8302-2,http://loinc.org|72166-2",
            )
        ],
    )
    consents = by_patient(repo, "Consent", "patient", ids, [("status", "active")])
    records = {
        pid: ResidentRecord(
            patient=p,
            conditions=conditions.get(pid, []),
            flags=flags.get(pid, []),
            risk_assessments=risks.get(pid, []),
            observations=observations.get(pid, []),
            consents=consents.get(pid, []),
        )
        for pid, p in patients.items()
    }
    care_plans = by_patient(repo, "CarePlan", "subject", ids, [("status", "active")])
    return PageData(records, care_plans)


def care_plan_for(
    plans: Sequence[Mapping[str, Any]], contract_id: str, on: date
) -> Mapping[str, Any] | None:
    """The resident's CarePlan for this contract (supportingInfo → Contract), else one whose period
    covers the date."""
    day = on.isoformat()
    for plan in plans:
        if any(
            s.get("reference") == f"Contract/{contract_id}" for s in plan.get("supportingInfo", [])
        ):
            return plan
    for plan in plans:
        period = plan.get("period", {})
        if period.get("start", "")[:10] <= day and (
            not period.get("end") or day <= period["end"][:10]
        ):
            return plan
    return None
