"""The persisted year plan (issue 7): which slots a run creates, table-driven — monthly runs on any
day of the month give 12 pushes, the final month catches up, a shortened contract ends the year —
and the rows the planner's tables hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fhir_server.domain.pushes import plans as P
from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.rules import ResidentFacts, add_months, plan_year

LIB = load_library()


def _plan(start: date, end: date | None = None) -> P.YearPlan:
    year_start, year_end = P.contract_year(start, end, start)
    planned = plan_year(ResidentFacts(40), P.year_slots(year_start, year_end), LIB)
    return P.new_plan(
        contract_id="c1",
        patient_id="p1",
        year_start=year_start,
        year_end=year_end,
        care_plan_id="cp1",
        sender="PractitionerRole/r1",
        planned=planned,
    )


def _run_monthly(plan: P.YearPlan, first: date, runs: int) -> tuple[P.YearPlan, list[int]]:
    created: list[int] = []
    for k in range(runs):
        due = plan.due_slots(add_months(first, k))
        created += [s.index for s in due]
        plan = plan.with_created(s.index for s in due)
    return plan, created


@pytest.mark.parametrize("contract_day", [1, 10, 15, 28, 31])
@pytest.mark.parametrize("run_day", [1, 5, 15, 28])
def test_monthly_runs_on_any_day_give_twelve(contract_day: int, run_day: int) -> None:
    start = add_months(date(2026, 1, 1), 0).replace(day=min(contract_day, 31))
    plan = _plan(start)
    first_run = start.replace(day=min(run_day, 28))
    if first_run < start:
        first_run = add_months(first_run, 1)
    done, created = _run_monthly(plan, first_run, 13)
    assert sorted(created) == list(range(12)) and len(created) == 12
    assert done.next_start is None and done.due_slots(add_months(first_run, 13)) == []


@pytest.mark.parametrize(
    ("on", "due"),
    [
        (date(2026, 2, 28), []),  # before the contract year
        (date(2026, 3, 1), [0]),
        (date(2026, 5, 20), [0, 1, 2]),  # missed runs are caught up
        (date(2027, 1, 31), list(range(11))),
        (date(2027, 2, 1), list(range(12))),  # the final month: everything left
        (date(2027, 3, 1), []),  # the next contract year has its own plan
    ],
)
def test_due_slots(on: date, due: list[int]) -> None:
    assert [s.index for s in _plan(date(2026, 3, 1)).due_slots(on)] == due


def test_catch_up_in_the_final_month_whatever_the_run_day() -> None:
    plan = _plan(date(2026, 3, 20)).with_created(range(11))
    assert plan.catch_up_from == date(2027, 2, 20)
    assert [s.index for s in plan.due_slots(date(2027, 2, 19))] == []
    assert [s.index for s in plan.due_slots(date(2027, 2, 20))] == [11]


def test_a_short_contract_year_has_its_months_only() -> None:
    plan = _plan(date(2026, 3, 1), date(2026, 8, 31))
    assert plan.year_end == date(2026, 9, 1) and len(plan.slots) == 6
    assert [s.index for s in plan.due_slots(date(2026, 8, 1))] == list(range(6))
    assert plan.due_slots(date(2026, 9, 1)) == []


def test_rows_round_trip() -> None:
    plan = _plan(date(2026, 3, 1)).with_created([0, 1])
    plan = P.YearPlan(**{**plan.__dict__, "divisions": ("440106",)})
    row = P.plan_to_row(plan, None)
    assert row["next_start"] == date(2026, 5, 1) and row["divisions"] == ",440106,"
    assert P.plan_from_row(row) == plan
    assert P.mark_row(plan)["done"] == 0b11


def test_contract_rows_and_the_sender() -> None:
    contract = {
        "resourceType": "Contract",
        "id": "c1",
        "status": "executed",
        "applies": {"start": "2026-03-01", "end": "2027-02-28"},
        "subject": [{"reference": "Patient/a"}, {"reference": "Patient/b"}],
        "authority": [{"reference": "Organization/o1"}],
        "signer": [
            {"party": {"reference": "Patient/a"}},
            {"party": {"reference": "PractitionerRole/r"}},
        ],
        "extension": [{"url": P.CONTRACT_TEAM_EXT, "valueReference": {"reference": "CareTeam/t"}}],
    }
    row = P.contract_row(contract, None)
    assert row["patients"] == ["a", "b"] and row["care_team"] == "CareTeam/t"
    assert row["sender"] == "PractitionerRole/r"  # a CareTeam cannot be Communication.sender
    assert P.in_force(row, date(2027, 2, 28)) and not P.in_force(row, date(2027, 3, 1))
    assert P.plan_end(row) == date(2027, 3, 1)
    assert P.plan_end({**row, "status": "terminated"}) is None
    del contract["signer"]
    assert P.contract_row(contract, None)["sender"] == "Organization/o1"
    assert P.contract_year(date(2026, 3, 1), None, date(2027, 3, 1)) == (
        date(2027, 3, 1),
        date(2028, 3, 1),
    )
    assert P.contract_year(date(2026, 3, 1), date(2026, 12, 31), date(2026, 6, 1))[1] == (
        date(2026, 12, 31) + timedelta(days=1)
    )
