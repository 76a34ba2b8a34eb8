"""Tests for fhir_server.services.patching: the patch interaction's pure logic.

Covers http://hl7.org/fhir/R4/http.html#patch (format selection by Content-Type, resource identity),
RFC 6902 JSON Patch (every op, failing ``test``, malformed documents) and
http://hl7.org/fhir/R4/fhirpatch.html (add / insert / delete / replace / move, the spec's examples
including the anonymous ``contact`` value, delete of a missing element, and the error rules).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.services.patching import (
    apply_fhirpath_patch,
    apply_json_patch,
    detect_patch_format,
)

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {"system": "http://a", "value": "1"},
        {"system": "http://b", "value": "2"},
        {"system": "http://c", "value": "3"},
    ],
    "active": True,
    "name": [
        {"use": "official", "family": "Zhang", "given": ["San", "Feng"]},
        {"use": "nickname", "given": ["Xiao"]},
    ],
    "telecom": [
        {"system": "phone", "value": "138"},
        {"system": "email", "value": "z@example.org"},
    ],
    "birthDate": "1950-01-01",
}


def _fresh() -> dict[str, Any]:
    return copy.deepcopy(PATIENT)


def _expect(change: Any) -> dict[str, Any]:
    expected = _fresh()
    change(expected)
    return expected


def _assert_error(exc: pytest.ExceptionInfo[FhirError], status: int, code: str, expr: str) -> None:
    assert exc.value.status == status
    (issue,) = exc.value.issues
    assert (issue.severity, issue.code, issue.expression) == ("error", code, (expr,))


# --------------------------------------------------------------------------------------------
# detect_patch_format


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json-patch+json", "json-patch"),
        ("application/json-patch+json; charset=utf-8", "json-patch"),
        ("Application/JSON-Patch+JSON", "json-patch"),
        ("application/fhir+json", "fhirpath-patch"),
        ("application/fhir+json;fhirVersion=4.0", "fhirpath-patch"),
        ("application/json", "fhirpath-patch"),
    ],
)
def test_detect_patch_format(content_type: str, expected: str) -> None:
    assert detect_patch_format(content_type) == expected


@pytest.mark.parametrize(
    "content_type",
    ["application/xml-patch+xml", "application/fhir+xml", "text/plain", "", "application/merge"],
)
def test_detect_patch_format_rejects_other_media_types(content_type: str) -> None:
    with pytest.raises(FhirError) as exc:
        detect_patch_format(content_type)
    assert exc.value.status == 415
    assert exc.value.issues[0].code == "not-supported"


# --------------------------------------------------------------------------------------------
# JSON Patch: every op


JSON_PATCH_CASES = [
    (
        "add member",
        [{"op": "add", "path": "/gender", "value": "male"}],
        lambda p: p.update(gender="male"),
    ),
    (
        "add to array end",
        [{"op": "add", "path": "/name/1/given/-", "value": "Er"}],
        lambda p: p["name"][1]["given"].append("Er"),
    ),
    (
        "add into array",
        [{"op": "add", "path": "/identifier/0", "value": {"value": "0"}}],
        lambda p: p["identifier"].insert(0, {"value": "0"}),
    ),
    ("remove", [{"op": "remove", "path": "/birthDate"}], lambda p: p.pop("birthDate")),
    (
        "replace",
        [{"op": "replace", "path": "/name/0/family", "value": "Li"}],
        lambda p: p["name"][0].update(family="Li"),
    ),
    (
        "move",
        [{"op": "move", "from": "/identifier/0", "path": "/identifier/2"}],
        lambda p: p["identifier"].append(p["identifier"].pop(0)),
    ),
    (
        "copy",
        [{"op": "copy", "from": "/telecom/0", "path": "/telecom/-"}],
        lambda p: p["telecom"].append(dict(p["telecom"][0])),
    ),
    (
        "test then replace",
        [
            {"op": "test", "path": "/active", "value": True},
            {"op": "replace", "path": "/active", "value": False},
        ],
        lambda p: p.update(active=False),
    ),
    ("empty patch", [], lambda p: None),
]


@pytest.mark.parametrize(
    ("operations", "change"),
    [c[1:] for c in JSON_PATCH_CASES],
    ids=[c[0] for c in JSON_PATCH_CASES],
)
def test_json_patch_ops(operations: list[dict[str, Any]], change: Any) -> None:
    original = _fresh()
    result = apply_json_patch(original, operations)
    assert result == _expect(change)
    assert original == PATIENT  # input untouched


def test_json_patch_result_does_not_share_structure_with_input() -> None:
    original = _fresh()
    result = apply_json_patch(original, [])
    result["name"][0]["given"].append("X")
    assert original == PATIENT


JSON_PATCH_ERRORS = [
    ("body not array", {"op": "remove", "path": "/a"}, 400, "invalid", "Patch"),
    (
        "operation not object",
        [{"op": "remove", "path": "/active"}, "x"],
        400,
        "invalid",
        "Patch[1]",
    ),
    ("unknown op", [{"op": "merge", "path": "/active"}], 400, "invalid", "Patch[0].op"),
    ("missing op", [{"path": "/active"}], 400, "invalid", "Patch[0].op"),
    ("missing value", [{"op": "add", "path": "/gender"}], 400, "invalid", "Patch[0]"),
    ("missing from", [{"op": "move", "path": "/gender"}], 400, "invalid", "Patch[0]"),
    ("bad pointer", [{"op": "remove", "path": "active"}], 400, "invalid", "Patch[0].path"),
    ("bad escape", [{"op": "remove", "path": "/a~2"}], 400, "invalid", "Patch[0].path"),
    ("pointer not string", [{"op": "remove", "path": 3}], 400, "invalid", "Patch[0].path"),
    (
        "malformed after a good op",
        [{"op": "remove", "path": "/active"}, {"op": "copy", "from": 1, "path": "/x"}],
        400,
        "invalid",
        "Patch[1].from",
    ),
    (
        "test fails",
        [
            {"op": "remove", "path": "/birthDate"},
            {"op": "test", "path": "/active", "value": False},
        ],
        422,
        "processing",
        "Patch[1]",
    ),
    (
        "test of missing path",
        [{"op": "test", "path": "/gender", "value": "male"}],
        422,
        "processing",
        "Patch[0]",
    ),
    ("remove missing", [{"op": "remove", "path": "/gender"}], 422, "processing", "Patch[0]"),
    (
        "replace missing",
        [{"op": "replace", "path": "/gender", "value": "x"}],
        422,
        "processing",
        "Patch[0]",
    ),
    (
        "add under missing parent",
        [{"op": "add", "path": "/contact/0/name", "value": {}}],
        422,
        "processing",
        "Patch[0]",
    ),
    (
        "add beyond array end",
        [{"op": "add", "path": "/identifier/9", "value": {}}],
        422,
        "processing",
        "Patch[0]",
    ),
    (
        "move from missing",
        [{"op": "move", "from": "/gender", "path": "/x"}],
        422,
        "processing",
        "Patch[0]",
    ),
    (
        "change id",
        [{"op": "replace", "path": "/id", "value": "other"}],
        422,
        "processing",
        "Patch[0]",
    ),
    ("remove id", [{"op": "remove", "path": "/id"}], 422, "processing", "Patch[0]"),
    (
        "change resourceType",
        [
            {"op": "remove", "path": "/active"},
            {"op": "replace", "path": "/resourceType", "value": "Person"},
        ],
        422,
        "processing",
        "Patch[1]",
    ),
    (
        "replace whole document",
        [{"op": "replace", "path": "", "value": []}],
        422,
        "processing",
        "Patch[0]",
    ),
]


@pytest.mark.parametrize(
    ("operations", "status", "code", "expression"),
    [c[1:] for c in JSON_PATCH_ERRORS],
    ids=[c[0] for c in JSON_PATCH_ERRORS],
)
def test_json_patch_errors(operations: Any, status: int, code: str, expression: str) -> None:
    original = _fresh()
    with pytest.raises(FhirError) as exc:
        apply_json_patch(original, operations)
    _assert_error(exc, status, code, expression)
    assert original == PATIENT


# --------------------------------------------------------------------------------------------
# FHIRPath Patch


def _op(op_type: str, path: str | None = None, **parts: Any) -> dict[str, Any]:
    """An `operation` parameter; `value` is a part dict minus its name (e.g. {"valueString": "x"})."""
    part: list[dict[str, Any]] = [{"name": "type", "valueCode": op_type}]
    if path is not None:
        part.append({"name": "path", "valueString": path})
    for name, value in parts.items():
        if name == "value":
            part.append({"name": "value", **value})
        elif name == "name":
            part.append({"name": "name", "valueString": value})
        else:
            part.append({"name": name, "valueInteger": value})
    return {"name": "operation", "part": part}


def _params(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def _ids(p: dict[str, Any]) -> list[str]:
    return [i["value"] for i in p["identifier"]]


FHIRPATH_CASES = [
    # add (spec example: add birthDate; anonymous type: Patient.contact)
    (
        "add primitive (spec example)",
        _op("add", "Patient", name="gender", value={"valueCode": "male"}),
        lambda p: p.update(gender="male"),
    ),
    (
        "add to existing list",
        _op("add", "Patient.name[1]", name="given", value={"valueString": "Er"}),
        lambda p: p["name"][1]["given"].append("Er"),
    ),
    (
        "add repeating element that does not exist yet makes a list",
        _op("add", "Patient.name[1]", name="prefix", value={"valueString": "Dr"}),
        lambda p: p["name"][1].update(prefix=["Dr"]),
    ),
    (
        "add complex value",
        _op(
            "add",
            "Patient",
            name="maritalStatus",
            value={"valueCodeableConcept": {"text": "married"}},
        ),
        lambda p: p.update(maritalStatus={"text": "married"}),
    ),
    (
        "add anonymous type (spec example: contact)",
        _op(
            "add",
            "Patient",
            name="contact",
            value={
                "part": [
                    {"name": "name", "valueHumanName": {"text": "a name"}},
                    {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "1"}},
                ]
            },
        ),
        lambda p: p.update(
            contact=[{"name": {"text": "a name"}, "telecom": [{"system": "phone", "value": "1"}]}]
        ),
    ),
    (
        "add choice element takes the value's type",
        _op("add", "Patient", name="deceased", value={"valueBoolean": False}),
        lambda p: p.update(deceasedBoolean=False),
    ),
    (
        "add without leading type name",
        _op("add", "name.where(use='nickname')", name="family", value={"valueString": "Wang"}),
        lambda p: p["name"][1].update(family="Wang"),
    ),
    # insert
    (
        "insert at start",
        _op("insert", "Patient.identifier", value={"valueIdentifier": {"value": "0"}}, index=0),
        lambda p: p["identifier"].insert(0, {"value": "0"}),
    ),
    (
        "insert in middle",
        _op("insert", "Patient.identifier", value={"valueIdentifier": {"value": "x"}}, index=1),
        lambda p: p["identifier"].insert(1, {"value": "x"}),
    ),
    (
        "insert at end (index == length)",
        _op("insert", "Patient.identifier", value={"valueIdentifier": {"value": "4"}}, index=3),
        lambda p: p["identifier"].append({"value": "4"}),
    ),
    (
        "insert primitive into given",
        _op("insert", "Patient.name[0].given", value={"valueString": "A"}, index=1),
        lambda p: p["name"][0]["given"].insert(1, "A"),
    ),
    (
        "insert into a list that does not exist yet",
        _op("insert", "Patient.address", value={"valueAddress": {"city": "Hangzhou"}}, index=0),
        lambda p: p.update(address=[{"city": "Hangzhou"}]),
    ),
    # delete
    ("delete primitive", _op("delete", "Patient.birthDate"), lambda p: p.pop("birthDate")),
    (
        "delete list item by where",
        _op("delete", "Patient.telecom.where(system='phone')"),
        lambda p: p["telecom"].pop(0),
    ),
    (
        "delete list item by index",
        _op("delete", "Patient.identifier[1]"),
        lambda p: p["identifier"].pop(1),
    ),
    (
        "delete last item removes the empty list",
        _op("delete", "Patient.name[1].given"),
        lambda p: p["name"][1].pop("given"),
    ),
    (
        "delete with first()",
        _op("delete", "Patient.name.given.first()"),
        lambda p: p["name"][0]["given"].pop(0),
    ),
    (
        "delete with last() and $this",
        _op("delete", "Patient.name[0].given.where($this = 'Feng').last()"),
        lambda p: p["name"][0]["given"].pop(1),
    ),
    (
        "ofType on a non-choice element",
        _op(
            "replace", "Patient.name.ofType(HumanName).first().family", value={"valueString": "Li"}
        ),
        lambda p: p["name"][0].update(family="Li"),
    ),
    (
        "ofType of a primitive",
        _op("delete", "Patient.birthDate.ofType(date)"),
        lambda p: p.pop("birthDate"),
    ),
    (
        "ofType that does not match",
        _op("delete", "Patient.birthDate.ofType(string)"),
        lambda p: None,
    ),
    ("delete missing element is not an error", _op("delete", "Patient.gender"), lambda p: None),
    (
        "delete no match of where is not an error",
        _op("delete", "Patient.telecom.where(system='fax')"),
        lambda p: None,
    ),
    # replace
    (
        "replace primitive",
        _op("replace", "Patient.birthDate", value={"valueDate": "1951-02-03"}),
        lambda p: p.update(birthDate="1951-02-03"),
    ),
    (
        "replace nested primitive",
        _op(
            "replace",
            "Patient.name.where(use='official').family",
            value={"valueString": "Li"},
        ),
        lambda p: p["name"][0].update(family="Li"),
    ),
    (
        "replace list item",
        _op(
            "replace",
            "Patient.telecom.where(system='email')",
            value={"valueContactPoint": {"system": "email", "value": "n@example.org"}},
        ),
        lambda p: p["telecom"].__setitem__(1, {"system": "email", "value": "n@example.org"}),
    ),
    (
        "replace with anonymous parts",
        _op(
            "replace",
            "Patient.name[1]",
            value={
                "part": [
                    {"name": "text", "valueString": "Xiao Zhang"},
                    {"name": "given", "valueString": "Xiao"},
                ]
            },
        ),
        lambda p: p["name"].__setitem__(1, {"text": "Xiao Zhang", "given": ["Xiao"]}),
    ),
    # move
    (
        "move first to last",
        _op("move", "Patient.identifier", source=0, destination=2),
        lambda p: p["identifier"].append(p["identifier"].pop(0)),
    ),
    (
        "move last to first",
        _op("move", "Patient.identifier", source=2, destination=0),
        lambda p: p["identifier"].insert(0, p["identifier"].pop(2)),
    ),
    (
        "move to same place",
        _op("move", "Patient.name[0].given", source=1, destination=1),
        lambda p: None,
    ),
]


@pytest.mark.parametrize(
    ("operation", "change"),
    [c[1:] for c in FHIRPATH_CASES],
    ids=[c[0] for c in FHIRPATH_CASES],
)
def test_fhirpath_patch_ops(operation: dict[str, Any], change: Any) -> None:
    original = _fresh()
    body = _params(operation)
    frozen = copy.deepcopy(body)
    assert apply_fhirpath_patch(original, body) == _expect(change)
    assert original == PATIENT
    assert body == frozen


def test_fhirpath_patch_applies_operations_in_order() -> None:
    body = _params(
        _op("insert", "Patient.identifier", value={"valueIdentifier": {"value": "0"}}, index=0),
        _op("move", "Patient.identifier", source=0, destination=3),
        _op("delete", "Patient.identifier.where(value='1')"),
    )
    assert _ids(apply_fhirpath_patch(_fresh(), body)) == ["2", "3", "0"]


def test_fhirpath_patch_choice_elements() -> None:
    obs = {"resourceType": "Observation", "id": "o", "status": "final", "valueString": "high"}
    replaced = apply_fhirpath_patch(
        obs,
        _params(_op("replace", "Observation.value", value={"valueQuantity": {"value": 5}})),
    )
    assert replaced == {**_without(obs, "valueString"), "valueQuantity": {"value": 5}}
    typed = apply_fhirpath_patch(
        replaced,
        _params(
            _op("replace", "Observation.value.ofType(Quantity).value", value={"valueDecimal": 6})
        ),
    )
    assert typed["valueQuantity"] == {"value": 6}
    assert apply_fhirpath_patch(obs, _params(_op("delete", "Observation.value"))) == _without(
        obs, "valueString"
    )


def test_fhirpath_patch_keeps_primitive_extensions_aligned() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": ["A", "B", "C"], "_given": [None, {"id": "b"}, None]}],
    }
    moved = apply_fhirpath_patch(
        patient, _params(_op("move", "Patient.name.given", source=1, destination=0))
    )
    assert moved["name"][0] == {"given": ["B", "A", "C"], "_given": [{"id": "b"}, None, None]}
    deleted = apply_fhirpath_patch(patient, _params(_op("delete", "Patient.name.given[1]")))
    assert deleted["name"][0] == {"given": ["A", "C"]}


def test_fhirpath_patch_add_resource_value() -> None:
    contained = {"resourceType": "Organization", "id": "org", "name": "Clinic"}
    body = _params(
        {
            "name": "operation",
            "part": [
                {"name": "type", "valueCode": "add"},
                {"name": "path", "valueString": "Patient"},
                {"name": "name", "valueString": "contained"},
                {"name": "value", "resource": contained},
            ],
        }
    )
    assert apply_fhirpath_patch(_fresh(), body)["contained"] == [contained]


def _without(resource: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != key}


def _raw(*parts: dict[str, Any]) -> dict[str, Any]:
    return _params({"name": "operation", "part": list(parts)})


TYPE_ADD = {"name": "type", "valueCode": "add"}
PATH_PATIENT = {"name": "path", "valueString": "Patient"}

FHIRPATH_ERRORS: list[tuple[str, Any, int, str, str]] = [
    # malformed Parameters → 400 invalid
    ("not Parameters", {"resourceType": "Patient"}, 400, "invalid", "Parameters"),
    ("not an object", [], 400, "invalid", "Parameters"),
    (
        "parameter not a list",
        {"resourceType": "Parameters", "parameter": {}},
        400,
        "invalid",
        "Parameters.parameter",
    ),
    (
        "parameter not named operation",
        _params(_op("delete", "Patient.gender"), {"name": "op", "part": []}),
        400,
        "invalid",
        "Parameters.parameter[1]",
    ),
    (
        "operation without parts",
        _params({"name": "operation"}),
        400,
        "invalid",
        "Parameters.parameter[0]",
    ),
    (
        "unknown part",
        _raw(TYPE_ADD, {"name": "where", "valueString": "x"}),
        400,
        "invalid",
        "Parameters.parameter[0].part[1]",
    ),
    (
        "repeated part",
        _raw({"name": "type", "valueCode": "delete"}, PATH_PATIENT, PATH_PATIENT),
        400,
        "invalid",
        "Parameters.parameter[0].part[2]",
    ),
    ("missing type", _raw(PATH_PATIENT), 400, "invalid", "Parameters.parameter[0]"),
    (
        "unknown type",
        _raw({"name": "type", "valueCode": "upsert"}, PATH_PATIENT),
        400,
        "invalid",
        "Parameters.parameter[0].part[0]",
    ),
    (
        "type with wrong value[x]",
        _raw({"name": "type", "valueInteger": 1}, PATH_PATIENT),
        400,
        "invalid",
        "Parameters.parameter[0].part[0]",
    ),
    (
        "missing parts for add",
        _raw(TYPE_ADD, PATH_PATIENT),
        400,
        "invalid",
        "Parameters.parameter[0]",
    ),
    (
        "part not allowed for delete",
        _raw(
            {"name": "type", "valueCode": "delete"},
            PATH_PATIENT,
            {"name": "index", "valueInteger": 0},
        ),
        400,
        "invalid",
        "Parameters.parameter[0].part[2]",
    ),
    (
        "negative index",
        _params(_op("insert", "Patient.identifier", value={"valueString": "x"}, index=-1)),
        400,
        "invalid",
        "Parameters.parameter[0].part[3]",
    ),
    (
        "empty path",
        _raw({"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": ""}),
        400,
        "invalid",
        "Parameters.parameter[0].part[1]",
    ),
    (
        "value without value[x] or parts",
        _params(_op("replace", "Patient.birthDate", value={})),
        400,
        "invalid",
        "Parameters.parameter[0].part[2]",
    ),
    (
        "anonymous part without a name",
        _params(_op("add", "Patient", name="contact", value={"part": [{"valueString": "x"}]})),
        400,
        "invalid",
        "Parameters.parameter[0].part[3].part[0]",
    ),
    (
        "FHIRPath syntax error",
        _params(_op("delete", "Patient.name.where(use=)")),
        400,
        "invalid",
        "Parameters.parameter[0].part[1]",
    ),
    (
        "FHIRPath syntax error in criteria that match nothing",
        _params(_op("delete", "Patient.contact.where(use=)")),
        400,
        "invalid",
        "Parameters.parameter[0].part[1]",
    ),
    (
        "unsupported FHIRPath function",
        _params(_op("delete", "Patient.name.exists()")),
        400,
        "not-supported",
        "Parameters.parameter[0].part[1]",
    ),
    (
        "unsupported FHIRPath expression",
        _params(_op("delete", "Patient.name | Patient.telecom")),
        400,
        "invalid",
        "Parameters.parameter[0].part[1]",
    ),
    # well-formed but not applicable → 422 processing
    (
        "add: path matches nothing",
        _params(_op("add", "Patient.contact", name="gender", value={"valueCode": "male"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "add: path matches many",
        _params(
            _op("delete", "Patient.gender"),
            _op("add", "Patient.name", name="text", value={"valueString": "x"}),
        ),
        422,
        "processing",
        "Parameters.parameter[1]",
    ),
    (
        "add: element exists and does not repeat",
        _params(_op("add", "Patient", name="birthDate", value={"valueDate": "2000-01-01"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "add: to a primitive",
        _params(_op("add", "Patient.birthDate", name="x", value={"valueString": "y"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "add: path for another resource type",
        _params(_op("add", "Observation", name="status", value={"valueCode": "final"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "replace: path matches nothing",
        _params(_op("replace", "Patient.gender", value={"valueCode": "male"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "replace: path matches many",
        _params(_op("replace", "Patient.identifier", value={"valueIdentifier": {}})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "replace: id",
        _params(_op("replace", "Patient.id", value={"valueId": "p2"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "replace: the resource itself",
        _params(_op("replace", "Patient", value={"valueString": "x"})),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "delete: path matches many",
        _params(_op("delete", "Patient.telecom")),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "delete: id",
        _params(_op("delete", "Patient.birthDate"), _op("delete", "Patient.id")),
        422,
        "processing",
        "Parameters.parameter[1]",
    ),
    (
        "delete: the resource itself",
        _params(_op("delete", "Patient")),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "single() with several matches",
        _params(_op("delete", "Patient.identifier.single()")),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "insert: index beyond the end",
        _params(_op("insert", "Patient.identifier", value={"valueIdentifier": {}}, index=4)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "insert: path is not a list",
        _params(_op("insert", "Patient.birthDate", value={"valueDate": "2000"}, index=0)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "insert: parent path matches nothing",
        _params(_op("insert", "Patient.contact.telecom", value={"valueString": "x"}, index=0)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "move: source out of range",
        _params(_op("move", "Patient.identifier", source=3, destination=0)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "move: destination out of range",
        _params(_op("move", "Patient.identifier", source=0, destination=3)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
    (
        "move: items of several lists",
        _params(_op("move", "Patient.name.given", source=0, destination=1)),
        422,
        "processing",
        "Parameters.parameter[0]",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "expression"),
    [c[1:] for c in FHIRPATH_ERRORS],
    ids=[c[0] for c in FHIRPATH_ERRORS],
)
def test_fhirpath_patch_errors(body: Any, status: int, code: str, expression: str) -> None:
    original = _fresh()
    with pytest.raises(FhirError) as exc:
        apply_fhirpath_patch(original, body)
    _assert_error(exc, status, code, expression)
    assert original == PATIENT
