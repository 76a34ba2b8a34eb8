"""`_summary` and `_elements` presentation filters.

Spec: http://hl7.org/fhir/R4/search.html#summary, http://hl7.org/fhir/R4/search.html#elements,
ElementDefinition.isSummary (http://hl7.org/fhir/R4/elementdefinition-definitions.html).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.services.elements import SUBSETTED_CODE, SUBSETTED_SYSTEM, elements, summary
from fhir_server.validation.structure import validate_structure
from tests.support.r4_package import official_examples

SUBSETTED = {"system": SUBSETTED_SYSTEM, "code": SUBSETTED_CODE}
EXT = "http://example.org/ext"


@pytest.fixture(scope="module")
def defs() -> R4Definitions:
    return R4Definitions.load()


def make_patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": "2", "tag": [{"system": "urn:t", "code": "x"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "extension": [{"url": EXT, "valueString": "not summary"}],
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "1"}],
        "active": True,
        "name": [{"family": "张", "given": ["三"], "extension": [{"url": EXT, "valueCode": "x"}]}],
        "birthDate": "1970-01-01",
        "_birthDate": {"extension": [{"url": EXT, "valueDateTime": "1970-01-01T08:00:00+08:00"}]},
        "photo": [{"contentType": "image/png", "data": "aGVsbG8="}],
        "maritalStatus": {"text": "married"},
        "contact": [{"name": {"family": "李"}}],
        "link": [{"other": {"reference": "Patient/2"}, "type": "seealso"}],
    }


def tags(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return list(resource.get("meta", {}).get("tag", []))


def test_summary_true_keeps_summary_and_mandatory_elements(defs: R4Definitions) -> None:
    out = summary(make_patient(), "true", defs)
    assert list(out) == [
        "resourceType",
        "id",
        "meta",
        "identifier",
        "active",
        "name",
        "birthDate",
        "_birthDate",
        "link",
    ]
    assert out["link"] == [{"other": {"reference": "Patient/2"}, "type": "seealso"}]
    assert tags(out) == [{"system": "urn:t", "code": "x"}, SUBSETTED]


def test_summary_true_keeps_datatype_properties_but_not_attachment_data(
    defs: R4Definitions,
) -> None:
    out = summary(make_patient(), "true", defs)
    assert out["name"][0]["extension"] == [{"url": EXT, "valueCode": "x"}]
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "custodian": {"display": "not summary"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "aGk=", "title": "t"}}],
    }
    reduced = summary(doc, "true", defs)
    assert reduced["content"] == [{"attachment": {"contentType": "text/plain", "title": "t"}}]
    assert "custodian" not in reduced


def test_summary_true_recurses_into_backbone_elements(defs: R4Definitions) -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "bp"},
        "referenceRange": [{"text": "not summary"}],
        "component": [
            {
                "code": {"text": "sys"},
                "valueQuantity": {"value": 120},
                "referenceRange": [{"text": "not summary either"}],
            }
        ],
    }
    out = summary(obs, "true", defs)
    assert "referenceRange" not in out
    assert out["component"] == [{"code": {"text": "sys"}, "valueQuantity": {"value": 120}}]


def test_summary_true_keeps_bundle_entry_resources_whole(defs: R4Definitions) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": make_patient()}],
    }
    assert summary(bundle, "true", defs) == bundle


def test_summary_text(defs: R4Definitions) -> None:
    out = summary(make_patient(), "text", defs)
    assert list(out) == ["resourceType", "id", "meta", "text"]
    assert SUBSETTED in tags(out)
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "note": [{"text": "n"}],
    }
    out = summary(obs, "text", defs)
    assert list(out) == ["resourceType", "meta", "status", "code"]


def test_summary_data_removes_text_only(defs: R4Definitions) -> None:
    patient = make_patient()
    out = summary(patient, "data", defs)
    assert "text" not in out
    expected = {k: v for k, v in patient.items() if k not in ("text", "meta")}
    assert {k: v for k, v in out.items() if k != "meta"} == expected
    assert SUBSETTED in tags(out)


def test_summary_false_is_unchanged(defs: R4Definitions) -> None:
    patient = make_patient()
    assert summary(patient, "false", defs) == patient


def test_no_tag_when_nothing_was_removed(defs: R4Definitions) -> None:
    minimal = {"resourceType": "Patient", "id": "x", "active": True}
    assert summary(minimal, "true", defs) == minimal
    assert summary(minimal, "data", defs) == minimal
    assert elements(minimal, ["active"], defs) == minimal


def test_tag_is_added_once_and_meta_created_after_id(defs: R4Definitions) -> None:
    bare = {"resourceType": "Patient", "id": "x", "gender": "male", "active": True}
    out = elements(bare, ["active"], defs)
    assert list(out) == ["resourceType", "id", "meta", "active"]
    assert out["meta"] == {"tag": [SUBSETTED]}
    again = elements({**bare, "meta": {"tag": [SUBSETTED]}}, ["active"], defs)
    assert tags(again) == [SUBSETTED]


def test_filters_do_not_modify_their_input(defs: R4Definitions) -> None:
    patient = make_patient()
    before = copy.deepcopy(patient)
    for mode in ("true", "text", "data", "false"):
        summary(patient, mode, defs)
    elements(patient, ["name"], defs)
    assert patient == before


def test_unknown_summary_mode_is_refused(defs: R4Definitions) -> None:
    with pytest.raises(ValueError):
        summary(make_patient(), "count", defs)


@pytest.mark.parametrize(
    ("names", "kept"),
    [
        (["name"], ["name"]),
        (["name", "birthDate"], ["name", "birthDate", "_birthDate"]),
        ([" name ", "", "Patient.active"], ["active", "name"]),
        (["unknown"], []),
    ],
)
def test_elements_keeps_listed_top_level_elements(
    names: list[str], kept: list[str], defs: R4Definitions
) -> None:
    out = elements(make_patient(), names, defs)
    assert set(out) == {"resourceType", "id", "meta", *kept}
    assert SUBSETTED in tags(out)
    assert out["meta"]["versionId"] == "2"


def test_elements_accepts_choice_base_names_and_keeps_mandatory(defs: R4Definitions) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": 1},
        "note": [{"text": "n"}],
    }
    for name in ("value", "value[x]", "valueQuantity"):
        out = elements(obs, [name], defs)
        assert list(out) == ["resourceType", "id", "meta", "status", "code", "valueQuantity"]


def test_summaries_of_the_official_examples_are_valid_resources(defs: R4Definitions) -> None:
    """`_summary=true|text` and `_elements` never drop a mandatory element nor leave empty objects."""
    for name, resource in official_examples():
        if resource["resourceType"] == "Bundle" or name == "Questionnaire-qs1.json":
            continue  # big bundles: covered by the validator test; qs1 is itself invalid
        for out in (
            summary(resource, "true", defs),
            summary(resource, "text", defs),
            elements(resource, ["identifier"], defs),
        ):
            assert validate_structure(out, defs) == [], name
