"""Pure referral rules, table-driven (fhir_server/domain/referrals/rules.py): reserved shares and their
spread (粤(四) 预留专家号源、住院床位比例), the policy's most-specific rule, release times, job instants,
the three priorities (粤(四) 三优先), urgency (急危重症), upward-referral completeness, report maths."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fhir_server.domain.referrals import rules as R
from fhir_server.domain.referrals.capacity import load_policy

H = timedelta(hours=1)
AT = datetime(2026, 3, 2, 9, 0, tzinfo=R.CST)


@pytest.mark.parametrize(
    ("total", "share", "expected"),
    [
        (0, 0.2, 0),
        (10, 0.0, 0),
        (10, 0.2, 2),
        (7, 0.2, 2),
        (5, 0.2, 1),
        (1, 0.1, 1),
        (3, 1.0, 3),
        (10, 0.3, 3),
    ],
)
def test_reserved_target(total: int, share: float, expected: int) -> None:
    assert R.reserved_target(total, share) == expected


@pytest.mark.parametrize(
    ("candidates", "wanted", "expected"),
    [(10, 2, [0, 5]), (10, 0, []), (3, 5, [0, 1, 2]), (9, 3, [0, 3, 6]), (1, 1, [0])],
)
def test_spread(candidates: int, wanted: int, expected: list[int]) -> None:
    assert R.spread(candidates, wanted) == expected


POLICY = R.ReservationPolicy.from_json(
    {
        "defaults": {"share": 0.2, "releaseLeadHours": 24},
        "kinds": {"bed": {"share": 0.1}},
        "rules": [
            {"hospital": "Organization/h1", "share": 0.3},
            {"hospital": "Organization/h1", "kind": "bed", "share": 0.15, "releaseLeadHours": 12},
            {"hospital": "Organization/h1", "department": "HealthcareService/cardio", "share": 0.5},
        ],
    }
)


@pytest.mark.parametrize(
    ("hospital", "department", "kind", "share", "lead_hours"),
    [
        (None, None, None, 0.2, 24),
        ("Organization/h2", None, "expert", 0.2, 24),
        ("Organization/h2", None, "bed", 0.1, 24),
        ("Organization/h1", None, "expert", 0.3, 24),
        ("Organization/h1", None, "bed", 0.15, 12),
        ("Organization/h1", "HealthcareService/cardio", "expert", 0.5, 24),
        ("Organization/h1", "HealthcareService/cardio", "bed", 0.5, 24),
    ],
)
def test_policy_most_specific_rule_wins(
    hospital: str | None, department: str | None, kind: str | None, share: float, lead_hours: int
) -> None:
    assert POLICY.terms_for(hospital, department, kind) == R.ReservationTerms(share, lead_hours * H)


def test_policy_file_loads_and_shares_are_sane() -> None:
    policy = load_policy()
    assert policy.terms_for(None, None, "expert").share == 0.2
    assert policy.terms_for(None, None, "bed").release_lead == 24 * H
    with pytest.raises(ValueError, match="within 0..1"):
        R.ReservationPolicy.from_json({"defaults": {"share": 1.5}})


TERMS = R.ReservationTerms(0.2, 48 * H)


@pytest.mark.parametrize(
    ("start", "due"),
    [(AT + 49 * H, False), (AT + 48 * H, True), (AT + 1 * H, True), (AT, False), (AT - H, False)],
)
def test_release_due(start: datetime, due: bool) -> None:
    assert R.release_due(start, TERMS, AT) is due


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (date(2026, 3, 2), AT),
        (date(2026, 3, 1), datetime(2026, 3, 1, 23, 59, 59, tzinfo=R.CST)),
        (date(2026, 3, 5), datetime(2026, 3, 5, 0, 0, tzinfo=R.CST)),
    ],
)
def test_job_instant(run: date, expected: datetime) -> None:
    assert R.job_instant(run, AT) == expected


@pytest.mark.parametrize(
    ("kind", "priority"),
    [
        ("expert", "appointment"),
        ("examination", "examination"),
        ("bed", "admission"),
        (None, "appointment"),
    ],
)
def test_priority_for_kind(kind: str | None, priority: str) -> None:
    assert R.priority_for_kind(kind) == priority


@pytest.mark.parametrize(
    ("priority", "urgent"),
    [("routine", False), (None, False), ("urgent", True), ("asap", True), ("stat", True)],
)
def test_is_urgent(priority: str | None, urgent: bool) -> None:
    assert R.is_urgent(priority) is urgent


@pytest.mark.parametrize(
    ("status", "holds"),
    [
        ("booked", True),
        ("pending", True),
        ("arrived", True),
        ("proposed", False),
        ("cancelled", False),
        ("noshow", False),
    ],
)
def test_occupies(status: str, holds: bool) -> None:
    assert R.occupies(status) is holds


COMPLETE = {
    "subject": {"reference": "Patient/1"},
    "code": {"text": "x"},
    "reasonCode": [{"text": "y"}],
    "priority": "routine",
    "note": [{"text": "summary"}],
    "performer": [{"reference": "Organization/h"}],
}


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        ((), []),
        (("note",), ["note|supportingInfo (clinical summary)"]),
        (("reasonCode", "performer"), ["reasonCode|reasonReference", "performer"]),
        (("priority",), ["priority"]),
    ],
)
def test_missing_upward_elements(drop: tuple[str, ...], missing: list[str]) -> None:
    body = {k: v for k, v in COMPLETE.items() if k not in drop}
    assert R.missing_upward_elements(body) == missing


def test_contract_alone_is_no_clinical_summary() -> None:
    body = {**COMPLETE, "supportingInfo": [{"reference": "Contract/1"}]}
    body.pop("note")
    assert R.missing_upward_elements(body) == ["note|supportingInfo (clinical summary)"]


@pytest.mark.parametrize(
    ("period", "at", "covered"),
    [
        ({"start": "2026-01-01", "end": "2026-12-31"}, AT, True),
        ({"start": "2026-01-01", "end": "2026-03-02"}, AT, True),
        ({"start": "2026-01-01", "end": "2026-03-01"}, AT, False),
        ({"start": "2026-03-03"}, AT, False),
        ({}, AT, True),
    ],
)
def test_period_covers(period: dict[str, str], at: datetime, covered: bool) -> None:
    assert R.period_covers(period, at) is covered


def _slot(status: str, *tags: tuple[str, str]) -> dict[str, object]:
    return {"status": status, "meta": {"tag": [{"system": s, "code": c} for s, c in tags]}}


RES = (R.RESERVATION_SYSTEM, R.RESERVATION_CODE)
REL = (R.MARKER_SYSTEM, "reservation-released")


def test_count_slots() -> None:
    slots = [
        _slot("free"),
        _slot("busy"),
        _slot("busy", RES),
        _slot("free", RES),
        _slot("free", REL),
        _slot("busy", REL),
    ]
    assert R.count_slots(slots) == R.SlotCounts(reserved=4, used=1, released=2, unused=1)


@pytest.mark.parametrize(
    ("hours", "stats"),
    [
        ([], R.DurationStats(0, None, None, None)),
        ([24], R.DurationStats(1, 24.0, 24.0, 24.0)),
        ([24, 95], R.DurationStats(2, 59.5, 59.5, 95.0)),
        ([1, 2, 10], R.DurationStats(3, 4.33, 2.0, 10.0)),
    ],
)
def test_duration_stats(hours: list[int], stats: R.DurationStats) -> None:
    assert R.duration_stats([h * H for h in hours]) == stats


def test_priorities_used_and_schedule_share() -> None:
    sr = {
        "extension": [
            {
                "url": R.PRIORITY_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": R.PRIORITY_SYSTEM, "code": "admission"}]
                },
            }
        ]
    }
    assert R.priorities_used(sr) == ["admission"]
    assert R.priorities_used({}) == []
    assert (
        R.schedule_share({"extension": [{"url": R.SHARE_EXTENSION, "valueDecimal": 0.25}]}) == 0.25
    )
    assert R.schedule_share({}) is None


# -- issue 8 hardening: the Task state machine, refusals, slot holds, reservation tags ----------
@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("requested", "requested", True),  # no change
        ("requested", "accepted", True),
        ("requested", "received", True),
        ("requested", "rejected", True),
        ("requested", "completed", False),  # never accepted
        ("received", "accepted", True),
        ("accepted", "in-progress", True),
        ("accepted", "completed", True),  # skipping forward
        ("in-progress", "on-hold", True),
        ("on-hold", "in-progress", True),
        ("in-progress", "accepted", False),  # going back
        ("completed", "requested", False),  # a final status stays
        ("completed", "in-progress", False),
        ("rejected", "accepted", False),
        ("cancelled", "requested", False),
        ("completed", "entered-in-error", True),  # always possible
        ("draft", "requested", True),
        ("draft", "accepted", False),
    ],
)
def test_task_transitions(old: str, new: str, allowed: bool) -> None:
    assert R.task_transition_allowed(old, new) is allowed


@pytest.mark.parametrize(
    ("statuses", "refused"),
    [
        ([], False),  # no Task (yet): nothing refused
        (["requested"], False),
        (["rejected"], True),
        (["cancelled"], True),
        (["failed"], True),
        (["rejected", "accepted"], False),  # sent to a second hospital that accepted
        (["rejected", "cancelled"], True),
        (["completed"], False),
    ],
)
def test_referral_refused(statuses: list[str], refused: bool) -> None:
    assert R.referral_refused(statuses) is refused


@pytest.mark.parametrize(
    ("before", "after", "leaves"),
    [
        (None, {"status": "free"}, False),  # a new slot
        ({"status": "busy"}, None, True),  # deleted
        ({"status": "free"}, None, True),  # deleted (a holder may exist whatever the status)
        ({"status": "busy"}, {"status": "free"}, True),
        ({"status": "busy"}, {"status": "busy-unavailable"}, True),
        ({"status": "busy"}, {"status": "busy"}, False),
        ({"status": "free"}, {"status": "busy"}, False),
        ({"status": "free"}, {"status": "free"}, False),
    ],
)
def test_leaves_busy(before: dict | None, after: dict | None, leaves: bool) -> None:
    assert R.leaves_busy(before, after) is leaves


RESERVED = {"meta": {"tag": [{"system": R.RESERVATION_SYSTEM, "code": "referral"}]}}
RELEASED = {"meta": {"tag": [{"system": R.MARKER_SYSTEM, "code": "reservation-released"}]}}
PUBLIC: dict = {}


@pytest.mark.parametrize(
    ("before", "after", "as_of", "refused"),
    [
        (RESERVED, PUBLIC, AT, "removes"),  # before the release time
        (RESERVED, RELEASED, AT, "removes"),
        (PUBLIC, RELEASED, AT, "adds"),
        (None, RELEASED, AT, "adds"),  # created as released
        (RESERVED, RESERVED, AT, None),
        (PUBLIC, RESERVED, AT, None),  # reserving is always allowed
        (None, RESERVED, AT, None),
        (RELEASED, RELEASED, AT, None),  # stays as the job left it
        (RESERVED, PUBLIC, AT + 10 * H, None),  # the release time has come
        (PUBLIC, RELEASED, AT + 10 * H, None),
    ],
)
def test_tag_change_refusal(
    before: dict | None, after: dict, as_of: datetime, refused: str | None
) -> None:
    why = R.tag_change_refusal(before, after, AT + 10 * H, as_of)
    assert (why is None) if refused is None else (why is not None and why.startswith(refused))


@pytest.mark.parametrize(
    ("recorded", "in_use", "stale"),
    [
        ([], [], []),
        (["appointment"], ["appointment"], []),
        (["appointment"], [], ["appointment"]),
        (["appointment", "admission"], ["admission"], ["appointment"]),
        (["appointment", "appointment"], [], ["appointment"]),
    ],
)
def test_stale_priorities(recorded: list[str], in_use: list[str], stale: list[str]) -> None:
    assert R.stale_priorities(recorded, in_use) == stale


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        ([], None),
        ([{"coding": [{"system": R.DIRECTION_SYSTEM, "code": "up"}]}], None),
        (
            [
                {"coding": [{"system": R.DIRECTION_SYSTEM, "code": "up"}]},
                {"coding": [{"system": R.CAPACITY_SYSTEM, "code": "bed"}]},
            ],
            "bed",
        ),
    ],
)
def test_referral_kind(category: list[dict], kind: str | None) -> None:
    assert R.referral_kind({"category": category}) == kind
