"""Promised vs. delivered (pure): 签约真实、履约务实 (粤 三 组织实施).

- Promised: each CarePlan activity's `scheduledTiming.event` deadlines; an activity is due once
  per deadline on or before min(the plan's end, the date) — a plan revoked by a termination or a
  transfer promises nothing after its end.  Activities without deadlines (on demand: 门诊服务, 转诊 …;
  on hold) are never due.
- Declined: services the resident chose not to use do not count as unfulfilled (附件2 门诊服务
  服务要求: 未使用服务协议中约定的服务项目，不视为未履约): an activity whose `detail.status` is
  `cancelled` or `stopped`, or a delivered-service record with status `not-done` (or
  `Communication` `not-done`) carrying the activity's code, removes deadlines from `due`.
- Done: Encounters, Observations, Communications, Procedures, Immunizations … of the resident
  dated within the plan period and on or before the date that carry the activity's service-item
  code; a Communication that references the plan and carries no service-item code counts as a
  health reminder (≥12 a year, 国卫办基层发〔2025〕21号 (三)).
- `overdue` = due − done (not below 0); `rate` = Σ min(done, due) / Σ due (1 when nothing is due).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

SERVICE_ITEM = "https://jiayi.health/fhir/CodeSystem/service-item"
DECLINED_STATUSES = frozenset({"cancelled", "stopped"})
NOT_DONE = frozenset({"not-done"})
REMINDER_SUFFIX = "reminder-consultation.reminder"
_DATE_PATHS = (
    ("period", "start"),
    ("effectiveDateTime",),
    ("effectivePeriod", "start"),
    ("sent",),
    ("performedDateTime",),
    ("performedPeriod", "start"),
    ("occurrenceDateTime",),
    ("issued",),
    ("recorded",),
)


@dataclass(frozen=True)
class Tally:
    code: str  # the activity's first service-item code
    title: str
    due: int
    done: int
    declined: int = 0

    @property
    def overdue(self) -> int:
        return max(0, self.due - self.done)


def _codings(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if node.get("system") == SERVICE_ITEM and isinstance(node.get("code"), str):
            yield node["system"], node["code"]
        for value in node.values():
            yield from _codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _codings(value)


def service_codes(resource: Mapping[str, Any]) -> set[str]:
    return {code for _, code in _codings(dict(resource))}


def references(node: Any, target: str) -> bool:
    if isinstance(node, dict):
        if node.get("reference") == target:
            return True
        return any(references(v, target) for v in node.values())
    if isinstance(node, list):
        return any(references(v, target) for v in node)
    return False


def delivered_on(resource: Mapping[str, Any]) -> date | None:
    for path in _DATE_PATHS:
        node: Any = resource
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and len(node) >= 10:
            try:
                return date.fromisoformat(node[:10])
            except ValueError:
                continue
    return None


def _activity_codes(activity: Mapping[str, Any]) -> list[str]:
    coding = ((activity.get("detail") or {}).get("code") or {}).get("coding") or []
    return [c["code"] for c in coding if c.get("system") == SERVICE_ITEM and c.get("code")]


def tally_plan(
    plan: Mapping[str, Any], records: Iterable[Mapping[str, Any]], on: date
) -> list[Tally]:
    """One Tally per activity of `plan` that has deadlines, at date `on`."""
    period = plan.get("period") or {}
    start = date.fromisoformat(period["start"][:10]) if period.get("start") else date.min
    end = min(date.fromisoformat(period["end"][:10]) if period.get("end") else date.max, on)
    plan_ref = f"CarePlan/{plan.get('id')}"
    relevant = []
    for record in records:
        when = delivered_on(record)
        if when is None or not start <= when <= end:
            continue
        codes = service_codes(record)
        if not codes and not references(record, plan_ref):
            continue
        if not codes and record.get("resourceType") == "Communication":
            codes = {REMINDER_SUFFIX}
        relevant.append((record.get("status") in NOT_DONE, codes))
    out = []
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        events = ((detail.get("scheduledTiming") or {}).get("event")) or []
        item_codes = _activity_codes(activity)
        if not events or not item_codes:
            continue
        # Deadlines after the plan ended (termination, transfer, the end of the term) can no
        # longer happen: only those up to min(plan end, date) are due.
        scheduled = sum(1 for e in events if e[:10] <= end.isoformat())
        matches = set(item_codes) | (
            {REMINDER_SUFFIX} if any(c.endswith(REMINDER_SUFFIX) for c in item_codes) else set()
        )
        done = sum(1 for not_done, c in relevant if not not_done and c & matches)
        declined = sum(1 for not_done, c in relevant if not_done and c & matches)
        if detail.get("status") in DECLINED_STATUSES:
            declined = scheduled
        due = max(0, scheduled - declined)
        out.append(
            Tally(
                item_codes[0],
                str((detail.get("code") or {}).get("text") or item_codes[0]),
                due,
                done,
                min(declined, scheduled),
            )
        )
    return out


def combine(tallies: Iterable[Tally]) -> list[Tally]:
    """Sum tallies by activity code (for a contract's members, a team, an institution)."""
    merged: dict[str, Tally] = {}
    for t in tallies:
        old = merged.get(t.code)
        merged[t.code] = (
            t
            if old is None
            else replace(
                old, due=old.due + t.due, done=old.done + t.done, declined=old.declined + t.declined
            )
        )
    return list(merged.values())


def rate(tallies: Sequence[Tally]) -> float:
    due = sum(t.due for t in tallies)
    if due == 0:
        return 1.0
    return round(sum(min(t.done, t.due) for t in tallies) / due, 4)
