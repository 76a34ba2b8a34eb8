"""Resource → index values (http://hl7.org/fhir/R4/search.html, per-type matching rules):
FHIRPath expressions narrowed per type, `resolve() is X` filters, data-type interpretation."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.search.dates import MAX_MS, date_range
from fhir_server.search.extract import (
    Extractor,
    date_value,
    names_param,
    string_values,
    token_values,
)
from fhir_server.search.references import ParsedReference, parse_reference
from fhir_server.search.registry import SearchRegistry, narrow_expression, r4_registry, split_union


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor(r4_registry(), base_url="https://srv/fhir")


def test_split_and_narrow() -> None:
    assert split_union("A.b | (C.d as E) | F.g.where(x | y)") == [
        "A.b",
        "(C.d as E)",
        "F.g.where(x | y)",
    ]
    expr, required = narrow_expression(
        "Account.subject.where(resolve() is Patient) | Observation.subject.where(resolve() is Patient)",
        "Observation",
    )
    assert (expr, required) == ("Observation.subject", ("Patient",))
    assert narrow_expression("Resource.meta.tag", "Patient") == ("Patient.meta.tag", ())


@pytest.mark.parametrize(
    ("data", "fhir_type", "expected"),
    [
        (True, "boolean", [(None, "true", None)]),
        ("male", "code", [(None, "male", None)]),
        (
            {"coding": [{"system": "s", "code": "c", "display": "Dé"}], "text": "T"},
            "CodeableConcept",
            [("s", "c", "de"), (None, None, "t")],
        ),
        ({"system": "s", "value": "1", "type": {"text": "ID"}}, "Identifier", [("s", "1", "id")]),
        ({"system": "phone", "value": "123"}, "ContactPoint", [("phone", "123", None)]),
        ({"system": "s", "code": "c"}, "Coding", [("s", "c", None)]),
    ],
)
def test_token_values(data: Any, fhir_type: str, expected: list[tuple[Any, ...]]) -> None:
    assert token_values(data, fhir_type) == expected


def test_string_values() -> None:
    assert string_values({"family": "张", "given": ["三"]}, "HumanName") == ["张", "三", "张三"]
    assert string_values({"family": "Doe", "given": ["J", "K"]}, "HumanName") == [
        "Doe",
        "J",
        "K",
        "J K Doe",
    ]
    assert string_values({"line": ["1 Rd"], "city": "X"}, "Address") == ["1 Rd", "X"]


def test_dates() -> None:
    assert date_value({"start": "2020"}) == (date_range("2020")[0], MAX_MS)  # type: ignore[index]
    assert date_value({"event": ["2020-01-02", "2020-01-05"]}) == (
        date_range("2020-01-02")[0],
        date_range("2020-01-05")[1],
    )  # type: ignore[index]
    assert date_range("2020-02-30") is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Patient/1", ParsedReference("Patient", "1", None)),
        ("Patient/1/_history/2", ParsedReference("Patient", "1", None)),
        ("https://srv/fhir/Patient/1", ParsedReference("Patient", "1", None)),
        ("http://x/fhir/Patient/1", ParsedReference("Patient", None, "http://x/fhir/Patient/1")),
        (
            "http://x/PlanDefinition/kp|1.0",
            ParsedReference("PlanDefinition", None, "http://x/PlanDefinition/kp"),
        ),
        ("urn:uuid:abc", ParsedReference(None, None, "urn:uuid:abc")),
        ("#c1", None),
    ],
)
def test_parse_reference(ref: str, expected: ParsedReference | None) -> None:
    assert parse_reference(ref, "https://srv/fhir") == expected


def test_extract_observation(extractor: Extractor) -> None:
    rows = extractor.extract(
        {
            "resourceType": "Observation",
            "id": "o",
            "meta": {"lastUpdated": "2024-01-01T00:00:00Z", "tag": [{"system": "t", "code": "x"}]},
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
            "subject": {"reference": "Group/g"},
            "valueQuantity": {"value": 2, "system": "u", "code": "mg", "unit": "milligram"},
        }
    )
    assert ("code", "http://loinc.org", "1", None) in rows.token
    assert ("_tag", "t", "x", None) in rows.token
    assert ("subject", "Group", "g", None) in rows.reference
    assert not [r for r in rows.reference if r[0] == "patient"]  # where(resolve() is Patient)
    assert ("value-quantity", "u", "mg", 2.0) in rows.quantity
    assert ("value-quantity", None, "milligram", 2.0) in rows.quantity
    assert [r[0] for r in rows.date] == ["_lastUpdated"]


def test_compiled_expressions_live_on_the_registry() -> None:
    registry: SearchRegistry = r4_registry()
    Extractor(registry).extract({"resourceType": "Patient", "id": "x", "gender": "male"})
    assert ("extract", "Patient", "gender") in registry.compiled
    assert r4_registry().compiled == {}


def test_pinyin_is_stored_for_names_not_for_addresses(extractor: Extractor) -> None:
    """Names are found by pinyin (张三 ← zhangsan, zs); an address only by its own text."""
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"family": "张", "given": ["三"]}],
        "address": [{"city": "广州市", "line": ["荔湾区第1社区"]}],
    }
    rows = extractor.extract(patient).string
    name = {form for code, form, _raw in rows if code == "name"}
    address = {form for code, form, _raw in rows if code == "address"}
    city = {form for code, form, _raw in rows if code == "address-city"}
    assert {"张三", "zhangsan", "zhang san", "zs"} <= name
    assert address == {"广州市", "荔湾区第1社区"} and city == {"广州市"}


@pytest.mark.parametrize(
    ("expression", "pinyin"),
    [
        ("Patient.name", True),
        ("Patient.name.given | Practitioner.name.given", True),
        ("Organization.name | Organization.alias", True),
        ("Patient.address | Person.address", False),
        ("Patient.address.city", False),
        ("PlanDefinition.title", False),
        (None, False),
    ],
)
def test_names_param(expression: str | None, pinyin: bool) -> None:
    assert names_param(expression) is pinyin
