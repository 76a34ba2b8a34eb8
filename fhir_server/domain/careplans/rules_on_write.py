"""Care-plan side of a personalised-item order (点单/接单; 一(八); 粤(八)), riding on generic
`Task` writes (the `WriteRule` port, services/context.py):

- An order is a `Task` naming a library item — `instantiatesCanonical` (or `focus`) an
  ActivityDefinition, or `code` a service-item code — for a resident (`Task.for`); see
  docs/DATA-MODEL.md "Personalised items".  Referral Tasks (focus → ServiceRequest) are not orders.
- When the team accepts (status becomes accepted, in-progress or completed for the first time),
  in the same transaction the item joins the resident's CarePlan of the contract (`focus` →
  Contract, else the resident's active care plan): one activity scheduled from the acceptance to
  the plan's end — the item's own frequency, or `Task.restriction.repetitions` agreed deadlines
  spread over `restriction.period` (else the rest of the plan), or on demand — and `Task.output`
  names the CarePlan.  An item already planned for the resident is refused (409).
- When an accepted order is cancelled, rejected or fails, its activity becomes `cancelled` (a
  service the resident no longer wants is not unfulfilled, 附件2 note).

The contract side (fees, the contract in focus, the owner) is `domain.contracting.rules_on_write`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...core import errors as E
from . import build
from .rules import SERVICE_ITEM, package_id
from .service import anchors, item_activity, search_all

ACCEPTED = frozenset({"accepted", "in-progress", "completed"})
WITHDRAWN = frozenset({"cancelled", "rejected", "failed", "entered-in-error"})
OUTPUT_TYPE = {"text": "家庭医生签约服务计划 / care plan the item joined"}


def _refuse(status: int, text: str, where: str, code: str = "business-rule") -> E.FhirError:
    return E.FhirError(status, E.error(code, text, where, message_id="JY-6100"))


def item_reference(task: dict[str, Any]) -> str | None:
    """`ActivityDefinition/<id>` of the item an order names, or None when the Task is no order."""
    focus = (task.get("focus") or {}).get("reference") or ""
    if focus.startswith("ServiceRequest/"):
        return None
    canonical = task.get("instantiatesCanonical")
    if isinstance(canonical, str) and "/ActivityDefinition/" in canonical:
        return f"ActivityDefinition/{package_id(canonical)}"
    if focus.startswith("ActivityDefinition/"):
        return focus
    code = next(
        (
            c.get("code")
            for c in (task.get("code") or {}).get("coding") or []
            if c.get("system") == SERVICE_ITEM and c.get("code")
        ),
        None,
    )
    return f"ActivityDefinition/{code}" if code else None


def _read(tx: Any, ref: str) -> dict[str, Any] | None:
    rtype, _, rid = ref.partition("/")
    record = tx.current_or_none(rtype, rid) if rid else None
    return record.content if record is not None and not record.deleted else None


def _today(tx: Any) -> date:
    return tx.components.clock.now().date()


def _plan_for(tx: Any, task: dict[str, Any], patient: str, on: date) -> dict[str, Any] | None:
    """The resident's CarePlan of the contract in focus (else their active plan covering `on`)."""
    focus = (task.get("focus") or {}).get("reference") or ""
    for plan in search_all(tx, "CarePlan", [("subject", patient), ("status", "active")]):
        links = {s.get("reference") for s in plan.get("supportingInfo") or []}
        period = plan.get("period") or {}
        if focus.startswith("Contract/"):
            if focus in links:
                return plan
            continue
        if (period.get("start", "")[:10] or "0") <= on.isoformat() <= (
            period.get("end", "")[:10] or "9"
        ) and any((ref or "").startswith("Contract/") for ref in links):
            return plan
    return None


def _library_key(code: str) -> str:
    """The item of the library a code stands for (`kp-elderly-65.elderly-tcm` → `elderly-tcm`)."""
    return code.split(".", 1)[1] if "." in code else code


