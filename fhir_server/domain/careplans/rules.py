"""Service packages → scheduled care-plan activities (pure).

Packages are the PlanDefinitions of 附件1/附件2 (terminology/README.md "Conventions of the service
packages"); `$apply` follows http://hl7.org/fhir/R4/plandefinition-operation-apply.html.

- A row with sub-actions is scheduled through its sub-actions (the parent is the item itself);
  a sub-action inherits its parent's applicability conditions.
- Conditions: `text/fhirpath` is evaluated with `%subject` (the Patient) and `%keyPopulations`
  (the derived key populations as Codings); `today()` means the evaluation date.  `text/plain`
  conditions no record element carries put the activity `on-hold` with the condition as its
  reason, except those satisfied by the consent recorded at signing (`CONSENT_CONDITIONS`:
  附件2 上门健康随访 "在知情同意情况下 … 每年1次"; 国卫办基层发〔2025〕21号 二(七)).
- Frequencies (`timingTiming.repeat`, `>=` or exact) become deadlines spread evenly over the
  period: slot i of `frequency` per `period` ends on its deadline (≥12 reminders a year → one per
  month; ≥4 follow-ups → one per quarter; yearly → one per contract year; 1 per 5 years → one in
  the term).  `<=` is a ceiling (附件1 一般诊疗 ≤1次/年), not a promise: no deadlines.
- Ages (`timingAge`) and windows (`timingRange` + `timing-anchor`) are placed from the anchor:
  birth (children's contacts by age), last menstrual period (antenatal visits by gestational
  week), the delivery (postpartum visit from the discharge, 42-day check; the expected date until
  a delivery is recorded — then antenatal windows after it are not promised), the management
  notice (tuberculosis first visit).  A window's deadline is its end.  A frequency bounded by
  `repeat.boundsRange` runs only inside that range after its anchor (tuberculosis: every 10 days in
  the intensive phase, monthly in the continuation phase, from the start of treatment).  An
  unknown anchor puts the activity on hold.
- Key populations are re-derived per contract year (`Year`): an action applies in a contract year
  when its conditions hold at the year's first or last day (so a resident turning 80 during the
  second year gets the yearly home follow-up of the second year on), and only the deadlines of the
  years it applies in are promised.
- The same library item in several packages is promised once (service-item `library-item`):
  activities with the same item and sub-item merge; the one with most deadlines wins and the
  codes of every package are kept in `detail.code.coding`.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from fhirpathpy import compile as compile_fhirpath

SERVICE_ITEM = "https://jiayi.health/fhir/CodeSystem/service-item"
COMPARATOR = "https://jiayi.health/fhir/StructureDefinition/timing-comparator"
ANCHOR = "https://jiayi.health/fhir/StructureDefinition/timing-anchor"
#: text/plain conditions that the consent recorded by $sign satisfies (附件2 上门健康随访).
CONSENT_CONDITIONS = frozenset({"签约居民申请并知情同意"})


@dataclass(frozen=True)
class Condition:
    language: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class Leaf:
    """One schedulable action of a package (a row, or a sub-action of a row)."""

    package: str  # PlanDefinition canonical
    code: str  # service-item code, e.g. kp-hypertension.hypertension-management.follow-up
    title: str
    definition: str | None
    timing: Mapping[str, Any]  # {"timingTiming": …} | {"timingAge": …} | {"timingRange": …} | {}
    anchor: str | None
    conditions: tuple[Condition, ...] = ()

    @property
    def item_key(self) -> str:
        """The code without its package prefix: equal keys are the same library item."""
        return self.code.split(".", 1)[1] if "." in self.code else self.code


@dataclass(frozen=True)
class Activity:
    """A planned activity: deadlines (`events`), the window it belongs to, or why it is on hold."""

    leaf: Leaf
    events: tuple[date, ...] = ()
    status: str = "scheduled"  # scheduled | not-started (on demand) | on-hold
    reason: str | None = None
    codes: tuple[str, ...] = field(default=())
    window: tuple[date, date] | None = None


# -- reading the packages -------------------------------------------------------------------------
def _item_code(action: Mapping[str, Any]) -> str | None:
    for concept in action.get("code") or []:
        for coding in concept.get("coding") or []:
            if coding.get("system") == SERVICE_ITEM:
                return coding.get("code")
    return None


def _conditions(action: Mapping[str, Any]) -> tuple[Condition, ...]:
    out = []
    for cond in action.get("condition") or []:
        if cond.get("kind") != "applicability":
            continue
        expr = cond.get("expression") or {}
        out.append(
            Condition(
                expr.get("language", ""), expr.get("expression", ""), expr.get("description", "")
            )
        )
    return tuple(out)


def _timing(action: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    timing = {k: v for k, v in action.items() if k.startswith("timing")}
    anchor = next(
        (e.get("valueCode") for e in action.get("extension") or [] if e.get("url") == ANCHOR), None
    )
    return timing, anchor


def leaves(plan: Mapping[str, Any]) -> list[Leaf]:
    """The schedulable actions of a package, in table order."""
    out: list[Leaf] = []

    def walk(actions: Iterable[Mapping[str, Any]], inherited: tuple[Condition, ...]) -> None:
        for action in actions:
            conds = inherited + _conditions(action)
            if action.get("action"):
                walk(action["action"], conds)
                continue
            code = _item_code(action)
            if code is None:
                continue
            timing, anchor = _timing(action)
            out.append(
                Leaf(
                    plan.get("url", ""),
                    code,
                    action.get("title", code),
                    action.get("definitionCanonical"),
                    timing,
                    anchor,
                    conds,
                )
            )

    walk(plan.get("action") or [], ())
    return out


# -- applicability --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Year:
    """One contract year and the key populations of the resident in it (derived at its first and
    at its last day, as Codings)."""

    start: date
    end: date
    key_populations: tuple[Mapping[str, str], ...] = ()


def anniversary_end(start: date, years: int) -> date:
    """The day before the `years`-th anniversary of `start` (29 Feb → the day before 1 March),
    as a contract's term ends (contracting rules.add_years_end)."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)


