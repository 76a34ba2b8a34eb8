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
  code (anywhere in the record), or — a record coded only clinically — one of the clinical codes
  (LOINC, SNOMED CT, ICD …) the activity names: the non-service-item codings of the activity's
  `detail.code` and of the `code` of the ActivityDefinition it instantiates, matched on the
  record's own code element (`CLINICAL_ELEMENTS`: Encounter.type, Observation.code …).  A record
  counts once per activity however many of its codes match, and a record that is part of another
  record counted for the same activity (`encounter`, `partOf`: the blood pressure taken at a
  follow-up visit) is not counted again.  A Communication that references the plan and carries
  no service-item code counts as a health reminder (≥12 a year, 国卫办基层发〔2025〕21号 (三)).
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


Coding = tuple[str, str]  # (system, code)

#: the elements of a delivered-service record that say what was done (clinical codes)
CLINICAL_ELEMENTS: Mapping[str, tuple[str, ...]] = {
    "Encounter": ("type", "serviceType"),
    "Observation": ("code",),
    "Procedure": ("code",),
    "Immunization": ("vaccineCode",),
    "Communication": ("topic", "reasonCode"),
}
#: references that make a record part of another (an Observation taken at an Encounter …)
_PART_OF = ("encounter", "partOf", "context")


@dataclass(frozen=True)
class Delivered:
    """What a delivered-service record says for the tally (pure view of the resource)."""

    ref: str  # "Encounter/e1"
    when: date
    not_done: bool
    items: frozenset[str]  # service-item codes
    clinical: frozenset[Coding] = frozenset()
    part_of: frozenset[str] = frozenset()  # the records it is part of


@dataclass(frozen=True)
class Wanted:
    """The codes that deliver one activity."""

    items: frozenset[str]
    clinical: frozenset[Coding] = frozenset()

    def matches(self, record: Delivered) -> bool:
        return bool(self.items & record.items) or bool(self.clinical & record.clinical)


def _concept_codings(concept: Any) -> Iterator[Coding]:
    if not isinstance(concept, dict):
        return
    for c in concept.get("coding") or []:
        if isinstance(c.get("system"), str) and isinstance(c.get("code"), str):
            yield c["system"], c["code"]


def clinical_codings(concepts: Any) -> frozenset[Coding]:
    """The (system, code) pairs of a CodeableConcept or a list of them, service items left out."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return frozenset(
        pair for concept in items for pair in _concept_codings(concept) if pair[0] != SERVICE_ITEM
    )


def _refs(node: Any) -> Iterator[str]:
    for value in node if isinstance(node, list) else [node]:
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            yield value["reference"]


def delivered(record: Mapping[str, Any], plan_ref: str) -> Delivered | None:
    """The record as a delivery (None: undated, or nothing in it can match an activity)."""
    when = delivered_on(record)
    if when is None:
        return None
    rtype = str(record.get("resourceType", ""))
    items = service_codes(record)
    if not items and rtype == "Communication" and references(record, plan_ref):
        items = {REMINDER_SUFFIX}
    clinical = frozenset(
        pair
        for element in CLINICAL_ELEMENTS.get(rtype, ())
        for pair in clinical_codings(record.get(element))
    )
    if not items and not clinical:
        return None
    return Delivered(
        f"{rtype}/{record.get('id')}",
        when,
        record.get("status") in NOT_DONE,
        frozenset(items),
        clinical,
        frozenset(r for key in _PART_OF for r in _refs(record.get(key))),
    )


def count_delivered(wanted: Wanted, records: Iterable[Delivered]) -> tuple[int, int]:
    """(done, declined) for one activity: each matching record once, records that are part of
    another matching record with the same outcome not again."""
    matched = [r for r in records if wanted.matches(r)]
    done_refs = {r.ref for r in matched if not r.not_done}
    declined_refs = {r.ref for r in matched if r.not_done}
    done = sum(1 for r in matched if not r.not_done and not (r.part_of & (done_refs - {r.ref})))
    declined = sum(1 for r in matched if r.not_done and not (r.part_of & (declined_refs - {r.ref})))
    return done, declined


def _activity_codes(activity: Mapping[str, Any]) -> list[str]:
    coding = ((activity.get("detail") or {}).get("code") or {}).get("coding") or []
    return [c["code"] for c in coding if c.get("system") == SERVICE_ITEM and c.get("code")]


def canonical_key(url: str) -> str:
    return url.split("|", 1)[0]


def wanted(
    activity: Mapping[str, Any], definitions: Mapping[str, frozenset[Coding]] | None = None
) -> Wanted:
    """The codes that deliver `activity`: its service-item codes (and the reminder marker for a
    reminder), and the clinical codes of its `detail.code` and of the ActivityDefinitions it
    instantiates (`definitions`: canonical without version → clinical codings)."""
    detail = activity.get("detail") or {}
    item_codes = _activity_codes(activity)
    items = set(item_codes)
    if any(c.endswith(REMINDER_SUFFIX) for c in item_codes):
        items.add(REMINDER_SUFFIX)
    clinical = set(clinical_codings(detail.get("code")))
    for url in detail.get("instantiatesCanonical") or []:
        clinical |= (definitions or {}).get(canonical_key(url), frozenset())
    return Wanted(frozenset(items), frozenset(clinical))


def tally_plan(
    plan: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
    on: date,
    definitions: Mapping[str, frozenset[Coding]] | None = None,
) -> list[Tally]:
    """One Tally per activity of `plan` that has deadlines, at date `on` (`definitions`: the
    clinical codes of the ActivityDefinitions the activities instantiate, by canonical)."""
    period = plan.get("period") or {}
    start = date.fromisoformat(period["start"][:10]) if period.get("start") else date.min
    end = min(date.fromisoformat(period["end"][:10]) if period.get("end") else date.max, on)
    plan_ref = f"CarePlan/{plan.get('id')}"
    relevant = [
        d
        for record in records
        if (d := delivered(record, plan_ref)) is not None and start <= d.when <= end
    ]
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
        done, declined = count_delivered(wanted(activity, definitions), relevant)
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