def _planned(plan: dict[str, Any], ad: dict[str, Any]) -> bool:
    """Whether the item (the same library item) is already promised in the plan."""
    wanted = {
        _library_key(c["code"])
        for c in (ad.get("code") or {}).get("coding") or []
        if c.get("system") == SERVICE_ITEM and c.get("code")
    }
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        if detail.get("status") == "cancelled":
            continue
        codes = {
            _library_key(c.get("code") or "")
            for c in (detail.get("code") or {}).get("coding") or []
        }
        if ad.get("url") in (detail.get("instantiatesCanonical") or []) or wanted & codes:
            return True
    return False


def _output(task: dict[str, Any], plan_ref: str) -> None:
    outputs = [
        o
        for o in task.get("output") or []
        if (o.get("valueReference") or {}).get("reference") != plan_ref
    ]
    task["output"] = [*outputs, {"type": OUTPUT_TYPE, "valueReference": {"reference": plan_ref}}]


@dataclass(frozen=True)
class ItemOrderPlanRule:
    """Task writes of a personalised-item order: the accepted item joins the CarePlan."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Task" and method in ("POST", "PUT", "PATCH")

    def before_write(
        self, tx: Any, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None:
            return resource
        item = item_reference(resource)
        if item is None:
            return resource
        was = (current or {}).get("status")
        now = resource.get("status")
        if now in ACCEPTED and was not in ACCEPTED:
            return self._accept(tx, resource, item)
        if now in WITHDRAWN and was in ACCEPTED:
            self._withdraw(tx, resource, item)
        return resource

    def _accept(self, tx: Any, resource: dict[str, Any], item: str) -> dict[str, Any]:
        patient = (resource.get("for") or {}).get("reference") or ""
        ad = _read(tx, item)
        subject = _read(tx, patient) if patient.startswith("Patient/") else None
        if ad is None or subject is None:
            return resource  # the contract rule refuses the order with the precise reason
        on = _today(tx)
        plan = _plan_for(tx, resource, patient, on)
        if plan is None:
            raise _refuse(
                422,
                f"{patient} has no active care plan of a contract to add the item to",
                "Task.for",
            )
        if _planned(plan, ad):
            raise _refuse(
                409,
                f"{ad.get('url')} is already in CarePlan/{plan['id']} of {patient}",
                "Task.code",
                "duplicate",
            )
        period = plan.get("period") or {}
        start = max(on, date.fromisoformat(period["start"][:10]))
        end = date.fromisoformat(period["end"][:10])
        restriction = resource.get("restriction") or {}
        window = restriction.get("period") or {}
        if window.get("start"):
            start = max(start, date.fromisoformat(window["start"][:10]))
        if window.get("end"):
            end = min(end, date.fromisoformat(window["end"][:10]))
        if end < start:
            raise _refuse(
                422,
                "The agreed period (Task.restriction.period) lies outside the care plan",
                "Task.restriction.period",
            )
        activity = item_activity(
            ad, start, end, anchors(tx, subject, []), restriction.get("repetitions")
        )
        body = copy.deepcopy(plan)
        body["activity"] = [
            *(plan.get("activity") or []),
            build.activity_resource(activity, start, end),
        ]
        tx.update("CarePlan", plan["id"], body)
        task = copy.deepcopy(resource)
        _output(task, f"CarePlan/{plan['id']}")
        return task

    def _withdraw(self, tx: Any, resource: dict[str, Any], item: str) -> None:
        ad = _read(tx, item) or {}
        for out in resource.get("output") or []:
            ref = (out.get("valueReference") or {}).get("reference") or ""
            plan = _read(tx, ref) if ref.startswith("CarePlan/") else None
            if plan is None:
                continue
            body = copy.deepcopy(plan)
            changed = False
            for activity in body.get("activity") or []:
                detail = activity.get("detail") or {}
                if ad.get("url") in (detail.get("instantiatesCanonical") or []) and detail.get(
                    "status"
                ) not in ("cancelled", "completed"):
                    detail["status"] = "cancelled"
                    detail["statusReason"] = {"text": f"点单已{resource.get('status')}"}
                    changed = True
            if changed:
                tx.update("CarePlan", plan["id"], body)

    def after_write(
        self, tx: Any, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


#: Collected into `ServerComponents.write_rules` by `app.discover_write_rules`.
WRITE_RULES = (ItemOrderPlanRule(),)
