"""careplans.rules.Verdicts: each condition set of a member judged once, with the same answers
as judging it afresh (`applies_in`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_server.domain.careplans import rules as P

ELDERLY = P.Condition("text/fhirpath", "%subject.birthDate <= today() - 65 years")
HTN = P.Condition("text/fhirpath", "%keyPopulations.where(code = 'hypertension').exists()")
CONSENT = P.Condition("text/plain", "签约居民申请并知情同意", "签约居民申请并知情同意")
OTHER = P.Condition("text/plain", "居民有意愿", "居民有意愿")
YEARS = [
    P.Year(a, b, ({"system": "kp", "code": "hypertension"},) if a.year > 2026 else ())
    for a, b in P.contract_years(date(2026, 1, 5), date(2029, 1, 4))
]


@pytest.mark.parametrize(
    "conditions",
    [(), (ELDERLY,), (HTN,), (ELDERLY, HTN), (ELDERLY, CONSENT), (HTN, OTHER), (OTHER,)],
)
@pytest.mark.parametrize("birth", ["1961-06-10", "1950-01-01", "1990-01-01"])
@pytest.mark.parametrize("confirmed", [frozenset(), P.CONSENT_CONDITIONS])
def test_memoised_verdicts_equal_fresh_ones(
    conditions: tuple[P.Condition, ...], birth: str, confirmed: frozenset[str]
) -> None:
    subject = {"resourceType": "Patient", "birthDate": birth}
    memo = P.Verdicts(subject, confirmed)
    for year in YEARS * 2:  # asked twice: the second answer is the memoised one
        assert memo.applies_in(conditions, year) == P.applies_in(
            conditions, subject, year, confirmed
        )


def test_each_expression_is_evaluated_once_per_day_and_populations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, date]] = []
    real = P.fhirpath_holds

    def counting(expression: str, subject: Any, pops: Any, on: date) -> bool:
        calls.append((expression, on))
        return real(expression, subject, pops, on)

    monkeypatch.setattr(P, "fhirpath_holds", counting)
    memo = P.Verdicts({"resourceType": "Patient", "birthDate": "1950-01-01"})
    for conditions in [(ELDERLY,), (ELDERLY, CONSENT), (ELDERLY,), (ELDERLY, HTN)]:
        for year in YEARS:
            memo.applies_in(conditions, year)
    assert len(calls) == len(set(calls))
