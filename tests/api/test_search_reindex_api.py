"""`$reindex` over HTTP: a SearchParameter created through the API is honoured after
`POST [type]/$reindex` (and `POST /$reindex`), and the new search features answer at HTTP level.

Spec: http://hl7.org/fhir/R4/searchparameter.html, http://hl7.org/fhir/R4/search.html.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

SP = {
    "resourceType": "SearchParameter",
    "id": "patient-nickname",
    "url": "https://jiayi.health/fhir/SearchParameter/patient-nickname",
    "name": "nickname",
    "status": "active",
    "description": "A nickname given in the name's text",
    "code": "nickname",
    "base": ["Patient"],
    "type": "string",
    "expression": "Patient.name.where(use = 'nickname').text",
}
PATIENT = {
    "resourceType": "Patient",
    "id": "n1",
    "name": [{"use": "nickname", "text": "小明"}, {"family": "王", "given": ["明"]}],
}


def _ids(bundle: dict) -> list[str]:
    return sorted(
        e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"
    )


def test_search_parameter_after_reindex(client: TestClient) -> None:
    assert client.put("/fhir/Patient/n1", json=PATIENT).status_code in (200, 201)
    assert client.put("/fhir/SearchParameter/patient-nickname", json=SP).status_code in (200, 201)
    strict = {"Prefer": "handling=strict"}
    before = client.get("/fhir/Patient", params={"nickname": "小明"}, headers=strict)
    assert before.status_code == 400
    done = client.post("/fhir/Patient/$reindex", json={"resourceType": "Parameters"})
    assert done.status_code == 200, done.text
    out = {p["name"]: p["valueInteger"] for p in done.json()["parameter"]}
    assert out["resources"] >= 1 and out["registryVersion"] >= 1
    after = client.get("/fhir/Patient", params={"nickname": "小明"}, headers=strict)
    assert after.status_code == 200 and _ids(after.json()) == ["n1"]
    assert client.post("/fhir/$reindex", json={"resourceType": "Parameters"}).status_code == 200


def test_new_search_features_over_http(client: TestClient) -> None:
    client.put("/fhir/Patient/n1", json=PATIENT)
    client.put(
        "/fhir/Location/l1",
        json={
            "resourceType": "Location",
            "id": "l1",
            "position": {"latitude": 23.1, "longitude": 113.3},
        },
    )
    found = client.get("/fhir/Patient", params={"_filter": 'family eq "王" or name co "明"'})
    assert found.status_code == 200 and _ids(found.json()) == ["n1"]
    near = client.get("/fhir/Location", params={"near": "23.1|113.3|1|km"})
    assert _ids(near.json()) == ["l1"]
    content = client.get("/fhir/Patient", params={"_content": "小明"})
    assert _ids(content.json()) == ["n1"]
    # with authorisation off the operator is the administrator: the plan, not results
    plan = client.get("/fhir/Patient", params={"_explain": "true", "birthdate": "lt2000"})
    assert plan.status_code == 200 and plan.json()["resourceType"] == "Parameters"
    assert plan.json()["parameter"] and all(
        p["name"] == "plan" and p["valueString"] for p in plan.json()["parameter"]
    )
