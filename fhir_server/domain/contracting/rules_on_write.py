"""Contract side of a personalised-item order (点单/接单; 一(八): 服务包纳入的具体内容由居民根据自身需求
“点单”选择; 粤(八): 支持居民按需求“点单”、家庭医生团队结合实际“接单”), riding on generic `Task`
writes (the `WriteRule` port, services/context.py).  Standard FHIR: the resident (or the app)
`POST`s a Task, the team `PUT`s/`PATCH`es its status.

- An order names a library item (`instantiatesCanonical` or `focus` → ActivityDefinition, or a
  service-item `code`) for a resident (`for`).  The item must be an active ActivityDefinition with
  a fee standard (the library); the resident must have a contract in force (`focus` → that
  Contract, else the one in force today): 422 otherwise, nothing written.
- The order is completed to the profile jiayi-service-item-order: `meta.profile`, `focus` → the
  Contract, `instantiatesCanonical` → the item, `code` the item's code, `owner` the contract's
  team when none is named, `requester` the resident, `authoredOn` now.
- Declining (`rejected`) needs a reason (`statusReason`): 422 otherwise.
- Accepting (accepted / in-progress / completed for the first time) adds, in the same
  transaction, the item to the Contract's fee terms (a new version: the item for the resident,
  for the contract years left, with its funding sources) — the CarePlan side is
  `domain.careplans.rules_on_write`, which runs first.  Withdrawing an accepted order removes it
  from the fees again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from . import rules as R
from .service import active_contracts, fees_of

SERVICE_ITEM = "https://jiayi.health/fhir/CodeSystem/service-item"
ACCEPTED = frozenset({"accepted", "in-progress", "completed"})
WITHDRAWN = frozenset({"cancelled", "rejected", "failed", "entered-in-error"})


def _refuse(status: int, text: str, where: str, code: str = "business-rule") -> E.FhirError:
    return E.FhirError(status, E.error(code, text, where, message_id="JY-6101"))


def item_reference(task: dict[str, Any]) -> tuple[str, str] | None:
    """(`ActivityDefinition/<id>`, where it was named) of an order; None when the Task is no order
    (a referral Task, a confirmation Task …)."""
    focus = (task.get("focus") or {}).get("reference") or ""
    if focus.startswith("ServiceRequest/"):
        return None
    canonical = task.get("instantiatesCanonical")
    if isinstance(canonical, str) and "/ActivityDefinition/" in canonical:
        rid = canonical.rstrip("/").rsplit("/", 1)[-1].split("|")[0]
        return f"ActivityDefinition/{rid}", "Task.instantiatesCanonical"
    if focus.startswith("ActivityDefinition/"):
        return focus, "Task.focus"
    code = next(
        (
            c.get("code")
            for c in (task.get("code") or {}).get("coding") or []
            if c.get("system") == SERVICE_ITEM and c.get("code")
        ),
        None,
    )
    return (f"ActivityDefinition/{code}", "Task.code") if code else None


def _read(tx: Any, ref: str) -> dict[str, Any] | None:
    rtype, _, rid = ref.partition("/")
    record = tx.current_or_none(rtype, rid) if rid else None
    return record.content if record is not None and not record.deleted else None


def years_left(contract: dict[str, Any], on: date) -> int:
    """Contract years from the one holding `on` to the end (a fee standard is per year)."""
    applies = contract.get("applies") or {}
    start, end = date.fromisoformat(applies["start"][:10]), date.fromisoformat(applies["end"][:10])
    return max(1, sum(1 for _, high in R.contract_years(start, end) if high >= on))


@dataclass(frozen=True)
class ServiceItemOrderRule:
    """Task writes of a personalised-item order: checks, profile completion, fees on accept."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Task" and method in ("POST", "PUT", "PATCH")

    def before_write(
        self, tx: Any, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None:
            return resource
        named = item_reference(resource)
        if named is None:
            return resource
        item, where = named
        ad = _read(tx, item)
        if ad is None or ad.get("status") != "active" or not R.fee_standards(ad):
            raise _refuse(
                422,
                f"{item} is not an active item of the service-item library (with a fee standard)",
                where,
                "not-found" if ad is None else "business-rule",
            )
        patient = (resource.get("for") or {}).get("reference") or ""
        if not patient.startswith("Patient/") or _read(tx, patient) is None:
            raise _refuse(422, "An order is for a known resident (Task.for → Patient)", "Task.for")
        tx.lock(f"contract:{patient}")
        on = tx.components.clock.now().date()
        contract = self._contract(tx, resource, patient, on)
        task = copy.deepcopy(resource)
        self._complete(task, ad, contract, patient, tx)
        was, now = (current or {}).get("status"), task.get("status")
        if now == "rejected" and was != "rejected" and not task.get("statusReason"):
            raise _refuse(
                422, "Declining an order needs a reason (Task.statusReason)", "Task.statusReason"
            )
        if now in ACCEPTED and was not in ACCEPTED:
            self._charge(tx, contract, patient, f"ActivityDefinition/{ad['id']}", on, add=True)
            period = task.setdefault("executionPeriod", {})
            period.setdefault("start", fhir_instant(tx.components.clock.now()))
        elif now in WITHDRAWN and was in ACCEPTED:
            self._charge(tx, contract, patient, f"ActivityDefinition/{ad['id']}", on, add=False)
        return task

    @staticmethod
    def _contract(tx: Any, task: dict[str, Any], patient: str, on: date) -> dict[str, Any]:
        focus = (task.get("focus") or {}).get("reference") or ""
        if focus.startswith("Contract/"):
            contract = _read(tx, focus)
            if (
                contract is None
                or contract.get("status") not in R.ACTIVE_STATUSES
                or not any(s.get("reference") == patient for s in contract.get("subject") or [])
            ):
                raise _refuse(422, f"{focus} is not a contract of {patient} in force", "Task.focus")
            return contract
        found = [c for c in active_contracts(tx, patient, on, on)]
        if not found:
            raise _refuse(
                422, f"{patient} has no family-doctor contract in force to order for", "Task.for"
            )
        return found[0]

    @staticmethod
    def _complete(
        task: dict[str, Any], ad: dict[str, Any], contract: dict[str, Any], patient: str, tx: Any
    ) -> None:
        meta = task.setdefault("meta", {})
        profiles = meta.setdefault("profile", [])
        if R.ORDER_PROFILE not in profiles:
            profiles.append(R.ORDER_PROFILE)
        task["focus"] = {"reference": f"Contract/{contract['id']}"}
        task["instantiatesCanonical"] = ad["url"]
        task["intent"] = "order"
        codes = [c for c in (ad.get("code") or {}).get("coding") or [] if c.get("code")]
        if not task.get("code") and codes:
            task["code"] = {"coding": codes, "text": ad.get("title", "")}
        task.setdefault("requester", {"reference": patient})
        task.setdefault("authoredOn", fhir_instant(tx.components.clock.now()))
        if not task.get("owner"):
            team = next(
                (
                    e.get("valueReference")
                    for e in contract.get("extension") or []
                    if e.get("url") == R.EXT_CARE_TEAM
                ),
                None,
            )
            if team:
                task["owner"] = dict(team)

    @staticmethod
    def _charge(
        tx: Any, contract: dict[str, Any], patient: str, item: str, on: date, *, add: bool
    ) -> None:
        charged = {m: dict(d) for m, d in R.charged(contract).items()}
        mine = charged.setdefault(patient, {})
        if add:
            mine[item] = years_left(contract, on)
        else:
            mine.pop(item, None)
        body = R.with_fees(contract, fees_of(tx, charged))
        tx.update("Contract", contract["id"], body)

    def after_write(
        self, tx: Any, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


#: Collected into `ServerComponents.write_rules` by `app.discover_write_rules`.
WRITE_RULES = (ServiceItemOrderRule(),)
