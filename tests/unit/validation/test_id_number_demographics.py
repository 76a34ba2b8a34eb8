"""Birth date and sex encoded in the resident ID number (GB 11643) against `birthDate` and `gender`
(issue 4, gap 11): a contradicting gender is an error, a differing birth date a warning (see the
docstring of fhir_server/validation/identifiers.py for why), at the element, on the person's own
identifiers only."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.validation.identifiers import demographic_problems
from fhir_server.validation.pipeline import Validator
from tests.unit.validation.conftest import RIC

MALE = "440126195803120211"  # born 1958-03-12, 17th digit 1: male
FEMALE = "11010519491231002X"  # the standard's example: born 1949-12-31, 17th digit 2: female


@pytest.mark.parametrize(
    ("number", "birth", "gender", "expected"),
    [
        (MALE, "1958-03-12", "male", []),
        (MALE, "1958", "male", []),  # a year only: agrees to its precision
        (MALE, "1958-03", None, []),
        (MALE, "1958-04", None, [("birthDate", "warning")]),
        (MALE, "1958-03-13", "male", [("birthDate", "warning")]),
        (MALE, None, "female", [("gender", "error")]),
        (MALE, None, "other", []),  # other/unknown: nothing to compare
        (MALE, None, "unknown", []),
        (FEMALE, "1949-12-31", "female", []),
        (FEMALE, "1950-01-01", "male", [("birthDate", "warning"), ("gender", "error")]),
    ],
)
def test_demographic_problems(
    number: str, birth: str | None, gender: str | None, expected: list[tuple[str, str]]
) -> None:
    assert [(e, s) for e, s, _ in demographic_problems(number, birth, gender)] == expected


def _person(rtype: str, **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": rtype,
        "identifier": [
            {"system": "urn:oid:2.16.156.10011.1.2", "value": "x"},
            {"system": RIC, "value": MALE},
        ],
        **fields,
    }


def _found(validator: Validator, resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (i.severity, i.message_id or "", i.expression[0])
        for i in validator.validate(resource)
        if (i.message_id or "").startswith("JY-ID-RIC-")
    ]


def test_patient(validator: Validator) -> None:
    patient = _person("Patient", gender="female", birthDate="1958-03-13")
    assert _found(validator, patient) == [
        ("warning", "JY-ID-RIC-BIRTHDATE", "Patient.birthDate"),
        ("error", "JY-ID-RIC-GENDER", "Patient.gender"),
    ]
    assert _found(validator, _person("Patient", gender="male", birthDate="1958-03-12")) == []


def test_related_person(validator: Validator) -> None:
    person = _person("RelatedPerson", patient={"reference": "Patient/p1"}, gender="female")
    assert _found(validator, person) == [("error", "JY-ID-RIC-GENDER", "RelatedPerson.gender")]


def test_only_the_persons_own_identifiers(validator: Validator) -> None:
    # A contained person's number is compared with the contained person, not the container.
    contained = _person("RelatedPerson", id="rp", patient={"reference": "#"}, gender="male")
    patient = {
        "resourceType": "Patient",
        "gender": "female",
        "contained": [contained],
        "contact": [{"extension": [], "name": {"text": "x"}}],
        "link": [{"other": {"reference": "#rp"}, "type": "seealso"}],
    }
    assert _found(validator, patient) == []
    # An ID number in another resource's identifier (an Observation's) is not a person's.
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "identifier": [{"system": RIC, "value": MALE}],
    }
    assert _found(validator, obs) == []
