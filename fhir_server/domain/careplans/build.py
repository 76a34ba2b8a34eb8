"""Planned activities → a CarePlan resource (pure); shape fixed by docs/DATA-MODEL.md "Care plan".

One CarePlan per member per contract period: `status` active, `intent` plan, `period` = the term,
`careTeam`, `instantiatesCanonical` = the packages applied, `supportingInfo` → the Contract,
`activity.detail` per scheduled service (service-item code, `scheduledTiming` with one `event` per
deadline; `repeat.boundsPeriod` = the window or the term).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from .rules import SERVICE_ITEM, Activity


def activity_resource(activity: Activity, start: date, end: date) -> dict[str, Any]:
    leaf = activity.leaf
    timing: dict[str, Any] = {}
    if activity.events:
        timing["event"] = [d.isoformat() for d in activity.events]
    source = leaf.timing.get("timingTiming") or {}
    repeat = dict(source.get("repeat") or {})
    low, high = activity.window or (start, end)
    if activity.events or activity.window:
        repeat["boundsPeriod"] = {"start": low.isoformat(), "end": high.isoformat()}
    if repeat:
        timing["repeat"] = repeat
    if source.get("code"):
        timing["code"] = source["code"]
    detail: dict[str, Any] = {
        "code": {
            "coding": [{"system": SERVICE_ITEM, "code": c} for c in activity.codes or (leaf.code,)],
            "text": leaf.title,
        },
        "status": activity.status,
        "doNotPerform": False,
    }
    if leaf.definition:
        detail["instantiatesCanonical"] = [leaf.definition]
    if activity.reason:
        detail["statusReason"] = {"text": activity.reason}
    if timing:
        detail["scheduledTiming"] = timing
    return {"detail": detail}


def care_plan(
    *,
    patient_ref: str,
    packages: Sequence[str],
    activities: Sequence[Activity],
    start: date,
    end: date,
    care_team_ref: str | None = None,
    contract_ref: str | None = None,
    author_ref: str | None = None,
    created: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "instantiatesCanonical": list(packages),
        "status": "active",
        "intent": "plan",
        "title": "家庭医生签约服务计划",
        "subject": {"reference": patient_ref},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    if profile:
        plan["meta"] = {"profile": [profile]}
    if created:
        plan["created"] = created
    if author_ref:
        plan["author"] = {"reference": author_ref}
    if care_team_ref:
        plan["careTeam"] = [{"reference": care_team_ref}]
    if contract_ref:
        plan["supportingInfo"] = [{"reference": contract_ref}]
    acts = [activity_resource(a, start, end) for a in activities]
    if acts:
        plan["activity"] = acts
    return plan


def activity_codes(plan: Mapping[str, Any]) -> list[list[str]]:
    """The service-item codes of each activity of a stored CarePlan."""
    out = []
    for act in plan.get("activity") or []:
        coding = ((act.get("detail") or {}).get("code") or {}).get("coding") or []
        out.append([c["code"] for c in coding if c.get("system") == SERVICE_ITEM and c.get("code")])
    return out