def contract_years(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] cut at the anniversaries of `start` (the last year may be short)."""
    out: list[tuple[date, date]] = []
    low = start
    while low <= end:
        high = min(anniversary_end(start, len(out) + 1), end)
        out.append((low, high))
        low = high + timedelta(days=1)
    return out


#: whether a FHIRPath condition holds on a day (for one subject and year)
Holds = Callable[[str, date], bool]
_SetKey = tuple[tuple[Condition, ...], date, date, tuple[str, ...]]


class Verdicts:
    """The applicability of condition sets for one subject, each computed once: a package's
    sub-actions inherit their parent's conditions and every leaf is judged at both ends of every
    contract year, for the schedule and again for the fee quantity (`applicable_years`).  One
    instance per member's planning (`plan_member`); nothing is kept beyond it."""

    def __init__(self, subject: Mapping[str, Any], confirmed: frozenset[str] = frozenset()):
        self._subject = dict(subject)
        self._confirmed = confirmed
        self._sets: dict[_SetKey, tuple[bool, str | None]] = {}
        self._fhirpath: dict[tuple[str, date, tuple[str, ...]], bool] = {}

    def applies_in(self, conditions: Sequence[Condition], year: Year) -> tuple[bool, str | None]:
        """`applies_in` for this subject, memoised per (conditions, year)."""
        key = (tuple(conditions), year.start, year.end, _population_key(year.key_populations))
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = _applies_in(
                conditions, year, self._confirmed, lambda expr, on: self._holds(expr, on, year)
            )
        return found

    def _holds(self, expression: str, on: date, year: Year) -> bool:
        key = (expression, on, _population_key(year.key_populations))
        found = self._fhirpath.get(key)
        if found is None:
            found = self._fhirpath[key] = fhirpath_holds(
                expression, self._subject, year.key_populations, on
            )
        return found


