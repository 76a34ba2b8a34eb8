"""Pure referral rules: reserved shares, release times, the three priorities, urgency, report maths.

Seed clauses:
- 粤(四) 畅通双向转诊: leading hospitals give referred signed residents "三优先" (appointment,
  examination, admission) and feed back patients referred down; other level-2/3 hospitals reserve a
  share of expert slots and beds; "在保障急危重症患者救治前提下" — emergencies are never blocked.
- 国卫办基层发〔2025〕21号 一(四) 做实预约转诊服务: reserve outpatient slots and beds "按一定比例",
  name the number of expert slots, push downward-referral information to primary institutions in time.

No I/O here: every function takes plain values and is table-tested (tests/domain/referrals).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

BASE = "https://jiayi.health/fhir"
RESERVATION_SYSTEM = f"{BASE}/CodeSystem/slot-reservation"
RESERVATION_CODE = "referral"
MARKER_SYSTEM = f"{BASE}/CodeSystem/referral-marker"
CAPACITY_SYSTEM = f"{BASE}/CodeSystem/referral-capacity"
DIRECTION_SYSTEM = f"{BASE}/CodeSystem/referral-direction"
PRIORITY_SYSTEM = f"{BASE}/CodeSystem/referral-priority"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
CARE_TEAM_EXTENSION = f"{BASE}/StructureDefinition/contract-care-team"
PRIORITY_EXTENSION = f"{BASE}/StructureDefinition/referral-priority"  # on ServiceRequest
SHARE_EXTENSION = f"{BASE}/StructureDefinition/referral-reserved-share"  # on Schedule
#: The guide's profiles (profiles/structuredefinitions) the workflow claims where they fit.
REFERRAL_PROFILE = f"{BASE}/StructureDefinition/jiayi-referral"  # upward referral ServiceRequest
REFERRAL_TASK_PROFILE = f"{BASE}/StructureDefinition/jiayi-referral-task"  # the hospital's Task
RESERVED_SLOT_PROFILE = f"{BASE}/StructureDefinition/jiayi-reserved-slot"
REFERRAL_APPOINTMENT_PROFILE = f"{BASE}/StructureDefinition/jiayi-referral-appointment"
#: Downward referrals are received by the contracted team (a CareTeam), which the upward profiles do
#: not allow: profiles/fsh/input/fsh/referral-profiles.fsh.
DOWNWARD_REFERRAL_PROFILE = f"{BASE}/StructureDefinition/jiayi-downward-referral"
DOWNWARD_TASK_PROFILE = f"{BASE}/StructureDefinition/jiayi-downward-referral-task"
REFERRAL_COMMUNICATION_PROFILE = f"{BASE}/StructureDefinition/jiayi-referral-communication"

#: China Standard Time: the calendar the seeds' hospitals work in (job dates are local dates).
CST = timezone(timedelta(hours=8))

#: Capacity kind (Schedule.serviceCategory, referral-capacity) → the priority it serves (粤(四) 三优先).
PRIORITY_OF_KIND: Mapping[str, str] = {
    "expert": "appointment",
    "examination": "examination",
    "bed": "admission",
}
KINDS = tuple(PRIORITY_OF_KIND)

#: ServiceRequest.priority values (request-priority) that make a referral an emergency.
URGENT_PRIORITIES = frozenset({"urgent", "asap", "stat"})

#: Appointment statuses that hold their slots.  proposed/waitlist only ask; the others let go.
OCCUPYING_STATUSES = frozenset({"pending", "booked", "arrived", "fulfilled", "checked-in"})

#: Task statuses after which the receiving side has acknowledged (moved off "requested").
PENDING_TASK_STATUSES = frozenset({"draft", "requested", "received"})
FINAL_TASK_STATUSES = frozenset(
    {"rejected", "cancelled", "completed", "failed", "entered-in-error"}
)

#: The FHIR Task state machine (R4 task.html#statemachine) as the referral workflow walks it: from a
#: status, the statuses a Task may move to (besides staying and `entered-in-error`, always allowed).
#: Skipping forward is allowed (a hospital may complete an accepted referral at once); going back
#: (completed → requested) or leaving a final status is not.
TASK_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"requested", "cancelled"}),
    "requested": frozenset(
        {"received", "accepted", "rejected", "ready", "in-progress", "cancelled", "failed"}
    ),
    "received": frozenset(
        {"accepted", "rejected", "ready", "in-progress", "on-hold", "cancelled", "failed"}
    ),
    "accepted": frozenset({"ready", "in-progress", "on-hold", "completed", "cancelled", "failed"}),
    "ready": frozenset({"in-progress", "on-hold", "completed", "cancelled", "failed"}),
    "in-progress": frozenset({"on-hold", "completed", "cancelled", "failed"}),
    "on-hold": frozenset({"ready", "in-progress", "completed", "cancelled", "failed"}),
}

#: Task statuses by which the receiving hospital turned a referral down: such a referral books no
#: reserved capacity (it may still book public slots, e.g. an alternative the hospital offered).
REFUSED_TASK_STATUSES = frozenset({"rejected", "cancelled", "failed"})


# -- reservation policy -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReservationTerms:
    """What a schedule reserves: a share of its slots, released `release_lead` before start."""

    share: float
    release_lead: timedelta


@dataclass(frozen=True)
class _PolicyRule:
    hospital: str | None
    department: str | None
    kind: str | None
    terms: ReservationTerms

    def matches(self, hospital: str | None, department: str | None, kind: str | None) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.hospital, hospital),
                (self.department, department),
                (self.kind, kind),
            )
        )

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (self.hospital is not None, self.department is not None, self.kind is not None)


@dataclass(frozen=True)
class ReservationPolicy:
    """The configured shares (profiles/referrals/reservation-policy.json), most specific rule wins."""

    rules: tuple[_PolicyRule, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReservationPolicy:
        default = _terms(data.get("defaults") or {}, ReservationTerms(0.2, timedelta(hours=24)))
        rules = [_PolicyRule(None, None, None, default)]
        for kind, raw in (data.get("kinds") or {}).items():
            rules.append(_PolicyRule(None, None, kind, _terms(raw, default)))
        for raw in data.get("rules") or []:
            rules.append(
                _PolicyRule(
                    raw.get("hospital"),
                    raw.get("department"),
                    raw.get("kind"),
                    _terms(raw, default),
                )
            )
        return cls(tuple(rules))

    def terms_for(
        self, hospital: str | None, department: str | None = None, kind: str | None = None
    ) -> ReservationTerms:
        hits = [r for r in self.rules if r.matches(hospital, department, kind)]
        return max(hits, key=lambda r: r.specificity).terms


def _terms(raw: Mapping[str, Any], fallback: ReservationTerms) -> ReservationTerms:
    share = float(raw.get("share", fallback.share))
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"reservation share must be within 0..1, not {share}")
    hours = raw.get("releaseLeadHours")
    lead = timedelta(hours=float(hours)) if hours is not None else fallback.release_lead
    return ReservationTerms(share, lead)


def reserved_target(total_slots: int, share: float) -> int:
    """How many of a schedule's slots are reserved: the share rounded up (a non-zero share never
    rounds down to no reserved slot at all), never more than the schedule has."""
    if total_slots <= 0 or share <= 0:
        return 0
    return min(total_slots, math.ceil(round(total_slots * share, 9)))


def spread(candidates: int, wanted: int) -> list[int]:
    """Indices of `wanted` items spread evenly over `candidates` (ordered by start time), so that
    reserved slots fall across the session rather than all at its beginning."""
    wanted = max(0, min(wanted, candidates))
    if wanted == 0:
        return []
    return [(i * candidates) // wanted for i in range(wanted)]


def release_at(start: datetime, terms: ReservationTerms) -> datetime:
    return start - terms.release_lead


def release_due(start: datetime, terms: ReservationTerms, as_of: datetime) -> bool:
    """A reserved, still free slot is released once its release time has come, and only while it has
    not started (a slot in the past is simply unused)."""
    return release_at(start, terms) <= as_of < start


def job_instant(run_date: date, now: datetime) -> datetime:
    """The moment a job run for `run_date` acts as of: now for today (China Standard Time), the end
    of a past day (catch-up), the start of a future day (a dry run of that morning's release)."""
    today = now.astimezone(CST).date()
    if run_date == today:
        return now
    if run_date < today:
        return datetime.combine(run_date, time(23, 59, 59), CST)
    return datetime.combine(run_date, time(0, 0), CST)


# -- priorities and urgency ---------------------------------------------------------------------------
def priority_for_kind(kind: str | None) -> str:
    """The "三优先" priority a booking into capacity of `kind` uses (an unmarked schedule: expert)."""
    return PRIORITY_OF_KIND.get(kind or "expert", "appointment")


def is_urgent(request_priority: str | None) -> bool:
    return request_priority in URGENT_PRIORITIES


def occupies(appointment_status: str | None) -> bool:
    return appointment_status in OCCUPYING_STATUSES


def task_transition_allowed(old: str | None, new: str | None) -> bool:
    """May a referral Task move from `old` to `new` (TASK_TRANSITIONS)?"""
    if old == new or new == "entered-in-error":
        return True
    return new in TASK_TRANSITIONS.get(old or "", frozenset())


def referral_refused(task_statuses: Sequence[str | None]) -> bool:
    """Has the hospital turned the referral down?  Yes when it has Tasks and every one of them is
    rejected, cancelled or failed (a referral re-sent to a second hospital that accepted is not)."""
    return bool(task_statuses) and all(s in REFUSED_TASK_STATUSES for s in task_statuses)


def leaves_busy(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    """Does a Slot write give up a booking's hold: deleted, or moved off `busy`?"""
    if before is None:
        return False
    return after is None or (before.get("status") == "busy" and after.get("status") != "busy")


def tag_change_refusal(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    release_time: datetime,
    as_of: datetime,
) -> str | None:
    """Why a generic Slot write may not change the reservation tags now (None: it may).  Before
    `start − releaseLeadHours` only the release job un-reserves a slot: removing
    `slot-reservation|referral` or adding `referral-marker|reservation-released` early would hand
    reserved capacity to the public and falsify the report."""
    if as_of >= release_time:
        return None
    if before is not None and is_reserved(before) and not is_reserved(after):
        return f"removes the {RESERVATION_SYSTEM}|{RESERVATION_CODE} tag"
    if was_released(after) and not (before is not None and was_released(before)):
        return f"adds the {MARKER_SYSTEM}|reservation-released tag"
    return None


def stale_priorities(recorded: Sequence[str], in_use: Iterable[str]) -> list[str]:
    """The 三优先 recorded on a referral that no remaining booking uses any more."""
    keep = set(in_use)
    return [p for p in dict.fromkeys(recorded) if p not in keep]


# -- small FHIR readers (pure) ------------------------------------------------------------------------
def codes(concepts: Iterable[Mapping[str, Any]] | None, system: str) -> list[str]:
    return [
        c["code"]
        for cc in concepts or []
        for c in cc.get("coding") or []
        if c.get("system") == system and isinstance(c.get("code"), str)
    ]


def priorities_used(service_request: Mapping[str, Any]) -> list[str]:
    """The 三优先 recorded on a referral (extension `referral-priority`, one per priority)."""
    return [
        code
        for ext in service_request.get("extension") or []
        if ext.get("url") == PRIORITY_EXTENSION
        for code in codes([ext.get("valueCodeableConcept") or {}], PRIORITY_SYSTEM)
    ]


def schedule_share(schedule: Mapping[str, Any]) -> float | None:
    """A schedule's own reserved share (extension `referral-reserved-share`), overriding the policy."""
    for ext in schedule.get("extension") or []:
        if ext.get("url") == SHARE_EXTENSION and isinstance(ext.get("valueDecimal"), int | float):
            return float(ext["valueDecimal"])
    return None


def has_tag(resource: Mapping[str, Any], system: str, code: str) -> bool:
    return any(
        t.get("system") == system and t.get("code") == code
        for t in (resource.get("meta") or {}).get("tag") or []
    )


def is_reserved(slot: Mapping[str, Any]) -> bool:
    return has_tag(slot, RESERVATION_SYSTEM, RESERVATION_CODE)


def was_released(slot: Mapping[str, Any]) -> bool:
    return has_tag(slot, MARKER_SYSTEM, "reservation-released")


def direction(service_request: Mapping[str, Any]) -> str | None:
    found = codes(service_request.get("category"), DIRECTION_SYSTEM)
    return found[0] if found else None


def referral_kind(service_request: Mapping[str, Any]) -> str | None:
    """The capacity a referral asks for (a `referral-capacity` code in its category), if it says."""
    found = codes(service_request.get("category"), CAPACITY_SYSTEM)
    return found[0] if found else None


def parse_instant(value: str | None) -> datetime | None:
    """A FHIR dateTime/instant → aware datetime (a bare date is midnight China Standard Time)."""
    if not value:
        return None
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(0, 0), CST)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def period_covers(period: Mapping[str, Any] | None, at: datetime) -> bool:
    period = period or {}
    start, end = parse_instant(period.get("start")), parse_instant(period.get("end"))
    if start and at < start:
        return False
    if end is None:
        return True
    if len(period.get("end") or "") == 10:  # an end date includes the whole day
        end = end + timedelta(days=1)
    return at < end


def has_summary(service_request: Mapping[str, Any]) -> bool:
    """A clinical (up) or discharge/treatment (down) summary: a note, or supportingInfo other than
    the Contract (guide invariant jy-referral-down-summary)."""
    return bool(
        service_request.get("note")
        or [
            s
            for s in service_request.get("supportingInfo") or []
            if not str(s.get("reference", "")).startswith("Contract/")
        ]
    )


def missing_upward_elements(service_request: Mapping[str, Any]) -> list[str]:
    """An upward referral names reason, urgency, clinical summary, requested service and target."""
    checks = {
        "subject": bool(service_request.get("subject")),
        "code": bool(service_request.get("code")),
        "reasonCode|reasonReference": bool(
            service_request.get("reasonCode") or service_request.get("reasonReference")
        ),
        "priority": bool(service_request.get("priority")),
        "note|supportingInfo (clinical summary)": has_summary(service_request),
        "performer": bool(service_request.get("performer")),
    }
    return [name for name, ok in checks.items() if not ok]


# -- report maths ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotCounts:
    reserved: int = 0
    used: int = 0
    released: int = 0
    unused: int = 0


def count_slots(slots: Sequence[Mapping[str, Any]]) -> SlotCounts:
    """Reserved = published as reserved (still tagged, or released); released = handed to the public;
    used = reserved, not released, and taken; unused = reserved, not released, still free."""
    reserved = used = released = unused = 0
    for slot in slots:
        tagged, gone = is_reserved(slot), was_released(slot)
        if not (tagged or gone):
            continue
        reserved += 1
        if gone:
            released += 1
        elif slot.get("status") == "free":
            unused += 1
        else:
            used += 1
    return SlotCounts(reserved, used, released, unused)


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean_hours: float | None
    median_hours: float | None
    max_hours: float | None


def duration_stats(durations: Sequence[timedelta]) -> DurationStats:
    if not durations:
        return DurationStats(0, None, None, None)
    hours = sorted(d.total_seconds() / 3600 for d in durations)
    n = len(hours)
    mid = n // 2
    median = hours[mid] if n % 2 else (hours[mid - 1] + hours[mid]) / 2
    return DurationStats(n, round(sum(hours) / n, 2), round(median, 2), round(hours[-1], 2))


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)
