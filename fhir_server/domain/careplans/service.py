"""Packages applied to a resident through the repository gate (PlanDefinition/$apply, R4
plandefinition-operation-apply.html; docs/DATA-MODEL.md "Care plan").

Reads the packages and the resident's anchors from the record — birth; last menstrual period /
expected delivery date (Observations LOINC 8665-2 / 11778-8, else a pregnancy Condition's onset); a
recorded delivery (Procedure or inpatient Encounter) and its discharge; the tuberculosis management
notice (the diagnosis' recordedDate) and treatment start (the first anti-TB MedicationRequest) —
schedules with `rules`, and builds the CarePlan with `build`.  Nothing is written here:
`$apply` returns the plan unsaved (as the spec says), `$sign` stores it in its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ...core import errors as E
from ...services.every_match import search_all
from ...services.repository import FhirRepository
from ..populations.service import subject_resources
from . import build
from .rules import (
    CONSENT_CONDITIONS,
    DELIVERED,
    Activity,
    Verdicts,
    Year,
    applicable_years,
    leaf_from_activity_definition,
    package_id,
    plan_activities,
    schedule,
    spread,
)

LOINC = "http://loinc.org"
LMP = "8665-2"  # Last menstrual period start date
EDD = "11778-8"  # Delivery date Estimated
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
PREGNANCY = ("Z33", "Z34", "Z35", "Z36")
#: ICD-10 O80–O84 (delivery) and Z37 (outcome of delivery); SNOMED CT 236973005 Delivery procedure.
DELIVERY_ICD = ("O80", "O81", "O82", "O83", "O84", "Z37")
DELIVERY_SNOMED = frozenset({"236973005"})
TUBERCULOSIS = ("A15", "A16", "A17", "A18", "A19")
#: ATC J04A: drugs for treatment of tuberculosis (isoniazid J04AC, rifampicin J04AB, pyrazinamide
#: and ethambutol J04AK …).
ANTI_TB_ATC = "J04A"
GESTATION_DAYS = 280
_NOT_DONE = frozenset({"not-done", "entered-in-error", "cancelled", "stopped", "draft"})


@dataclass(frozen=True)
class MemberPlan:
    packages: list[str]
    activities: list[Activity]
    years: dict[str, int]  # definition canonical → contract years it applies in (fee quantity)


def _read_canonical(repo: FhirRepository, rtype: str, canonical: str, where: str) -> dict[str, Any]:
    rid = package_id(canonical)
    record = repo.current_or_none(rtype, rid) if rid else None
    if record is None or record.deleted or not record.content:
        raise E.unprocessable(
            [
                E.error(
                    "not-found", f"{rtype} '{canonical}' is not known", where, message_id="JY-6404"
                )
            ]
        )
    return record.content


def read_package(repo: FhirRepository, canonical: str, where: str = "package") -> dict[str, Any]:
    return _read_canonical(repo, "PlanDefinition", canonical, where)


def read_item(repo: FhirRepository, canonical: str, where: str = "item") -> dict[str, Any]:
    return _read_canonical(repo, "ActivityDefinition", canonical, where)


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _codes(concept: Any, system: str | None = None) -> list[str]:
    return [
        c.get("code") or ""
        for c in (concept or {}).get("coding") or []
        if system is None or c.get("system") == system
    ]


def _has_prefix(concept: Any, system: str, prefixes: Sequence[str]) -> bool:
    return any(c.upper().startswith(tuple(prefixes)) for c in _codes(concept, system))


def _first(*values: date | None) -> date | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _pregnancy(
    repo: FhirRepository, pid: str, conditions: Sequence[Mapping[str, Any]]
) -> tuple[date | None, date | None]:
    """(last menstrual period, expected delivery) from Observations (LOINC 8665-2 / 11778-8),
    else the onset of a pregnancy Condition (Z33–Z36) read as the LMP."""
    lmp = edd = None
    for obs in search_all(
        repo,
        "Observation",
        [("subject", f"Patient/{pid}"), ("code", f"{LOINC}|{LMP},{LOINC}|{EDD}")],
    ):
        if obs.get("status") in _NOT_DONE:
            continue
        codes = set(_codes(obs.get("code"), LOINC))
        value = _date(obs.get("valueDateTime"))
        if LMP in codes and value:
            lmp = max(lmp, value) if lmp else value  # the latest pregnancy
        if EDD in codes and value:
            edd = max(edd, value) if edd else value
    if lmp is None and edd is None:
        for cond in conditions:
            if _has_prefix(cond.get("code"), ICD10, PREGNANCY):
                lmp = _date(cond.get("onsetDateTime")) or lmp
    if lmp is None and edd is not None:
        lmp = edd - timedelta(days=GESTATION_DAYS)
    if lmp is not None and edd is None:
        edd = lmp + timedelta(days=GESTATION_DAYS)
    return lmp, edd


def _delivery(
    encounter_list: Sequence[Mapping[str, Any]],
    procedures: Sequence[Mapping[str, Any]],
    since: date | None,
) -> tuple[date | None, date | None]:
    """(delivery, discharge) recorded: a completed delivery Procedure (SNOMED CT 236973005,
    ICD-10 O80–O84) or an inpatient Encounter for delivery (reasonCode O80–O84/Z37); the
    discharge is the end of that Encounter (the Procedure's `encounter`, or the Encounter itself)."""
    delivered = discharge = None
    encounters = {e.get("id"): e for e in encounter_list if e.get("status") not in _NOT_DONE}
    for proc in procedures:
        code = proc.get("code")
        if proc.get("status") != "completed" or not (
            _has_prefix(code, ICD10, DELIVERY_ICD)
            or DELIVERY_SNOMED.intersection(_codes(code, SNOMED))
        ):
            continue
        when = _date(proc.get("performedDateTime")) or _date(
            (proc.get("performedPeriod") or {}).get("start")
        )
        if when is None or (since and when < since):
            continue
        if delivered is None or when > delivered:
            delivered = when
            ref = (proc.get("encounter") or {}).get("reference", "")
            enc = encounters.get(ref.split("/", 1)[-1]) if ref.startswith("Encounter/") else None
            discharge = _date(((enc or {}).get("period") or {}).get("end"))
    if delivered is None:
        for enc in encounters.values():
            if not any(_has_prefix(r, ICD10, DELIVERY_ICD) for r in enc.get("reasonCode") or []):
                continue
            when = _date((enc.get("period") or {}).get("start"))
            if when is None or (since and when < since):
                continue
            if delivered is None or when > delivered:
                delivered, discharge = when, _date((enc.get("period") or {}).get("end"))
    return delivered, discharge or delivered


def _tuberculosis_conditions(conditions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in conditions if _has_prefix(c.get("code"), ICD10, TUBERCULOSIS)]


def _tuberculosis(
    conditions: Sequence[Mapping[str, Any]], prescriptions: Sequence[Mapping[str, Any]]
) -> tuple[date | None, date | None]:
    """(management notice, treatment start): the notice is when the TB diagnosis (A15–A19) was
    recorded (`recordedDate`, else its onset); treatment starts with the earliest anti-TB
    MedicationRequest (ATC J04A, or for a TB diagnosis) — its dosage bounds, validity or date."""
    tb = _tuberculosis_conditions(conditions)
    if not tb:
        return None, None
    notice = _first(*[_date(c.get("recordedDate")) or _date(c.get("onsetDateTime")) for c in tb])
    tb_refs = {f"Condition/{c.get('id')}" for c in tb}
    starts: list[date | None] = []
    for rx in prescriptions:
        if rx.get("status") not in ("active", "completed", "on-hold"):
            continue
        medication = rx.get("medicationCodeableConcept")
        for_tb = (
            any(c.startswith(ANTI_TB_ATC) for c in _codes(medication, ATC))
            or any((r.get("reference") or "") in tb_refs for r in rx.get("reasonReference") or [])
            or any(_has_prefix(r, ICD10, TUBERCULOSIS) for r in rx.get("reasonCode") or [])
        )
        if not for_tb:
            continue
        bounds = [
            _date(
                (((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}).get(
                    "start"
                )
            )
            for d in rx.get("dosageInstruction") or []
        ]
        validity = _date(
            ((rx.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start")
        )
        starts.append(_first(*bounds) or validity or _date(rx.get("authoredOn")))
    return notice, _first(*starts)


def anchors(
    repo: FhirRepository, patient: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]
) -> dict[str, date]:
    """Anchor dates for relative timings (timing-anchor code system), from the record."""
    out: dict[str, date] = {}
    birth = _date(patient.get("birthDate"))
    if birth:
        out["birth"] = out["newborn-discharge"] = birth
    pid = patient["id"]
    lmp, edd = _pregnancy(repo, pid, conditions)
    if lmp is not None and edd is not None:
        out["gestational-age"] = lmp
        out["delivery"] = out["delivery-discharge"] = edd
    # one search for the record the anchors need (prescriptions only for tuberculosis)
    types = ["Encounter", "Procedure"]
    if _tuberculosis_conditions(conditions):
        types.append("MedicationRequest")
    record = subject_resources(repo, types, pid)
    delivered, discharge = _delivery(record["Encounter"], record["Procedure"], lmp)
    if delivered is not None and discharge is not None:
        out["delivery"], out["delivery-discharge"] = delivered, discharge
        out[DELIVERED] = delivered
    notice, treatment = _tuberculosis(conditions, record.get("MedicationRequest", []))
    if notice is not None:
        out["management-notice"] = notice
    if treatment is not None:
        out["treatment-start"] = treatment
    return out


def plan_member(
    repo: FhirRepository,
    patient: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]],
    years: Sequence[Year],
    packages: Sequence[str | Mapping[str, Any]],
    *,
    consent: bool,
    items: Sequence[str] = (),
) -> MemberPlan:
    """Schedule `packages` (canonicals of stored packages, or PlanDefinition resources given
    inline) and personalised `items` for one resident over the contract `years`."""
    plans = [
        dict(p) if isinstance(p, Mapping) else read_package(repo, p, f"package[{i}]")
        for i, p in enumerate(packages)
    ]
    confirmed = CONSENT_CONDITIONS if consent else frozenset()
    where = anchors(repo, patient, conditions)
    memo = Verdicts(patient, confirmed)  # each condition set judged once for this member
    activities = plan_activities(plans, patient, years, where, confirmed, memo)
    counts = {
        p["url"]: applicable_years(p, patient, years, confirmed, memo)
        for p in plans
        if p.get("url")
    }
    for i, url in enumerate(items):
        ad = read_item(repo, url, f"item[{i}]")
        activities.append(item_activity(ad, years[0].start, years[-1].end, where))
        counts[ad.get("url", url)] = len(years)
    return MemberPlan([p.get("url", "") for p in plans], activities, counts)


def item_activity(
    ad: Mapping[str, Any],
    start: date,
    end: date,
    where: Mapping[str, date],
    repetitions: int | None = None,
) -> Activity:
    """A personalised item over [start, end]: its own timing, or `repetitions` agreed deadlines
    spread evenly (Task.restriction.repetitions); without either it is on demand."""
    leaf = leaf_from_activity_definition(ad)
    activity = schedule(leaf, start, end, where)
    if repetitions and activity.status != "scheduled":
        activity = Activity(leaf, tuple(spread(repetitions, start, end)))
    return Activity(
        leaf, activity.events, activity.status, activity.reason, (leaf.code,), activity.window
    )


def care_plan_for(
    member: MemberPlan,
    patient_ref: str,
    start: date,
    end: date,
    **links: Any,
) -> dict[str, Any]:
    return build.care_plan(
        patient_ref=patient_ref,
        packages=member.packages,
        activities=member.activities,
        start=start,
        end=end,
        **links,
    )
