"""`ValueSet/$expand` and `$validate-code` (ValueSet and CodeSystem) over HTTP, GET and POST, on
SQLite and PostgreSQL (http://hl7.org/fhir/R4/valueset-operation-expand.html,
valueset-operation-validate-code.html, codesystem-operation-validate-code.html)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.storage

KP = "https://jiayi.health/fhir/ValueSet/key-population"
KP_CS = "https://jiayi.health/fhir/CodeSystem/key-population"
ITEMS = "https://jiayi.health/fhir/ValueSet/service-item"
GENDER = "http://hl7.org/fhir/ValueSet/administrative-gender"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
HTN = "https://jiayi.health/fhir/ValueSet/icd-10-hypertension"

_TYPES = {
    "offset": "valueInteger",
    "count": "valueInteger",
    "activeOnly": "valueBoolean",
    "includeDesignations": "valueBoolean",
    "abstract": "valueBoolean",
    "coding": "valueCoding",
    "codeableConcept": "valueCodeableConcept",
    "code": "valueCode",
    "displayLanguage": "valueCode",
    "url": "valueUri",
    "system": "valueUri",
}


def call(client: TestClient, method: str, path: str, params: dict[str, Any]) -> Any:
    """GET with query parameters, or POST a Parameters body holding the same values."""
    if method == "GET":
        query = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()}
        return client.get(f"/fhir/{path}", params=query)
    parameter = []
    for name, value in params.items():
        if isinstance(value, dict) and "resourceType" in value:
            parameter.append({"name": name, "resource": value})
        else:
            parameter.append({"name": name, _TYPES.get(name, "valueString"): value})
    return client.post(f"/fhir/{path}", json={"resourceType": "Parameters", "parameter": parameter})


def _out(body: dict[str, Any], name: str) -> Any:
    for p in body.get("parameter", []):
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    return None


METHODS = ["GET", "POST"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "total", "first"),
    [
        ({"url": KP, "filter": "高血压"}, 1, ("hypertension", "高血压患者")),
        ({"url": KP, "filter": "DIABETES"}, 1, ("t2dm", "2型糖尿病患者")),
        ({"url": KP, "filter": "tangniaobing"}, 1, ("t2dm", "2型糖尿病患者")),
        (
            {"url": KP, "filter": "disab", "displayLanguage": "en"},
            1,
            ("disabled", "People with disabilities"),
        ),
        ({"url": KP, "offset": 2, "count": 3}, 10, ("t2dm", "2型糖尿病患者")),
        ({"url": GENDER, "filter": "fem"}, 1, ("female", "Female")),
        ({"url": ITEMS, "filter": "高血压", "count": 1}, None, None),
    ],
)
def test_expand(
    client: TestClient, method: str, params: dict, total: int | None, first: tuple | None
) -> None:
    r = call(client, method, "ValueSet/$expand", params)
    assert r.status_code == 200, r.text
    expansion = r.json()["expansion"]
    if total is not None:
        assert expansion["total"] == total
    else:
        assert expansion["total"] > 1 and len(expansion["contains"]) == 1
    assert expansion["offset"] == params.get("offset", 0)
    if first:
        head = expansion["contains"][0]
        assert (head["code"], head["display"]) == first
    assert len(expansion.get("contains", [])) <= params.get("count", 10_000)


def test_expand_pages_cover_the_whole_value_set(client: TestClient) -> None:
    codes: list[str] = []
    for offset in range(0, 10, 4):
        r = client.get("/fhir/ValueSet/$expand", params={"url": KP, "offset": offset, "count": 4})
        codes += [c["code"] for c in r.json()["expansion"]["contains"]]
    assert len(codes) == 10 == len(set(codes))


def test_expand_include_designations(client: TestClient) -> None:
    r = client.get(
        "/fhir/ValueSet/$expand",
        params={"url": KP, "filter": "copd", "includeDesignations": "true"},
    )
    (item,) = r.json()["expansion"]["contains"]
    assert item["designation"] == [
        {"language": "en", "value": "Patients with chronic obstructive pulmonary disease"}
    ]


def test_expand_inline_value_set_and_stored_instance(client: TestClient) -> None:
    inline = {
        "resourceType": "ValueSet",
        "id": "chronic-kp",
        "url": "https://example.org/ValueSet/chronic-kp",
        "status": "active",
        "compose": {
            "include": [{"system": KP_CS, "concept": [{"code": "hypertension"}, {"code": "t2dm"}]}],
            "exclude": [{"system": KP_CS, "concept": [{"code": "t2dm"}]}],
        },
    }
    r = call(client, "POST", "ValueSet/$expand", {"valueSet": inline})
    assert [c["code"] for c in r.json()["expansion"]["contains"]] == ["hypertension"]
    r = client.post("/fhir/ValueSet/$expand", json=inline)  # the bare resource as the body
    assert r.json()["expansion"]["total"] == 1
    assert client.put("/fhir/ValueSet/chronic-kp", json=inline).status_code == 201
    r = client.get("/fhir/ValueSet/chronic-kp/$expand", params={"displayLanguage": "en"})
    assert r.json()["expansion"]["contains"][0]["display"] == "Patients with hypertension"
    r = client.get("/fhir/ValueSet/$expand", params={"url": inline["url"]})  # found in the database
    assert r.status_code == 200 and r.json()["expansion"]["total"] == 1


def test_stored_code_system_is_used(client: TestClient) -> None:
    cs = {
        "resourceType": "CodeSystem",
        "url": "https://example.org/CodeSystem/visit",
        "status": "active",
        "content": "complete",
        "concept": [
            {
                "code": "home",
                "display": "上门随访",
                "designation": [{"language": "en", "value": "Home visit"}],
            },
            {
                "code": "clinic",
                "display": "门诊随访",
                "designation": [{"language": "en", "value": "Clinic visit"}],
            },
        ],
    }
    vs = {
        "resourceType": "ValueSet",
        "url": "https://example.org/ValueSet/visit",
        "status": "active",
        "compose": {"include": [{"system": cs["url"]}]},
    }
    assert client.post("/fhir/CodeSystem", json=cs).status_code == 201
    assert client.post("/fhir/ValueSet", json=vs).status_code == 201
    r = client.get("/fhir/ValueSet/$expand", params={"url": vs["url"], "filter": "shangmen"})
    assert [c["code"] for c in r.json()["expansion"]["contains"]] == ["home"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"url": "https://example.org/ValueSet/nope"}, 404, "not-found"),
        ({}, 400, "required"),
        ({"url": KP, "count": -1}, 400, "invalid"),
        ({"url": KP, "bogus": "x"}, 400, "invalid"),
    ],
)
def test_expand_errors(
    client: TestClient, method: str, params: dict, status: int, code: str
) -> None:
    r = call(client, method, "ValueSet/$expand", params)
    assert r.status_code == status
    body = r.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == code


def test_expand_unknown_instance_is_404(client: TestClient) -> None:
    assert client.get("/fhir/ValueSet/nope/$expand").status_code == 404


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "result", "message"),
    [
        ({"url": HTN, "system": ICD10, "code": "I10.x00"}, True, "category 'I10'"),
        ({"url": HTN, "system": ICD10, "code": "E11.900"}, False, "not in the value set"),
        (
            {"url": KP, "system": KP_CS, "code": "copd", "display": "慢性阻塞性肺疾病患者"},
            True,
            None,
        ),
        ({"url": KP, "system": KP_CS, "code": "copd", "display": "COPD"}, True, "does not match"),
        ({"url": KP, "code": "maternal"}, True, None),
        ({"url": KP, "system": KP_CS, "code": "nope"}, False, "Unknown code"),
        (
            {
                "url": GENDER,
                "coding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "male"},
            },
            True,
            None,
        ),
        (
            {
                "url": KP,
                "codeableConcept": {
                    "coding": [
                        {"system": "urn:other", "code": "x"},
                        {"system": KP_CS, "code": "t2dm"},
                    ]
                },
            },
            True,
            None,
        ),
    ],
)
def test_valueset_validate_code(
    client: TestClient, method: str, params: dict, result: bool, message: str | None
) -> None:
    if method == "GET" and any(isinstance(v, dict) for v in params.values()):
        if "coding" not in params:
            pytest.skip("a CodeableConcept has no GET form")
        c = params["coding"]
        params = {**params, "coding": f"{c['system']}|{c['code']}"}
    r = call(client, method, "ValueSet/$validate-code", params)
    assert r.status_code == 200, r.text
    assert _out(r.json(), "result") is result
    got = _out(r.json(), "message")
    assert (message is None and got is None) or (message and message in got)


def test_valueset_validate_code_display_language(client: TestClient) -> None:
    r = client.get(
        "/fhir/ValueSet/$validate-code",
        params={"url": KP, "system": KP_CS, "code": "copd", "displayLanguage": "en"},
    )
    assert _out(r.json(), "display") == "Patients with chronic obstructive pulmonary disease"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"url": KP}, 400),
        ({"code": "copd"}, 400),
        ({"url": "https://example.org/ValueSet/nope", "code": "x", "system": "urn:x"}, 404),
    ],
)
def test_valueset_validate_code_errors(
    client: TestClient, method: str, params: dict, status: int
) -> None:
    r = call(client, method, "ValueSet/$validate-code", params)
    assert r.status_code == status and r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("params", "status", "result", "display"),
    [
        ({"url": KP_CS, "code": "elderly-65"}, 200, True, "65岁及以上老年人"),
        (
            {"url": KP_CS, "code": "elderly-65", "displayLanguage": "en"},
            200,
            True,
            "Older adults aged 65 and over",
        ),
        ({"url": KP_CS, "code": "nobody"}, 200, False, None),
        ({"url": ICD10, "code": "J44.100"}, 200, True, "其他慢性阻塞性肺病"),
        (
            {"url": "http://hl7.org/fhir/administrative-gender", "code": "female"},
            200,
            True,
            "Female",
        ),
        ({"url": "https://example.org/CodeSystem/nope", "code": "x"}, 404, None, None),
        ({"url": KP_CS}, 400, None, None),
    ],
)
def test_codesystem_validate_code(
    client: TestClient,
    method: str,
    params: dict,
    status: int,
    result: bool | None,
    display: str | None,
) -> None:
    r = call(client, method, "CodeSystem/$validate-code", params)
    assert r.status_code == status, r.text
    if status == 200:
        assert _out(r.json(), "result") is result
        assert _out(r.json(), "display") == display
