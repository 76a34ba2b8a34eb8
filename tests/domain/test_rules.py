"""Pure rules of issue 6, table-driven: ages (INTERFACE.md key populations), schedules
(terminology/README.md package conventions; 3rd-edition specification), terms and the
confirmation window (粤(一)(十)), fees (附件1 备注2), fulfilment (附件2 note)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fhir_server.domain.careplans.rules import add_months, recurring, term_end
from fhir_server.domain.contracting import rules as C
from fhir_server.domain.fulfilment.rules import Tally, rate
from fhir_server.domain.populations.rules import Record, age_in_years, derive
from fhir_server.domain.populations.service import population_rules


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("1961-01-05", "2026-01-05", 65),
        ("1961-01-06", "2026-01-05", 64),
        ("2020-02-29", "2026-02-28", 5),
        ("2019-03-01", "2026-02-28", 6),
    ],
)
def test_age_in_years(birth: str, on: str, age: int) -> None:
    assert age_in_years(date.fromisoformat(birth), date.fromisoformat(on)) == age


ICD = "http://hl7.org/fhir/sid/icd-10"


def _cond(code: str, verification: str | None = None) -> dict:
    c = {
        "resourceType": "Condition",
        "id": code,
        "code": {"coding": [{"system": ICD, "code": code}]},
    }
    if verification:
        c["verificationStatus"] = {"coding": [{"code": verification}]}
    return c


@pytest.mark.parametrize(
    ("patient", "conditions", "expected"),
    [
        ({"birthDate": "1950-01-01"}, ["I10.x00"], ["elderly-65", "hypertension"]),
        ({"birthDate": "2021-01-01"}, [], ["child-0-6"]),
        ({"birthDate": "1990-01-01", "gender": "male"}, ["Z34.0"], []),
        ({"birthDate": "1990-01-01", "gender": "female"}, ["Z34.0"], ["maternal"]),
        ({"birthDate": "1990-01-01"}, ["F06.1"], []),
        (
            {"birthDate": "1990-01-01"},
            ["F20.0", "E11", "J44.1", "A15.0"],
            ["t2dm", "copd", "severe-mental-disorder", "tuberculosis"],
        ),
    ],
)
def test_derive(patient: dict, conditions: list[str], expected: list[str]) -> None:
    record = Record(
        {"resourceType": "Patient", "id": "p", **patient}, [_cond(c) for c in conditions]
    )
    assert [m.code for m in derive(population_rules(), record, date(2026, 1, 5))] == expected


def test_flag_declares_disability() -> None:
    flag = {
        "resourceType": "Flag",
        "id": "f",
        "status": "active",
        "code": {"coding": [{"system": C.CS + "key-population", "code": "disabled"}]},
    }
    record = Record({"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01"}, flags=[flag])
    [m] = derive(population_rules(), record, date(2026, 1, 5))
    assert (m.code, m.evidence[0].reference) == ("disabled", "Flag/f")


@pytest.mark.parametrize(
    ("repeat", "years", "count", "first", "last"),
    [
        ({"frequency": 12, "period": 1, "periodUnit": "a"}, 1, 12, "2026-01-31", "2026-12-31"),
        ({"frequency": 4, "period": 1, "periodUnit": "a"}, 3, 12, "2026-03-31", "2028-12-31"),
        ({"frequency": 1, "period": 1, "periodUnit": "a"}, 2, 2, "2026-12-31", "2027-12-31"),
        ({"frequency": 1, "period": 5, "periodUnit": "a"}, 3, 1, "2028-12-31", "2028-12-31"),
        ({"frequency": 1, "period": 10, "periodUnit": "d"}, 1, 37, "2026-01-10", "2026-12-31"),
        (
            {"count": 3, "frequency": 1, "period": 1, "periodUnit": "a"},
            3,
            3,
            "2026-12-31",
            "2028-12-31",
        ),
    ],
)
def test_recurring(repeat: dict, years: int, count: int, first: str, last: str) -> None:
    start = date(2026, 1, 1)
    events = recurring(repeat, start, term_end(start, years))
    assert (len(events), events[0].isoformat(), events[-1].isoformat()) == (count, first, last)


def test_dates() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert C.add_years_end(date(2024, 2, 29), 1) == date(2025, 2, 28)


@pytest.mark.parametrize(
    ("term", "ok"), [(1, True), (3, True), (0, False), (4, False), (True, False), ("1", False)]
)
def test_term(term: object, ok: bool) -> None:
    if ok:
        assert C.check_term(term) == term
    else:
        with pytest.raises(C.E.FhirError):
            C.check_term(term)


@pytest.mark.parametrize(
    ("on", "window"),
    [
        ("2026-10-01", ("2026-10-01", "2027-03-31")),
        ("2027-02-01", ("2026-10-01", "2027-03-31")),
        ("2026-06-30", None),
    ],
)
def test_renewal_window(on: str, window: tuple[str, str] | None) -> None:
    got = C.renewal_window(date.fromisoformat(on))
    assert (tuple(d.isoformat() for d in got) if got else None) == window


def test_fee_breakdown() -> None:
    ph = {
        "url": "u1",
        "title": "基本公卫",
        "extension": [
            {
                "url": C.EXT_FEE,
                "extension": [
                    {"url": "amount", "valueMoney": {"value": 20}},
                    {
                        "url": "fundingSource",
                        "valueCodeableConcept": {"coding": [{"code": "public-health-funds"}]},
                    },
                ],
            }
        ],
    }
    mi = {
        "url": "u2",
        "title": "医疗",
        "extension": [
            {
                "url": C.EXT_FEE,
                "extension": [
                    {
                        "url": "fundingSource",
                        "valueCodeableConcept": {"coding": [{"code": "medical-insurance"}]},
                    }
                ],
            }
        ],
    }
    fees = C.fee_breakdown([[ph, mi], [ph]])
    assert fees.sources() == ["public-health-funds", "medical-insurance"]
    assert fees.total("public-health-funds") == Decimal(40) and fees.total("medical-insurance") == 0


def test_rate() -> None:
    assert rate([]) == 1.0
    assert rate([Tally("a", "a", 4, 3), Tally("b", "b", 12, 20)]) == round(15 / 16, 4)
