"""The persisted year plan (issue 7): pure functions between Contracts, plans and the rows of the
planner's tables (`storage/sql/push_plan.py`).  No I/O; tests in tests/domain/pushes/test_plans.py.

A contract year is planned once (the first run on or after its start): 12 monthly slots with the
library item chosen for each.  A run on day D creates every slot not yet created whose month has
begun (`start` ≤ D) and, in the year's final month, every remaining slot (catch-up), so monthly
runs on any day of the month give 12 pushes; the slot's solar term is its schedule only
(`push-due-date`).  The year ends at the anniversary or at the contract's end, whichever is first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from .rules import PlannedPush, Slot, add_months, contract_year_start, month_slots, slot_term

CONTRACT_TEAM_EXT = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"


@dataclass(frozen=True)
class SlotPlan:
    index: int
    start: date
    due: date  # the solar term of the month (schedule)
    term: str | None  # the solar term the push is timed to
    item: str  # library item id
    personalised: bool


@dataclass(frozen=True)
class YearPlan:
    contract_id: str
    patient_id: str
    year_start: date
    year_end: date  # exclusive
    care_plan_id: str
    sender: str | None  # reference for Communication.sender
    slots: tuple[SlotPlan, ...]
    done: int = 0  # bit i: slot i created
    status: str = "active"
    divisions: tuple[str, ...] = ()

    @property
    def catch_up_from(self) -> date:
        """From this day on, every remaining slot is due: the year's final month."""
        return add_months(self.year_end, -1)

    def created(self, index: int) -> bool:
        return bool(self.done >> index & 1)

    def due_slots(self, on: date) -> list[SlotPlan]:
        if self.status != "active" or not self.year_start <= on < self.year_end:
            return []
        catch_up = on >= self.catch_up_from
        return [
            s
            for s in self.slots
            if not self.created(s.index) and s.start < self.year_end and (catch_up or s.start <= on)
        ]

    def with_created(self, indexes: Iterable[int]) -> YearPlan:
        done = self.done
        for i in indexes:
            done |= 1 << i
        return replace(self, done=done)

    @property
    def next_start(self) -> date | None:
        """Start of the first slot still to create (None: nothing left this year)."""
        left = [
            s.start for s in self.slots if not self.created(s.index) and s.start < self.year_end
        ]
        return min(left) if left else None


def contract_year(applies_start: date, applies_end: date | None, on: date) -> tuple[date, date]:
    """(start, exclusive end) of the contract year holding `on`."""
    start = contract_year_start(applies_start, on)
    end = add_months(start, 12)
    if applies_end is not None:
        end = min(end, applies_end + timedelta(days=1))
    return start, end


def year_slots(year_start: date, year_end: date) -> list[Slot]:
    """The monthly slots of a (possibly short) contract year."""
    return [s for s in month_slots(year_start) if s.start < year_end]


def new_plan(
    *,
    contract_id: str,
    patient_id: str,
    year_start: date,
    year_end: date,
    care_plan_id: str,
    sender: str | None,
    planned: Sequence[PlannedPush],
    divisions: Sequence[str] = (),
) -> YearPlan:
    slots = tuple(
        SlotPlan(
            p.slot.index,
            p.slot.start,
            p.slot.due,
            slot_term(p.slot, p.item),
            p.item.id,
            p.personalised,
        )
        for p in planned
    )
    return YearPlan(
        contract_id,
        patient_id,
        year_start,
        year_end,
        care_plan_id,
        sender,
        slots,
        divisions=tuple(divisions),
    )


# -- table rows ---------------------------------------------------------------------------------
def _divisions_text(divisions: Sequence[str]) -> str:
    return "," + "".join(f"{d}," for d in sorted(set(divisions)))


