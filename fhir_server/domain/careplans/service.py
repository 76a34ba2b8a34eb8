"""Packages applied to a resident through the repository gate (PlanDefinition/$apply, R4
plandefinition-operation-apply.html; docs/DATA-MODEL.md "Care plan").

Reads the packages and the resident's anchors (birth, last menstrual period / expected delivery
date), schedules with `rules`, and builds the CarePlan with `build`.  Nothing is written here:
`$apply` returns the plan unsaved (as the spec says), `$sign` stores it in its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ...core import errors as E
from ...services.repository import FhirRepository
from . import build
from .rules import (
    CONSENT_CONDITIONS,
    Activity,
    leaf_from_activity_definition,
    package_id,
    plan_activities,
    schedule,
)

LOINC = "http://loinc.org"
LMP = "8665-2"  # Last menstrual period start date
EDD = "11778-8"  # Delivery date Estimated
PREGNANCY = ("Z33", "Z34", "Z35", "Z36")
GESTATION_DAYS = 280


@dataclass(frozen=True)
class MemberPlan:
    packages: list[str]
    activities: list[Activity]


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


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def anchors(
    repo: FhirRepository, patient: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]]
) -> dict[str, date]:
    """Anchor dates for relative timings (timing-anchor code system)."""
    out: dict[str, date] = {}
    birth = _date(patient.get("birthDate"))
    if birth:
        out["birth"] = out["newborn-discharge"] = birth
    pid = patient["id"]
    obs = repo.search(
        ["Observation"],
        [("subject", f"Patient/{pid}"), ("code", f"{LOINC}|{LMP},{LOINC}|{EDD}")],
        page_size=100,
    )
    lmp = edd = None
    for m in obs.matches:
        content = m.content or {}
        codes = {c.get("code") for c in (content.get("code") or {}).get("coding") or []}
        value = _date(content.get("valueDateTime"))
        if LMP in codes and value:
            lmp = value
        if EDD in codes and value:
            edd = value
    if lmp is None and edd is None:
        for cond in conditions:  # a pregnancy Condition's onset is read as the LMP
            codes = [c.get("code") or "" for c in (cond.get("code") or {}).get("coding") or []]
            if any(c.startswith(PREGNANCY) for c in codes):
                lmp = _date(cond.get("onsetDateTime"))
    if lmp is None and edd is not None:
        lmp = edd - timedelta(days=GESTATION_DAYS)
    if lmp is not None:
        out["gestational-age"] = lmp
        edd = edd or lmp + timedelta(days=GESTATION_DAYS)
        out["delivery"] = out["delivery-discharge"] = edd
    return out


def plan_member(
    repo: FhirRepository,
    patient: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]],
    key_populations: Sequence[Mapping[str, str]],
    packages: Sequence[str],
    start: date,
    end: date,
    *,
    consent: bool,
    items: Sequence[str] = (),
) -> MemberPlan:
    """Schedule `packages` (and personalised `items`) for one resident over [start, end]."""
    plans = [read_package(repo, url, f"package[{i}]") for i, url in enumerate(packages)]
    confirmed = CONSENT_CONDITIONS if consent else frozenset()
    where = anchors(repo, patient, conditions)
    activities = plan_activities(plans, patient, key_populations, start, end, where, confirmed)
    for i, url in enumerate(items):
        ad = _read_canonical(repo, "ActivityDefinition", url, f"item[{i}]")
        leaf = leaf_from_activity_definition(ad)
        activity = schedule(leaf, start, end, where)
        activities.append(
            Activity(
                leaf,
                activity.events,
                activity.status,
                activity.reason,
                (leaf.code,),
                activity.window,
            )
        )
    return MemberPlan([p["url"] for p in plans], activities)


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