def _population_key(key_populations: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    return tuple(f"{c.get('system', '')}|{c.get('code', '')}" for c in key_populations)


def fhirpath_holds(
    expression: str,
    subject: Mapping[str, Any],
    key_populations: Sequence[Mapping[str, str]],
    on: date,
) -> bool:
    """A `text/fhirpath` condition on `on` (`today()` is the date) is exactly `true`."""
    expr = expression.replace("today()", f"@{on.isoformat()}")
    result = _compiled(expr)(
        dict(subject), {"subject": dict(subject), "keyPopulations": list(key_populations)}
    )
    return bool(result == [True])


def _applies_in(
    conditions: Sequence[Condition],
    year: Year,
    confirmed: frozenset[str],
    holds: Holds,
) -> tuple[bool, str | None]:
    pending = None
    for on in (year.start, year.end):
        ok, waiting = _evaluate(conditions, on, confirmed, holds)
        if ok:
            return True, waiting
        pending = pending or waiting
    return False, pending


def applies_in(
    conditions: Sequence[Condition],
    subject: Mapping[str, Any],
    year: Year,
    confirmed: frozenset[str] = frozenset(),
) -> tuple[bool, str | None]:
    """Whether the conditions hold on the year's first or last day (and the pending text, if any)."""
    return Verdicts(subject, confirmed).applies_in(conditions, year)


@functools.lru_cache(maxsize=4096)
def _compiled(expression: str) -> Any:
    """A condition parsed once (parsing is most of the cost; the date is part of the text)."""
    return compile_fhirpath(expression)


def _evaluate(
    conditions: Sequence[Condition], on: date, confirmed: frozenset[str], holds: Holds
) -> tuple[bool, str | None]:
    pending = None
    for cond in conditions:
        if cond.language == "text/fhirpath":
            if not holds(cond.expression, on):
                return False, None
        elif cond.expression not in confirmed and pending is None:
            pending = cond.description or cond.expression
    return True, pending


def evaluate_conditions(
    conditions: Sequence[Condition],
    subject: Mapping[str, Any],
    key_populations: Sequence[Mapping[str, str]],
    on: date,
    confirmed: frozenset[str] = frozenset(),
) -> tuple[bool, str | None]:
    """(applies, pending): False when a FHIRPath condition fails; pending = an unmet text condition."""
    return _evaluate(
        conditions,
        on,
        confirmed,
        lambda expr, day: fhirpath_holds(expr, subject, key_populations, day),
    )


# -- dates ----------------------------------------------------------------------------------------
def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def term_end(start: date, years: int) -> date:
    """The last day of a term of `years` years from `start` (inclusive)."""
    return add_months(start, 12 * years) - timedelta(days=1)


def _shift(anchor: date, quantity: Mapping[str, Any]) -> date:
    value, unit = quantity.get("value", 0), quantity.get("code") or quantity.get("unit")
    if unit in ("a", "years"):
        return add_months(anchor, int(12 * value))
    if unit in ("mo", "months"):
        return add_months(anchor, int(value))
    if unit in ("wk", "weeks"):
        return anchor + timedelta(weeks=value)
    if unit in ("h", "hours"):
        return anchor + timedelta(hours=value)
    return anchor + timedelta(days=value)


_SLOT_MONTHS = {"a": 12, "mo": 1}
_SLOT_DAYS = {"wk": 7, "d": 1}


def recurring(repeat: Mapping[str, Any], start: date, end: date) -> list[date]:
    """Deadlines of `frequency` per `period periodUnit` across [start, end] (see module doc)."""
    frequency = int(repeat.get("frequency") or 1)
    period = repeat.get("period")
    unit = repeat.get("periodUnit")
    if period is None or unit is None:
        count = int(repeat.get("count") or 1)
        return [end] * count
    months = _SLOT_MONTHS.get(unit, 0) * period / frequency
    days = _SLOT_DAYS.get(unit, 0) * period / frequency if not months else 0
    events: list[date] = []
    i = 0
    while True:
        if months:
            slot_start = add_months(start, round(i * months))
            slot_end = add_months(start, round((i + 1) * months)) - timedelta(days=1)
        else:
            slot_start = start + timedelta(days=round(i * days))
            slot_end = start + timedelta(days=round((i + 1) * days)) - timedelta(days=1)
        if slot_start > end:
            break
        events.append(min(slot_end, end))
        i += 1
    limit = repeat.get("count")
    return events[: int(limit)] if limit else events


def spread(count: int, start: date, end: date) -> list[date]:
    """`count` deadlines spread evenly over [start, end]: the ends of `count` equal slots."""
    days = (end - start).days + 1
    return [start + timedelta(days=days * (i + 1) // count - 1) for i in range(count)]


def _comparator(repeat: Mapping[str, Any]) -> str | None:
    return next(
        (e.get("valueCode") for e in repeat.get("extension") or [] if e.get("url") == COMPARATOR),
        None,
    )


#: anchors set only from a recorded event (not an estimate): the actual delivery date.
DELIVERED = "delivered"


def _on_hold(leaf: Leaf, anchor_code: str) -> Activity:
    return Activity(
        leaf, status="on-hold", reason=f"timing anchor '{anchor_code}' not recorded yet"
    )


def schedule(leaf: Leaf, start: date, end: date, anchors: Mapping[str, date]) -> Activity:
    """Place one leaf in the period [start, end]."""
    timing = leaf.timing
    if "timingTiming" in timing:
        repeat = timing["timingTiming"].get("repeat") or {}
        if not repeat or _comparator(repeat) == "<=":
            return Activity(leaf, status="not-started")
        bounds = repeat.get("boundsRange")
        if bounds is None:
            return Activity(leaf, tuple(recurring(repeat, start, end)))
        anchor_code = leaf.anchor or "contract-start"
        anchor = start if anchor_code == "contract-start" else anchors.get(anchor_code)
        if anchor is None:
            return _on_hold(leaf, anchor_code)
        low = _shift(anchor, bounds.get("low") or {})
        high = _shift(anchor, bounds.get("high") or {}) - timedelta(days=1)
        events = tuple(e for e in recurring(repeat, low, high) if start <= e <= end)
        return Activity(leaf, events, window=(low, high))
    anchor_code = leaf.anchor or "birth"
    anchor = start if anchor_code == "contract-start" else anchors.get(anchor_code)
    if anchor is None:
        return _on_hold(leaf, anchor_code)
    if "timingAge" in timing:
        due = _shift(anchor, timing["timingAge"])
        return Activity(leaf, (due,) if start <= due <= end else (), window=(due, due))
    if "timingRange" in timing:
        low = _shift(anchor, timing["timingRange"].get("low") or {})
        high = _shift(anchor, timing["timingRange"].get("high") or {})
        delivered = anchors.get(DELIVERED)
        if anchor_code == "gestational-age" and delivered is not None:
            if low > delivered:  # a pregnancy that ended before this window: not promised
                return Activity(leaf, (), window=(low, high))
            high = min(high, delivered)
        inside = high >= start and low <= end
        return Activity(leaf, (min(high, end),) if inside else (), window=(low, high))
    return Activity(leaf, status="not-started")


def plan_leaf(
    leaf: Leaf,
    subject: Mapping[str, Any],
    years: Sequence[Year],
    anchors: Mapping[str, date],
    confirmed: frozenset[str] = frozenset(),
    memo: Verdicts | None = None,
) -> Activity | None:
    """One leaf over the contract years: None when it applies in no year (or promises nothing).
    `memo`: the subject's `Verdicts` shared by the member's leaves (made here when None)."""
    judge = memo if memo is not None else Verdicts(subject, confirmed)
    verdicts = [judge.applies_in(leaf.conditions, y) for y in years]
    if not any(ok for ok, _ in verdicts):
        return None
    pending = next((p for ok, p in verdicts if ok and p is not None), None)
    activity = schedule(leaf, years[0].start, years[-1].end, anchors)
    if pending is not None:
        return Activity(leaf, status="on-hold", reason=pending, window=activity.window,
                        codes=(leaf.code,))  # fmt: skip
    kept = tuple(
        e
        for e in activity.events
        if any(ok and y.start <= e <= y.end for (ok, _), y in zip(verdicts, years, strict=True))
    )
    if activity.status == "scheduled" and not kept and (activity.events or activity.window):
        return None  # an age or window outside the period, or only in years it does not apply
    return replace(activity, events=kept, codes=(leaf.code,))


def plan_activities(
    plans: Sequence[Mapping[str, Any]],
    subject: Mapping[str, Any],
    years: Sequence[Year],
    anchors: Mapping[str, date],
    confirmed: frozenset[str] = frozenset(),
    memo: Verdicts | None = None,
) -> list[Activity]:
    """Every applicable activity of `plans` for `subject` over the contract years, merged by
    library item."""
    judge = memo if memo is not None else Verdicts(subject, confirmed)
    merged: dict[str, Activity] = {}
    for plan in plans:
        for leaf in leaves(plan):
            activity = plan_leaf(leaf, subject, years, anchors, confirmed, judge)
            if activity is not None:
                merged[leaf.item_key] = _merge(merged.get(leaf.item_key), activity)
    return list(merged.values())


def applicable_years(
    plan: Mapping[str, Any],
    subject: Mapping[str, Any],
    years: Sequence[Year],
    confirmed: frozenset[str] = frozenset(),
    memo: Verdicts | None = None,
) -> int:
    """In how many contract years a package applies (any of its actions applies): the quantity
    of its fee (a fee standard is per resident and year)."""
    judge = memo if memo is not None else Verdicts(subject, confirmed)
    found = leaves(plan)
    return sum(1 for y in years if any(judge.applies_in(leaf.conditions, y)[0] for leaf in found))


def _merge(old: Activity | None, new: Activity) -> Activity:
    if old is None:
        return new
    rank = {"scheduled": 2, "not-started": 1, "on-hold": 0}
    better = (
        new if (rank[new.status], len(new.events)) > (rank[old.status], len(old.events)) else old
    )
    return replace(better, codes=old.codes + new.codes)


def package_id(canonical: str) -> str:
    return canonical.rstrip("/").rsplit("/", 1)[-1].split("|", 1)[0]


def leaf_from_activity_definition(ad: Mapping[str, Any]) -> Leaf:
    """A personalised item (点单, 粤(八)) from the item library: its ActivityDefinition as a leaf."""
    code = next(
        (
            c["code"]
            for c in (ad.get("code") or {}).get("coding") or []
            if c.get("system") == SERVICE_ITEM
        ),
        ad.get("id", ""),
    )
    timing, anchor = _timing(ad)
    return Leaf(ad.get("url", ""), code, ad.get("title") or code, ad.get("url"), timing, anchor)


def default_packages(population_codes: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """附件1 basic packages for everyone, then 附件2 `kp-<code>` per key population, then extras."""
    out = [f"{PACKAGE_BASE}basic-public-health", f"{PACKAGE_BASE}basic-medical"]
    out += [f"{PACKAGE_BASE}kp-{code}" for code in population_codes]
    for url in extra:
        if url not in out:
            out.append(url)
    return out


PACKAGE_BASE = "https://jiayi.health/fhir/PlanDefinition/"
