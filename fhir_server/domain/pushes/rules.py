"""Pure rules of the yearly push plan: monthly slots by solar term, personalisation, topic coverage,
and the compliance assessment.  No I/O; table-driven tests in tests/domain/pushes/test_rules.py.

Seed clauses:
- 国卫办基层发〔2025〕21号（三）: ≥ 12 pushes a year "根据季节特点、节气变化、疾病流行情况"; topics
  personal protection, exercise, diet, 戒烟、限酒、三减、科学补碘、健康体重; personalised guidance.
- 粤(三): ≥ 12 a year covering 科学运动、合理膳食、烟草控制、慢性病防控、体重管理、健康素养66条、
  重点传染病防控, "其中每年至少包含1次个性化健康指导".
- 附件1/附件2 健康提醒: "按照节气 … 每年不少于12次".
Issue 7 adds TCM and vaccination to the required topics, and the personalisation examples
(BMI ≥ 24 → weight; hypertension → salt and BP self-check; pregnancy → prenatal; 65+ → falls and
vaccination).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .content import GENERAL, NO_SPECIFIC_NEED, ContentItem, ContentLibrary
from .solar_terms import terms_between

PUSHES_PER_YEAR = 12
MAX_PERSONALISED = 6

#: The topics every resident's year must cover (seeds + issue 7), in the push-topic CodeSystem.
REQUIRED_TOPICS: tuple[str, ...] = (
    "exercise",
    "diet",
    "tobacco",
    "alcohol",
    "three-reductions",
    "iodine",
    "weight",
    "chronic-disease",
    "health-literacy-66",
    "infectious-disease",
    "tcm",
    "vaccination",
)

#: Personalisation triggers in priority order: a key population ("kp:") or a finding ("sct:").
OVERWEIGHT = "sct:238131007"  # BMI ≥ 24 (Chinese adult cut-off, WS/T 428)
SMOKER = "sct:77176002"
NEED_PRIORITY: tuple[str, ...] = (
    "kp:maternal",
    "kp:hypertension",
    "kp:t2dm",
    "kp:elderly-65",
    "kp:copd",
    "kp:tuberculosis",
    "kp:severe-mental-disorder",
    "kp:child-0-6",
    "kp:cancer-high-risk",
    "kp:disabled",
    OVERWEIGHT,
    SMOKER,
)
BMI_OVERWEIGHT = 24.0


@dataclass(frozen=True)
class ResidentFacts:
    """What the planner knows of a resident, read from the record."""

    age: int | None
    populations: frozenset[str] = frozenset()  # key-population codes
    bmi: float | None = None
    smoker: bool = False


@dataclass(frozen=True)
class Slot:
    """One month of the contract year.  The push is created by the first run on or after `start`
    (or in the year's final month, whatever its start); `due`, the first solar term in the month,
    is its schedule (`push-due-date`), not a condition."""

    index: int  # 0..11
    start: date
    end: date  # exclusive
    due: date
    terms: frozenset[str]  # solar-term codes falling in the month
    first_term: str | None = None  # the first of them


@dataclass(frozen=True)
class PlannedPush:
    slot: Slot
    item: ContentItem
    personalised: bool


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def contract_year_start(applies_start: date, on: date) -> date:
    """Start of the contract year (anniversary of `applies_start`) that contains `on`."""
    years = on.year - applies_start.year
    start = add_months(applies_start, 12 * years)
    if start > on:
        start = add_months(applies_start, 12 * (years - 1))
    return max(start, applies_start)


def month_slots(year_start: date) -> list[Slot]:
    """The 12 monthly slots of the contract year starting on `year_start`."""
    slots = []
    for i in range(PUSHES_PER_YEAR):
        start, end = add_months(year_start, i), add_months(year_start, i + 1)
        terms = terms_between(start, end)
        due = terms[0].day if terms else start
        first = terms[0].code if terms else None
        slots.append(Slot(i, start, end, due, frozenset(t.code for t in terms), first))
    return slots


def slot_term(slot: Slot, item: ContentItem) -> str | None:
    """The solar term a push is timed to: the item's own term in that month, else the month's
    first term (the push-due-date)."""
    own = sorted(item.terms & slot.terms)
    return own[0] if own else slot.first_term


def personal_needs(facts: ResidentFacts) -> list[str]:
    """The resident's personalisation triggers, most important first."""
    have = {f"kp:{p}" for p in facts.populations}
    if facts.bmi is not None and facts.bmi >= BMI_OVERWEIGHT:
        have.add(OVERWEIGHT)
    if facts.smoker:
        have.add(SMOKER)
    return [n for n in NEED_PRIORITY if n in have]


def personalised_candidates(
    facts: ResidentFacts, items: Sequence[ContentItem]
) -> list[ContentItem]:
    """Personalised items chosen from the record: the first item of each need in priority order,
    then the second ones …; the age-band items only when no specific need matched."""
    per_need = [[i for i in items if need in i.suits] for need in personal_needs(facts)]
    ordered: list[ContentItem] = []
    for rank in range(max((len(g) for g in per_need), default=0)):
        for group in per_need:
            if rank < len(group) and group[rank] not in ordered:
                ordered.append(group[rank])
    if not ordered and facts.age is not None:
        ordered = [
            i
            for i in items
            if i.age and not i.suits - {GENERAL} and i.age[0] <= facts.age <= i.age[1]
        ]
    if not ordered:  # nothing on record to personalise on: the default personalised guidance
        ordered = [i for i in items if NO_SPECIFIC_NEED in i.suits]
    return ordered


def fits_season(item: ContentItem, slot: Slot) -> bool:
    return not item.terms or bool(item.terms & slot.terms)


def _spread_index(k: int, n: int) -> int:
    return min(PUSHES_PER_YEAR - 1, int((k + 0.5) * PUSHES_PER_YEAR / max(n, 1)))


def _place(item: ContentItem, free: list[Slot], k: int, n: int) -> Slot | None:
    fitting = [s for s in free if item.terms & s.terms]
    if fitting:
        return fitting[0]
    if item.terms:
        return None
    target = _spread_index(k, n)
    return min(free, key=lambda s: (abs(s.index - target), s.index), default=None)


def plan_year(
    facts: ResidentFacts,
    slots: Sequence[Slot],
    library: ContentLibrary,
    fixed: Mapping[int, tuple[str, bool]] | None = None,
    sent_before: Iterable[str] = (),
) -> list[PlannedPush]:
    """A push per slot: personalised items first, then routine items covering the required topics,
    in season; nothing twice.  `fixed`: slot index → (item id, personalised) already sent this year;
    `sent_before`: item ids sent in earlier years (avoided while alternatives remain)."""
    candidates = personalised_candidates(facts, library.items)
    return plan_slots(candidates, slots, library, fixed, sent_before)


def plan_slots(
    candidates: Sequence[ContentItem],
    slots: Sequence[Slot],
    library: ContentLibrary,
    fixed: Mapping[int, tuple[str, bool]] | None = None,
    sent_before: Iterable[str] = (),
) -> list[PlannedPush]:
    """`plan_year` from the resident's personalised candidates (a pure function of its inputs,
    so planners may memoise it per distinct candidates, slots and history)."""
    by_id = library.by_id()
    fixed = dict(fixed or {})
    plan: dict[int, PlannedPush] = {}
    slot_by_index = {s.index: s for s in slots}
    for index, (item_id, personalised) in fixed.items():
        if index in slot_by_index and item_id in by_id:
            plan[index] = PlannedPush(slot_by_index[index], by_id[item_id], personalised)
    used = {p.item.id for p in plan.values()}
    older = frozenset(sent_before)
    routine = [i for i in library.items if not i.personalised]
    required = frozenset(REQUIRED_TOPICS)
    gains = {i.id: library.roots(i.topics) & required for i in library.items}
    # 1. personalised guidance chosen from the record
    wanted = [i for i in candidates if i.id not in used]
    have = sum(p.personalised for p in plan.values())
    wanted = wanted[: max(0, MAX_PERSONALISED - have)]
    for k, item in enumerate(wanted):
        free = [s for s in slots if s.index not in plan]
        slot = _place(item, free, k, len(wanted))
        if slot is not None:
            plan[slot.index] = PlannedPush(slot, item, True)
            used.add(item.id)
    # 2. routine items, greedily covering what is still missing, in season
    for slot in slots:
        if slot.index in plan:
            continue
        covered = frozenset().union(*(gains[p.item.id] for p in plan.values()))
        best = _best_routine(slot, routine, used, covered, older, gains)
        if best is not None:
            plan[slot.index] = PlannedPush(slot, best, False)
            used.add(best.id)
    _repair_coverage(plan, routine, library, frozenset(fixed))
    return [plan[i] for i in sorted(plan)]


def _best_routine(
    slot: Slot,
    routine: Sequence[ContentItem],
    used: set[str],
    covered: frozenset[str],
    older: frozenset[str],
    gains: Mapping[str, frozenset[str]],
) -> ContentItem | None:
    best: ContentItem | None = None
    best_score = -1
    for item in routine:  # sorted by id: on a tie the smallest id wins
        if item.id in used or not fits_season(item, slot):
            continue
        new = len(gains[item.id] - covered)
        score = 100 * new + (10 if item.terms else 0) + (0 if item.id in older else 5)
        if score > best_score:
            best, best_score = item, score
    return best


def missing_topics(items: Iterable[ContentItem], library: ContentLibrary) -> list[str]:
    covered = library.roots(t for i in items for t in i.topics)
    return [t for t in REQUIRED_TOPICS if t not in covered]


def _repair_coverage(
    plan: dict[int, PlannedPush],
    routine: Sequence[ContentItem],
    library: ContentLibrary,
    locked: frozenset[int],
) -> None:
    """Swap routine items that add no unique required topic for items covering a missing one."""
    for topic in missing_topics((p.item for p in plan.values()), library):
        used = {p.item.id for p in plan.values()}
        for index in sorted(plan):
            push = plan[index]
            if index in locked or push.personalised:
                continue
            others = [p.item for i, p in plan.items() if i != index]
            if set(missing_topics(others, library)) - {topic} != set(
                missing_topics(plan_items(plan), library)
            ) - {topic}:
                continue
            swap = next(
                (
                    i
                    for i in routine
                    if i.id not in used
                    and topic in library.roots(i.topics)
                    and fits_season(i, push.slot)
                ),
                None,
            )
            if swap is not None:
                plan[index] = PlannedPush(push.slot, swap, False)
                break


def plan_items(plan: Mapping[int, PlannedPush]) -> list[ContentItem]:
    return [p.item for p in plan.values()]


# -- compliance ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PushFact:
    """One delivered push as the measure sees it."""

    sent: date
    topics: frozenset[str]  # top-level topics
    personalised: bool


@dataclass(frozen=True)
class Assessment:
    count: int  # planned pushes delivered in the period (alerts are extra and not counted)
    missing_topics: tuple[str, ...]
    personalised: int
    expected: int = PUSHES_PER_YEAR  # pushes due in the period (12 per contract year, by month)
    empty_months: tuple[str, ...] = ()  # months (YYYY-MM) of the period without a delivered push

    @property
    def full_year(self) -> bool:
        """Topics and personalised guidance are assessed over whole contract years only: the plan
        spreads them over the year, so a part of a year cannot be held to all of them."""
        return self.expected >= PUSHES_PER_YEAR

    @property
    def enough(self) -> bool:
        return self.count >= self.expected

    @property
    def compliant(self) -> bool:
        if not self.enough:
            return False
        return not self.full_year or (not self.missing_topics and self.personalised >= 1)

    def shortfalls(self) -> list[str]:
        out = []
        if not self.enough:
            out.append(f"pushes {self.count}/{self.expected}")
        if self.full_year and self.missing_topics:
            out.append("missing topics: " + ", ".join(self.missing_topics))
        if self.full_year and self.personalised < 1:
            out.append("no personalised guidance")
        if self.empty_months:
            out.append("months without a push: " + ", ".join(self.empty_months))
        return out


def assess(
    pushes: Iterable[PushFact], months: Sequence[tuple[date, date]] | None = None
) -> Assessment:
    """The resident's delivered pushes against the months due: `months` are the [start, end)
    months of the resident's contract years lying wholly inside the period (None: one full
    year, no month check)."""
    facts = list(pushes)
    covered = {t for p in facts for t in p.topics}
    empty: tuple[str, ...] = ()
    expected = PUSHES_PER_YEAR
    if months is not None:
        expected = len(months)
        empty = tuple(
            start.strftime("%Y-%m")
            for start, end in months
            if not any(start <= p.sent < end for p in facts)
        )
    return Assessment(
        count=len(facts),
        missing_topics=tuple(t for t in REQUIRED_TOPICS if t not in covered),
        personalised=sum(p.personalised for p in facts),
        expected=expected,
        empty_months=empty,
    )


def months_due(
    contract_start: date, contract_end: date | None, period_start: date, period_end: date
) -> list[tuple[date, date]]:
    """The [start, end) months of a contract's years (monthly slots from its start) lying wholly
    inside both the contract term and the period [period_start, period_end] (inclusive)."""
    out: list[tuple[date, date]] = []
    last = period_end if contract_end is None else min(period_end, contract_end)
    k = 0
    while True:
        start, end = add_months(contract_start, k), add_months(contract_start, k + 1)
        if start > last:
            return out
        if start >= period_start and end - timedelta(days=1) <= last:
            out.append((start, end))
        k += 1
