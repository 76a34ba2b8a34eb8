"""The computable definition of Measure/family-doctors-per-10000 (issue 4, brief F2 gap 2): the
FHIRPath criteria the Measure carries are the ones `$evaluate-measure` evaluates, and the pure rules
(area parameter, census figure, score) table by table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_data, load_ig_resources
from fhir_server.core.errors import FhirError
from fhir_server.operations import measure_family_doctors as M


@pytest.fixture(scope="module")
def measure() -> dict[str, Any]:
    return next(
        r for r in load_ig_resources() if r["resourceType"] == "Measure" and r["id"] == M.MEASURE_ID
    )


def test_the_measure_is_computable(measure: dict[str, Any]) -> None:
    criteria = M.criteria_of(measure)
    assert "%familyDoctorTeamMembers" in criteria.numerator
    assert "%areaOrganizations" in criteria.numerator
    assert "%areas" in criteria.denominator
    # the variables the module computes are defined, verbatim, in the Measure
    text = "\n".join(measure["definition"])
    for name, (_rtype, expression) in M.VARIABLE_CRITERIA.items():
        assert f"%{name}:" in text
        assert expression.removeprefix("address.") in text
    for role in M.DOCTOR_ROLES:
        assert role in text
    assert [g["id"] for g in measure["group"]] == ["registered", "census"]


def test_a_measure_without_fhirpath_criteria_is_refused(measure: dict[str, Any]) -> None:
    bare = json.loads(json.dumps(measure))
    bare["group"][0]["population"][0]["criteria"]["language"] = "text/plain"
    with pytest.raises(FhirError) as err:
        M.criteria_of(bare)
    assert err.value.status == 500


KNOWN = {"440000": "province", "440100": "city", "440113": "district"}


@pytest.mark.parametrize(
    ("subject", "reporter", "expected"),
    [
        (None, None, M.Area(("440000",))),
        ("440100", None, M.Area(("440100",))),
        (None, "440113", M.Area(("440113",))),
        ("440113", "440113", M.Area(("440113",))),
        (None, "Organization/o1", "Organization/o1"),
    ],
)
def test_parse_area(subject: str | None, reporter: str | None, expected: object) -> None:
    assert M.parse_area(subject, reporter, KNOWN) == expected


@pytest.mark.parametrize(
    ("subject", "reporter", "where"),
    [
        ("110105", None, "subject"),
        ("Patient/p1", None, "subject"),
        (None, "Organization/a/b", "reporter"),
        ("440100", "440113", "reporter"),
    ],
)
def test_parse_area_refuses(subject: str | None, reporter: str | None, where: str) -> None:
    with pytest.raises(FhirError) as err:
        M.parse_area(subject, reporter, KNOWN)
    assert err.value.status == 400
    assert any(where in issue.expression for issue in err.value.issues)


@pytest.mark.parametrize(
    ("code", "population"),
    [("440000", 126012510), ("440100", 18676605), ("440300", 17560061), ("440113", None)],
)
def test_census_population(code: str, population: int | None) -> None:
    figures = load_ig_data("terminology/population", "guangdong-reference-figures.json")
    assert M.census_population(code, figures) == population


def test_the_census_cities_add_up_to_the_province() -> None:
    figures = load_ig_data("terminology/population", "guangdong-reference-figures.json")
    assert len(figures["cities"]) == 21
    assert sum(c["population2020"] for c in figures["cities"]) == 126012510


@pytest.mark.parametrize(
    ("numerator", "denominator", "value"),
    [
        (3, 2, 15000.0),
        (4, 3, 13333.33),
        (1, 30000, 0.33),
        (0, 5, 0.0),
        (3, 0, None),
        (3, None, None),
    ],
)
def test_score(numerator: int, denominator: int | None, value: float | None) -> None:
    scored = M.score(numerator, denominator)
    assert (scored or {}).get("value") == value
    if scored:
        assert scored["code"] == "/10*4"
