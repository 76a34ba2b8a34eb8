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


# -- PlanDefinition/$apply (R4 plandefinition.html "Applying a PlanDefinition") -----------------
CQF = "http://hl7.org/fhir/StructureDefinition/cqf-"
#: $apply context parameter → the R4 core extension (on a `Basic`) that records it.
CONTEXT_EXTENSIONS = {
    "userType": "systemUserType",
    "userLanguage": "systemUserLanguage",
    "userTaskContext": "systemUserTaskContext",
    "setting": "encounterClass",
    "settingContext": "encounterType",
}


def _request(
    i: int,
    activity: Activity,
    kind: str,
    *,
    patient_ref: str,
    start: date,
    end: date,
    author_ref: str | None,
    encounter_ref: str | None,
    created: str | None,
    language: str | None,
    setting: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ActivityDefinition of an action applied (R4 activitydefinition-operation-apply): a
    ServiceRequest for `kind` ServiceRequest, else a Task instantiating the definition (a
    MedicationRequest needs a medication, an ImmunizationRecommendation is not a request)."""
    detail = activity_resource(activity, start, end)["detail"]
    code = detail["code"]
    out: dict[str, Any]
    if kind == "ServiceRequest":
        out = {
            "resourceType": "ServiceRequest",
            "id": f"req-{i}",
            "status": "draft",
            "intent": "proposal",
            "code": code,
            "subject": {"reference": patient_ref},
        }
        if activity.leaf.definition:
            out["instantiatesCanonical"] = [activity.leaf.definition]
        if "scheduledTiming" in detail:
            out["occurrenceTiming"] = detail["scheduledTiming"]
        if author_ref:
            out["requester"] = {"reference": author_ref}
        if setting:
            out["locationCode"] = [dict(setting)]
    else:
        out = {
            "resourceType": "Task",
            "id": f"req-{i}",
            "status": "draft",
            "intent": "proposal",
            "code": code,
            "for": {"reference": patient_ref},
        }
        if activity.leaf.definition:
            out["instantiatesCanonical"] = activity.leaf.definition
        restriction: dict[str, Any] = {
            "period": {"start": start.isoformat(), "end": end.isoformat()}
        }
        if activity.events:
            restriction["repetitions"] = len(activity.events)
        out["restriction"] = restriction
        if author_ref:
            out["requester"] = {"reference": author_ref}
    if encounter_ref:
        out["encounter"] = {"reference": encounter_ref}
    if created:
        out["authoredOn"] = created
    if language:
        out["language"] = language
    return out


def applied_care_plan(
    *,
    patient_ref: str,
    canonical: str,
    activities: Sequence[Activity],
    kinds: Mapping[str, str],
    start: date,
    end: date,
    author_ref: str | None = None,
    encounter_ref: str | None = None,
    created: str | None = None,
    context: Mapping[str, Mapping[str, Any]] | None = None,
    inline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The unsaved result of $apply: a CarePlan (status draft, intent proposal) instantiating the
    package, whose first activity references a contained RequestGroup with one action per
    applicable action, each action's ActivityDefinition applied as a contained ServiceRequest or
    Task; the scheduled activities follow as `activity.detail` (the same shape $sign stores).
    The context parameters (userType, userLanguage, userTaskContext, setting, settingContext) are
    recorded on a contained `Basic` with the R4 `cqf-*` extensions (CarePlan.supportingInfo);
    userLanguage also sets `language`, setting the requests' `locationCode`."""
    context = context or {}
    language = next(
        (c.get("code") for c in (context.get("userLanguage") or {}).get("coding") or []), None
    )
    contained: list[dict[str, Any]] = []
    if inline is not None:
        contained.append({**inline, "id": "pd"})
        canonical = "#pd"
    requests, actions = [], []
    for i, activity in enumerate(activities, 1):
        request = _request(
            i,
            activity,
            kinds.get(activity.leaf.definition or "", "ServiceRequest"),
            patient_ref=patient_ref,
            start=start,
            end=end,
            author_ref=author_ref,
            encounter_ref=encounter_ref,
            created=created,
            language=language,
            setting=context.get("setting"),
        )
        requests.append(request)
        action: dict[str, Any] = {
            "title": activity.leaf.title,
            "code": [request["code"]],
            "resource": {"reference": f"#{request['id']}"},
        }
        if activity.reason:
            action["description"] = activity.reason
        timing = activity_resource(activity, start, end)["detail"].get("scheduledTiming")
        if timing:
            action["timingTiming"] = timing
        actions.append(action)
    group: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": "rg",
        "instantiatesCanonical": [canonical],
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": patient_ref},
    }
    if encounter_ref:
        group["encounter"] = {"reference": encounter_ref}
    if created:
        group["authoredOn"] = created
    if author_ref:
        group["author"] = {"reference": author_ref}
    if language:
        group["language"] = language
    if actions:
        group["action"] = actions
    contained += [group, *requests]
    recorded = [
        {"url": CQF + CONTEXT_EXTENSIONS[name], "valueCodeableConcept": dict(value)}
        for name, value in context.items()
        if name in CONTEXT_EXTENSIONS and value
    ]
    plan = care_plan(
        patient_ref=patient_ref,
        packages=[canonical],
        activities=activities,
        start=start,
        end=end,
        author_ref=author_ref,
        created=created,
    )
    plan["status"], plan["intent"] = "draft", "proposal"
    if recorded:
        contained.append(
            {
                "resourceType": "Basic",
                "id": "context",
                "extension": recorded,
                "code": {"text": "PlanDefinition/$apply context"},
            }
        )
        plan["supportingInfo"] = [{"reference": "#context"}]
    if language:
        plan["language"] = language
    if encounter_ref:
        plan["encounter"] = {"reference": encounter_ref}
    plan["contained"] = contained
    plan["activity"] = [{"reference": {"reference": "#rg"}}, *plan.get("activity", [])]
    ordered: dict[str, Any] = {
        k: plan[k] for k in ("resourceType", "language", "contained") if k in plan
    }
    return {**ordered, **{k: v for k, v in plan.items() if k not in ordered}}