def plan_to_row(plan: YearPlan, planned_at: Any) -> dict[str, Any]:
    return {
        "contract_id": plan.contract_id,
        "patient_id": plan.patient_id,
        "year_start": plan.year_start,
        "year_end": plan.year_end,
        "care_plan_id": plan.care_plan_id,
        "sender": plan.sender,
        "slots": [
            {
                "i": s.index,
                "start": s.start.isoformat(),
                "due": s.due.isoformat(),
                "term": s.term,
                "item": s.item,
                "p": s.personalised,
            }
            for s in plan.slots
        ],
        "done": plan.done,
        "next_start": plan.next_start,
        "catch_up_from": plan.catch_up_from,
        "status": plan.status,
        "divisions": _divisions_text(plan.divisions),
        "planned_at": planned_at,
    }


def plan_from_row(row: Mapping[str, Any]) -> YearPlan:
    return YearPlan(
        contract_id=str(row["contract_id"]),
        patient_id=str(row["patient_id"]),
        year_start=row["year_start"],
        year_end=row["year_end"],
        care_plan_id=str(row["care_plan_id"]),
        sender=row.get("sender"),
        slots=tuple(
            SlotPlan(
                int(s["i"]),
                date.fromisoformat(s["start"]),
                date.fromisoformat(s["due"]),
                s.get("term"),
                str(s["item"]),
                bool(s["p"]),
            )
            for s in row["slots"]
        ),
        done=int(row.get("done") or 0),
        status=str(row.get("status") or "active"),
        divisions=tuple(d for d in str(row.get("divisions") or "").split(",") if d),
    )


def mark_row(plan: YearPlan) -> dict[str, Any]:
    """The plan's progress columns (`SqlPushPlans.mark`)."""
    return {
        "contract_id": plan.contract_id,
        "patient_id": plan.patient_id,
        "year_start": plan.year_start,
        "done": plan.done,
        "next_start": plan.next_start,
    }


# -- contracts ----------------------------------------------------------------------------------
def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def contract_patients(contract: Mapping[str, Any]) -> list[str]:
    return [
        str(s["reference"]).split("/", 1)[1]
        for s in contract.get("subject", [])
        if isinstance(s, Mapping) and str(s.get("reference", "")).startswith("Patient/")
    ]


def contract_team(contract: Mapping[str, Any]) -> str | None:
    for ext in contract.get("extension", []):
        if ext.get("url") == CONTRACT_TEAM_EXT and "valueReference" in ext:
            ref = ext["valueReference"].get("reference")
            return str(ref) if ref else None
    return None


def contract_sender(contract: Mapping[str, Any]) -> str | None:
    """Who sends the resident's pushes: the signing doctor (the `PractitionerRole` signer), else
    the contract's institution (`authority`).  A CareTeam cannot be `Communication.sender`."""
    for signer in contract.get("signer", []):
        ref = str((signer.get("party") or {}).get("reference", ""))
        if ref.startswith("PractitionerRole/"):
            return ref
    for authority in contract.get("authority", []):
        ref = str(authority.get("reference", ""))
        if ref.startswith("Organization/"):
            return ref
    return None


def contract_row(contract: Mapping[str, Any], synced_at: Any) -> dict[str, Any]:
    """What the planner keeps of a Contract (`push_contract`)."""
    applies = contract.get("applies") or {}
    authority = next(
        (str(a["reference"]) for a in contract.get("authority", []) if a.get("reference")),
        None,
    )
    return {
        "contract_id": str(contract["id"]),
        "status": str(contract.get("status") or "unknown"),
        "starts_on": _day(applies.get("start")),
        "ends_on": _day(applies.get("end")),
        "patients": contract_patients(contract),
        "care_team": contract_team(contract),
        "authority": authority,
        "sender": contract_sender(contract),
        "synced_at": synced_at,
    }


def in_force(row: Mapping[str, Any], on: date) -> bool:
    start, end = row.get("starts_on"), row.get("ends_on")
    return (
        row.get("status") == "executed"
        and start is not None
        and start <= on
        and (end is None or on <= end)
    )


def plan_end(row: Mapping[str, Any]) -> date | None:
    """The exclusive end a contract's plans must not outlive (None: stop them now)."""
    if row.get("status") != "executed" or row.get("starts_on") is None:
        return None
    end = row.get("ends_on")
    return end + timedelta(days=1) if end is not None else date.max
