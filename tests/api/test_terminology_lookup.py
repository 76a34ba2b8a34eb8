"""`CodeSystem/$lookup`, `CodeSystem/$subsumes` and `ConceptMap/$translate` over HTTP, GET and POST,
on SQLite and PostgreSQL (http://hl7.org/fhir/R4/codesystem-operation-lookup.html,
codesystem-operation-subsumes.html, conceptmap-operation-translate.html)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.storage

GB = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"
KP_CS = "https://jiayi.health/fhir/CodeSystem/key-population"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ITEMS = "https://jiayi.health/fhir/CodeSystem/service-item"
CM = "https://jiayi.health/fhir/ConceptMap/icd-10-key-population"
METHODS = ["GET", "POST"]

_TYPES = {
    "code": "valueCode",
    "codeA": "valueCode",
    "codeB": "valueCode",
    "property": "valueCode",
    "displayLanguage": "valueCode",
    "system": "valueUri",
    "url": "valueUri",
    "targetsystem": "valueUri",
    "coding": "valueCoding",
    "codingA": "valueCoding",
    "codingB": "valueCoding",
    "codeableConcept": "valueCodeableConcept",
    "reverse": "valueBoolean",
}


def call(client: TestClient, method: str, path: str, params: list[tuple[str, Any]]) -> Any:
    if method == "GET":
        query = []
        for k, v in params:
            if isinstance(v, dict):  # a Coding in a query string: system|code
                v = f"{v['system']}|{v['code']}"
            query.append((k, str(v).lower() if isinstance(v, bool) else str(v)))
        return client.get(f"/fhir/{path}", params=query)
    parameter = [{"name": k, _TYPES.get(k, "valueString"): v} for k, v in params]
    return client.post(f"/fhir/{path}", json={"resourceType": "Parameters", "parameter": parameter})


def _values(body: dict[str, Any], name: str) -> list[Any]:
    out = []
    for p in body.get("parameter", []):
        if p["name"] != name:
            continue
        if "part" in p:
            out.append(
                {
                    q["name"]: next(v for k, v in q.items() if k.startswith("value"))
                    for q in p["part"]
                }
            )
        else:
            out.append(next(v for k, v in p.items() if k.startswith("value")))
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "display", "designations", "properties"),
    [
        (
            [("system", GB), ("code", "440106")],
            "天河区",
            [{"language": "zh", "value": "天河区"}, {"language": "en", "value": "Tianhe District"}],
            {("level", "county"), ("parent", "440100"), ("inactive", False)},
        ),
        (
            [("system", GB), ("code", "440100"), ("displayLanguage", "en"), ("property", "parent")],
            "Guangzhou",
            None,
            {("parent", "440000")},
        ),
        (
            [("coding", {"system": ICD10, "code": "I10.x00"})],
            "特发性（原发性）高血压",
            None,
            {("parent", "I10"), ("inactive", False)},
        ),
        (
            [("system", "http://hl7.org/fhir/administrative-gender"), ("code", "other")],
            "Other",
            [],
            None,
        ),
    ],
)
def test_lookup(
    client: TestClient,
    method: str,
    params: list,
    display: str,
    designations: list | None,
    properties: set | None,
) -> None:
    r = call(client, method, "CodeSystem/$lookup", params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert _values(body, "display") == [display] and _values(body, "name")
    if designations is not None:
        assert _values(body, "designation") == designations
    if properties is not None:
        assert {(p["code"], p["value"]) for p in _values(body, "property")} == properties


def test_lookup_children_and_instance_level(client: TestClient) -> None:
    r = client.get("/fhir/CodeSystem/$lookup", params={"system": ITEMS, "code": "kp-hypertension"})
    children = [p["value"] for p in _values(r.json(), "property") if p["code"] == "child"]
    assert children and all(c.startswith("kp-hypertension.") for c in children)
    cs = {
        "resourceType": "CodeSystem",
        "id": "local-visit",
        "url": "https://example.org/CodeSystem/local-visit",
        "name": "LocalVisit",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "home", "display": "上门随访"}],
    }
    assert client.put("/fhir/CodeSystem/local-visit", json=cs).status_code == 201
    r = client.get("/fhir/CodeSystem/local-visit/$lookup", params={"code": "home"})
    assert r.status_code == 200 and _values(r.json(), "name") == ["LocalVisit"]
    r = client.get("/fhir/CodeSystem/local-visit/$lookup", params={"code": "home", "system": GB})
    assert r.status_code == 400


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("system", "https://example.org/CodeSystem/nope"), ("code", "x")], 404),
        ([("system", GB), ("code", "999999")], 404),
        ([("system", GB)], 400),
        ([("code", "440106")], 400),
    ],
)
def test_lookup_errors(client: TestClient, method: str, params: list, status: int) -> None:
    r = call(client, method, "CodeSystem/$lookup", params)
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "outcome"),
    [
        ([("system", GB), ("codeA", "440000"), ("codeB", "440106")], "subsumes"),
        ([("system", GB), ("codeA", "440106"), ("codeB", "440100")], "subsumed-by"),
        ([("system", GB), ("codeA", "440106"), ("codeB", "440106")], "equivalent"),
        ([("system", GB), ("codeA", "440100"), ("codeB", "440300")], "not-subsumed"),
        ([("system", ICD10), ("codeA", "I10"), ("codeB", "I10.x00")], "subsumes"),
        (
            [
                ("codingA", {"system": ICD10, "code": "E11.900"}),
                ("codingB", {"system": ICD10, "code": "E11"}),
            ],
            "subsumed-by",
        ),
    ],
)
def test_subsumes(client: TestClient, method: str, params: list, outcome: str) -> None:
    r = call(client, method, "CodeSystem/$subsumes", params)
    assert r.status_code == 200, r.text
    assert _values(r.json(), "outcome") == [outcome]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("system", "https://example.org/CodeSystem/nope"), ("codeA", "a"), ("codeB", "b")], 404),
        ([("system", GB), ("codeA", "440000"), ("codeB", "000000")], 400),
        ([("system", GB), ("codeA", "440000")], 400),
        ([("codeA", "440000"), ("codeB", "440100")], 400),
    ],
)
def test_subsumes_errors(client: TestClient, params: list, status: int) -> None:
    r = call(client, "GET", "CodeSystem/$subsumes", params)
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "result", "matches"),
    [
        ([("url", CM), ("system", ICD10), ("code", "I10.x00")], True, [("wider", "hypertension")]),
        ([("system", ICD10), ("code", "Z34.900")], True, [("wider", "maternal")]),
        (
            [("coding", {"system": ICD10, "code": "F20.000"})],
            True,
            [("wider", "severe-mental-disorder")],
        ),
        ([("system", ICD10), ("code", "F06.800")], True, [("narrower", "severe-mental-disorder")]),
        ([("system", ICD10), ("code", "J45.900")], False, []),
        (
            [("system", KP_CS), ("code", "t2dm"), ("reverse", True), ("targetsystem", ICD10)],
            True,
            [("narrower", "E11")],
        ),
    ],
)
def test_translate(
    client: TestClient, method: str, params: list, result: bool, matches: list
) -> None:
    r = call(client, method, "ConceptMap/$translate", params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert _values(body, "result") == [result]
    got = [(m["equivalence"], m["concept"]["code"]) for m in _values(body, "match")]
    assert got == matches
    assert all(m["source"] == CM for m in _values(body, "match"))
    assert bool(_values(body, "message")) is not result


def test_translate_codeable_concept_and_instance(client: TestClient) -> None:
    cc = {"coding": [{"system": ICD10, "code": "A15.000"}, {"system": ICD10, "code": "I11.900"}]}
    r = call(client, "POST", "ConceptMap/$translate", [("codeableConcept", cc)])
    codes = [m["concept"]["code"] for m in _values(r.json(), "match")]
    assert codes == ["tuberculosis", "hypertension"]
    local = {
        "resourceType": "ConceptMap",
        "id": "gender-local",
        "url": "https://example.org/ConceptMap/gender-local",
        "status": "active",
        "group": [
            {
                "source": "http://hl7.org/fhir/administrative-gender",
                "target": "urn:local:sex",
                "element": [
                    {
                        "code": "male",
                        "target": [{"code": "1", "display": "男", "equivalence": "equivalent"}],
                    }
                ],
            }
        ],
    }
    assert client.put("/fhir/ConceptMap/gender-local", json=local).status_code == 201
    r = client.get(
        "/fhir/ConceptMap/gender-local/$translate",
        params={"system": "http://hl7.org/fhir/administrative-gender", "code": "male"},
    )
    (match,) = _values(r.json(), "match")
    assert match["concept"] == {"system": "urn:local:sex", "code": "1", "display": "男"}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("url", "https://example.org/ConceptMap/nope"), ("system", ICD10), ("code", "I10")], 404),
        ([("system", ICD10)], 400),
        ([("code", "I10")], 400),
    ],
)
def test_translate_errors(client: TestClient, params: list, status: int) -> None:
    r = call(client, "GET", "ConceptMap/$translate", params)
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


def test_capability_statement_lists_the_operations(client: TestClient) -> None:
    rest = client.get("/fhir/metadata").json()["rest"][0]
    ops = {r["type"]: {o["name"] for o in r.get("operation", [])} for r in rest["resource"]}
    assert {"lookup", "validate-code", "subsumes"} <= ops["CodeSystem"]
    assert {"expand", "validate-code"} <= ops["ValueSet"]
    assert "translate" in ops["ConceptMap"]
