"""Computed search parameters: values rewritten into ordinary search terms (pure).

- Patient `age` (R4 `patient-extensions-Patient-age`, a number parameter without an expression):
  "age as calculated based on current date and date of birth; deceased patients are excluded".
  `age=65` → born in (today − 66 years, today − 65 years] and not deceased; every number prefix
  becomes a `birthdate` range, so the search uses the date index.  Ages are whole years; a
  decimal age (`age=65.5`) is malformed.

Spec: http://hl7.org/fhir/R4/search.html#number (prefixes), http://hl7.org/fhir/R4/patient.html.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from . import values as v
from .registry import ComputedParam

AGE_DOCUMENTATION = (
    "Age in whole years from birthDate on the server's current date (number prefixes eq ne gt "
    "lt ge le sa eb ap); deceased patients are excluded."
)


def years_before(day: date, years: int) -> date:
    """`day` minus `years` calendar years (29 February → 28 February)."""
    year = day.year - years
    if year < 1:
        return date(1, 1, 1)
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def age_terms(prefix: str, years: int, today: date) -> list[list[tuple[str, str]]]:
    """OR-ed groups of AND-ed `birthdate` terms for `age <prefix> <years>` on `today`.

    A resident is N years old when born in (today − (N+1) years, today − N years]."""

    def born_by(n: int) -> str:  # age ≥ n
        return f"le{years_before(today, n).isoformat()}"

    def born_after(n: int) -> str:  # age < n
        return f"gt{years_before(today, n).isoformat()}"

    living = ("deceased", "false")
    n = years
    rules: dict[str, list[list[tuple[str, str]]]] = {
        "eq": [[("birthdate", born_by(n)), ("birthdate", born_after(n + 1)), living]],
        "ne": [[("birthdate", born_after(n)), living], [("birthdate", born_by(n + 1)), living]],
        "gt": [[("birthdate", born_by(n + 1)), living]],
        "sa": [[("birthdate", born_by(n + 1)), living]],
        "ge": [[("birthdate", born_by(n)), living]],
        "lt": [[("birthdate", born_after(n)), living]],
        "eb": [[("birthdate", born_after(n)), living]],
        "le": [[("birthdate", born_after(n + 1)), living]],
    }
    if prefix == "ap":  # within 10 % (at least a year) either side
        margin = max(1, round(n * 0.1))
        low, high = max(0, n - margin), n + margin
        return [[("birthdate", born_by(low)), ("birthdate", born_after(high + 1)), living]]
    return rules[prefix]


def age_rewrite(
    today: Callable[[], date],
) -> Callable[[str, str | None], list[list[tuple[str, str]]]]:
    def rewrite(value: str, modifier: str | None) -> list[list[tuple[str, str]]]:
        if modifier is not None:
            raise v.ValueError_(f"age takes no modifier (':{modifier}')")
        number = v.parse_number(value)
        if number.value != int(number.value) or number.value < 0:
            raise v.ValueError_(f"'{value}' is not a whole number of years")
        return age_terms(number.prefix, int(number.value), today())

    return rewrite


def standard_computed(today: Callable[[], date] | None = None) -> list[ComputedParam]:
    """The computed parameters every server registry carries; `age` counts years at `today`
    (default: the date of the request being served, `core.clock.serving_today`)."""
    if today is None:
        from ..core.clock import serving_today

        today = serving_today
    return [ComputedParam("age", ("Patient",), age_rewrite(today), AGE_DOCUMENTATION, "number")]
