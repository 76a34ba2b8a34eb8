"""The referral report of one hospital for one period.

Seed clauses: 粤(四) reserved expert slots and beds, 三优先 for referred signed residents, downward
feedback; 国卫办基层发〔2025〕21号 一(四).  Numbers:
- slots and beds (by Slot.start in [start, end)): reserved, used, released, unused — per capacity kind
  (expert, examination, bed; rules.count_slots);
- referrals (by Task.authoredOn in the period): up (Tasks owned by the hospital), down (Tasks
  requested by the hospital's doctors — a PractitionerRole of the hospital, or a Practitioner with
  one), up rejected / completed, and emergency bypasses: upward referrals let through because they
  were urgent (incomplete referral, or reserved capacity booked without a Contract in force; both
  flagged `referral-marker|emergency-bypass`);
- waiting time from an upward referral (ServiceRequest.authoredOn) to its first booked appointment
  (Appointment.start);
- acknowledgement time of downward referrals (Task.authoredOn → Task.executionPeriod.start) and how
  many are still pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ...core.clock import fhir_instant
from . import rules as R
from . import service as S
from .ports import Repo


@dataclass(frozen=True)
class ReferralReport:
    hospital: str
    start: datetime
    end: datetime
    slots: dict[str, R.SlotCounts]
    referrals_up: int
    referrals_down: int
    up_rejected: int
    up_completed: int
    emergency_bypass: int
    waiting: R.DurationStats
    acknowledgement: R.DurationStats
    down_pending: int

    def as_parameters(self) -> dict[str, Any]:
        def stats(s: R.DurationStats) -> dict[str, Any]:
            out: dict[str, Any] = {"count": s.count}
            for name, value in (
                ("mean-hours", s.mean_hours),
                ("median-hours", s.median_hours),
                ("max-hours", s.max_hours),
            ):
                if value is not None:
                    out[name] = float(value)
            return out

        params: list[dict[str, Any]] = [
            {"name": "hospital", "valueReference": {"reference": self.hospital}},
            {
                "name": "period",
                "valuePeriod": {"start": fhir_instant(self.start), "end": fhir_instant(self.end)},
            },
        ]
        for kind, counts in self.slots.items():
            params.append(
                _group(
                    "capacity",
                    {
                        "kind": kind,
                        "reserved": counts.reserved,
                        "used": counts.used,
                        "released": counts.released,
                        "unused": counts.unused,
                    },
                )
            )
        params.append(
            _group(
                "referrals",
                {
                    "up": self.referrals_up,
                    "down": self.referrals_down,
                    "up-rejected": self.up_rejected,
                    "up-completed": self.up_completed,
                    "emergency-bypass": self.emergency_bypass,
                },
            )
        )
        params.append(_group("waiting-time", stats(self.waiting)))
        params.append(
            _group(
                "acknowledgement-time",
                {**stats(self.acknowledgement), "pending": self.down_pending},
            )
        )
        return {"resourceType": "Parameters", "parameter": params}


def _group(name: str, parts: dict[str, Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for key, value in parts.items():
        if isinstance(value, str):
            out.append({"name": key, "valueCode" if key == "kind" else "valueString": value})
        elif isinstance(value, int):
            out.append({"name": key, "valueInteger": value})
        else:
            out.append({"name": key, "valueDecimal": value})
    return {"name": name, "part": out}


def _slot_counts(
    repo: Repo, hospital: str, start: datetime, end: datetime
) -> dict[str, R.SlotCounts]:
    out: dict[str, R.SlotCounts] = {}
    for kind in R.KINDS:
        schedules = S.hospital_schedules(repo, hospital, kind)
        slots = []
        if schedules:
            slots = list(
                S.search_all(
                    repo,
                    "Slot",
                    [
                        ("schedule", ",".join(schedules)),
                        ("start", f"ge{fhir_instant(start)}"),
                        ("start", f"lt{fhir_instant(end)}"),
                    ],
                )
            )
        out[kind] = R.count_slots(slots)
    return out


def _tasks(repo: Repo, way: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    query = [
        ("code", f"{R.DIRECTION_SYSTEM}|{way}"),
        ("authored-on", f"ge{fhir_instant(start)}"),
        ("authored-on", f"lt{fhir_instant(end)}"),
    ]
    return list(S.search_all(repo, "Task", query))


def _appointments(repo: Repo, referral_id: str) -> list[dict[str, Any]]:
    return list(S.search_all(repo, "Appointment", [("based-on", f"ServiceRequest/{referral_id}")]))


def _first_appointment(appointments: list[dict[str, Any]]) -> datetime | None:
    starts = [
        R.parse_instant(a.get("start"))
        for a in appointments
        if R.occupies(a.get("status")) and a.get("start")
    ]
    found = [s for s in starts if s is not None]
    return min(found) if found else None


def _bypassed(referral: dict[str, Any], appointments: list[dict[str, Any]]) -> bool:
    return any(R.has_tag(r, R.MARKER_SYSTEM, "emergency-bypass") for r in [referral, *appointments])


def build_report(repo: Repo, hospital: str, start: datetime, end: datetime) -> ReferralReport:
    ups = [
        t
        for t in _tasks(repo, "up", start, end)
        if S.belongs_to(repo, (t.get("owner") or {}).get("reference"), hospital)
    ]
    downs = [
        t
        for t in _tasks(repo, "down", start, end)
        if S.belongs_to(repo, (t.get("requester") or {}).get("reference"), hospital)
    ]
    waits: list[timedelta] = []
    bypasses = 0
    for task in ups:
        referral = S.load(repo, (task.get("focus") or {}).get("reference"), "ServiceRequest")
        if referral is None:
            continue
        appointments = _appointments(repo, referral["id"])
        bypasses += _bypassed(referral, appointments)
        authored = R.parse_instant(referral.get("authoredOn"))
        booked = _first_appointment(appointments)
        if authored and booked:
            waits.append(booked - authored)
    acks: list[timedelta] = []
    pending = 0
    for task in downs:
        authored = R.parse_instant(task.get("authoredOn"))
        acked = R.parse_instant((task.get("executionPeriod") or {}).get("start"))
        if task.get("status") in R.PENDING_TASK_STATUSES:
            pending += 1
        elif authored and acked:
            acks.append(acked - authored)
    return ReferralReport(
        hospital=hospital,
        start=start,
        end=end,
        slots=_slot_counts(repo, hospital, start, end),
        referrals_up=len(ups),
        referrals_down=len(downs),
        up_rejected=sum(1 for t in ups if t.get("status") == "rejected"),
        up_completed=sum(1 for t in ups if t.get("status") == "completed"),
        emergency_bypass=bypasses,
        waiting=R.duration_stats(waits),
        acknowledgement=R.duration_stats(acks),
        down_pending=pending,
    )
