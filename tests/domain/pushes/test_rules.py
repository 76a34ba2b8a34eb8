"""Pure rules of the push plan (国卫办基层发〔2025〕21号（三）; 粤(三); 附件1/附件2 健康提醒 "按照节气 …
每年不少于12次"; 粤(七) alerts), table-driven."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from fhir_server.domain.alerts.rules import area_covers
from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.rules import (
    REQUIRED_TOPICS,
    PushFact,
    ResidentFacts,
    add_months,
    assess,
    contract_year_start,
    missing_topics,
    month_slots,
    months_due,
    personal_needs,
    personalised_candidates,
    plan_year,
)
from fhir_server.domain.pushes.solar_terms import solar_terms

LIB = load_library()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 15), 12, date(2027, 3, 15)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "on", "expected"),
    [
        (date(2025, 3, 15), date(2026, 3, 14), date(2025, 3, 15)),
        (date(2025, 3, 15), date(2026, 3, 15), date(2026, 3, 15)),
        (date(2025, 3, 15), date(2027, 1, 1), date(2026, 3, 15)),
    ],
)
def test_contract_year_start(start: date, on: date, expected: date) -> None:
    assert contract_year_start(start, on) == expected


@pytest.mark.parametrize(
    ("year", "code", "day"),
    [
        (2026, "lichun", date(2026, 2, 4)),
        (2026, "dongzhi", date(2026, 12, 22)),
        (2027, "qingming", date(2027, 4, 5)),
    ],
)
def test_solar_terms_computed(year: int, code: str, day: date) -> None:
    terms = {t.code: t.day for t in solar_terms(year)}
    assert len(terms) == 24 and terms[code] == day


@pytest.mark.parametrize(
    "start", [date(2026, 1, 1), date(2026, 1, 31), date(2026, 6, 17), date(2027, 2, 28)]
)
def test_month_slots_one_per_month_on_a_solar_term(start: date) -> None:
    slots = month_slots(start)
    assert len(slots) == 12 and slots[-1].end == add_months(start, 12)
    for slot in slots:
        assert slot.terms and slot.start <= slot.due < slot.end


@pytest.mark.parametrize(
    ("facts", "needs"),
    [
        (ResidentFacts(40), []),
        (ResidentFacts(40, bmi=24.0), ["sct:238131007"]),
        (ResidentFacts(40, bmi=23.9), []),
        (
            ResidentFacts(70, frozenset({"elderly-65", "hypertension"})),
            ["kp:hypertension", "kp:elderly-65"],
        ),
        (ResidentFacts(30, frozenset({"maternal"}), smoker=True), ["kp:maternal", "sct:77176002"]),
    ],
)
def test_personal_needs(facts: ResidentFacts, needs: list[str]) -> None:
    assert personal_needs(facts) == needs


@pytest.mark.parametrize(
    ("facts", "must_include"),
    [
        (ResidentFacts(45, bmi=27.0), {"push-p-weight-plan"}),
        (
            ResidentFacts(55, frozenset({"hypertension"})),
            {"push-p-hbp-salt", "push-p-hbp-selfcheck"},
        ),
        (ResidentFacts(29, frozenset({"maternal"})), {"push-p-prenatal-nutrition"}),
        (
            ResidentFacts(72, frozenset({"elderly-65"})),
            {"push-p-elderly-falls", "push-p-elderly-vaccines"},
        ),
        (ResidentFacts(40), {"push-p-adult-checkup"}),
        (ResidentFacts(4, frozenset({"child-0-6"})), {"push-p-child-immunisation"}),
    ],
)
def test_personalised_choice_from_the_record(facts: ResidentFacts, must_include: set[str]) -> None:
    plan = plan_year(facts, month_slots(date(2026, 3, 1)), LIB)
    chosen = {p.item.id for p in plan if p.personalised}
    assert must_include <= chosen


POPS = ["elderly-65", "hypertension", "t2dm", "copd", "maternal", "child-0-6", "cancer-high-risk"]


@pytest.mark.parametrize("combo", [c for n in range(3) for c in itertools.combinations(POPS, n)])
@pytest.mark.parametrize("start", [date(2026, 1, 10), date(2026, 7, 31)])
def test_every_plan_has_12_in_season_all_topics_personalised_nothing_twice(
    combo: tuple[str, ...], start: date
) -> None:
    facts = ResidentFacts(70 if "elderly-65" in combo else 45, frozenset(combo), bmi=26.0)
    slots = month_slots(start)
    plan = plan_year(facts, slots, LIB)
    assert [p.slot.index for p in plan] == list(range(12))
    assert missing_topics([p.item for p in plan], LIB) == []
    assert any(p.personalised for p in plan)
    assert len({p.item.id for p in plan}) == 12
    assert all(not p.item.terms or p.item.terms & p.slot.terms for p in plan)


def test_plan_keeps_what_was_sent() -> None:
    slots = month_slots(date(2026, 3, 1))
    first = plan_year(ResidentFacts(40), slots, LIB)
    fixed = {p.slot.index: (p.item.id, p.personalised) for p in first[:5]}
    # the resident became hypertensive: the rest is replanned, the sent months are kept
    again = plan_year(ResidentFacts(40, frozenset({"hypertension"})), slots, LIB, fixed)
    assert [p.item.id for p in again[:5]] == [p.item.id for p in first[:5]]
    assert len({p.item.id for p in again}) == 12
    assert "push-p-hbp-salt" in {p.item.id for p in again}


def test_library_has_48_items_covering_every_topic() -> None:
    assert len(LIB.items) >= 48
    assert missing_topics(LIB.items, LIB) == []
    assert all(i.text and i.title for i in LIB.items)


@pytest.mark.parametrize(
    ("area", "division", "covers"),
    [
        ("440106", "440106", True),
        ("440100", "440106", True),
        ("440100", "440306", False),
        ("440000", "445302", True),
        ("440106", "440100", False),
    ],
)
def test_area_covers(area: str, division: str, covers: bool) -> None:
    assert area_covers(area, division) is covers


@pytest.mark.parametrize(
    ("facts", "compliant", "short"),
    [
        ([PushFact(date(2026, 1, 1), frozenset(REQUIRED_TOPICS), True)] * 12, True, []),
        (
            [PushFact(date(2026, 1, 1), frozenset(REQUIRED_TOPICS), False)] * 12,
            False,
            ["no personalised guidance"],
        ),
        (
            [PushFact(date(2026, 1, 1), frozenset({"diet"}), True)] * 3,
            False,
            [
                "pushes 3/12",
                "missing topics: " + ", ".join(t for t in REQUIRED_TOPICS if t != "diet"),
            ],
        ),
    ],
)
def test_assess(facts: list[PushFact], compliant: bool, short: list[str]) -> None:
    a = assess(facts)
    assert a.compliant is compliant
    assert [
        s for s in a.shortfalls() if s != "no personalised guidance" or not short or s in short
    ] == short


@pytest.mark.parametrize(
    ("contract", "period", "months"),
    [
        # a whole contract year inside the period: its 12 months
        ((date(2026, 3, 1), date(2027, 2, 28)), (date(2026, 3, 1), date(2027, 2, 28)), 12),
        # a calendar-year report: the months lying wholly inside both
        ((date(2026, 3, 1), date(2027, 2, 28)), (date(2026, 1, 1), date(2026, 12, 31)), 10),
        # mid-month start: the month straddling the period's end is not due yet
        ((date(2026, 3, 15), date(2027, 3, 14)), (date(2026, 3, 1), date(2027, 2, 28)), 11),
        # terminated after five months
        ((date(2026, 3, 1), date(2026, 7, 31)), (date(2026, 3, 1), date(2027, 2, 28)), 5),
        # open-ended contract, two years
        ((date(2026, 3, 1), None), (date(2026, 3, 1), date(2028, 2, 29)), 24),
    ],
)
def test_months_due_by_overlap(
    contract: tuple[date, date | None], period: tuple[date, date], months: int
) -> None:
    due = months_due(contract[0], contract[1], period[0], period[1])
    assert len(due) == months
    assert all(period[0] <= s and e <= add_months(period[1], 0) + timedelta(days=1) for s, e in due)


def test_assess_by_months_lists_the_empty_ones() -> None:
    due = months_due(date(2026, 3, 1), None, date(2026, 3, 1), date(2026, 8, 31))
    facts = [PushFact(s, frozenset({"diet"}), False) for s, _ in due if s.month != 5]
    a = assess(facts, due)
    assert (a.count, a.expected, a.empty_months) == (5, 6, ("2026-05",))
    assert a.shortfalls() == ["pushes 5/6", "months without a push: 2026-05"]
    assert not a.full_year  # half a year: topics and personalised guidance are not assessed
    full = [PushFact(s, frozenset({"diet"}), False) for s, _ in due]
    assert assess(full, due).compliant


def test_alerts_are_never_planned_and_a_record_without_needs_gets_the_default() -> None:
    assert [i.id for i in personalised_candidates(ResidentFacts(None), LIB.items)] == [
        "push-p-record-review"
    ]
    plan = plan_year(ResidentFacts(None), month_slots(date(2026, 3, 1)), LIB)
    assert [p.item.id for p in plan if p.personalised] == ["push-p-record-review"]


def test_every_item_is_tagged_with_topic_timing_and_audience() -> None:
    for item in LIB.items:
        assert item.topics, item.id
        assert item.terms or item.year_round, item.id
        assert item.suits or item.age, item.id
        assert not (item.terms and item.year_round), item.id
