"""patch over HTTP: JSON Patch and FHIRPath Patch, validated after applying (R4 http.html#patch)."""

from __future__ import annotations

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_json_patch_creates_version(client: TestClient) -> None:
    p = client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "active": True}, headers=FHIR
    ).json()
    r = client.patch(
        f"/fhir/Patient/{p['id']}",
        json=[{"op": "add", "path": "/gender", "value": "female"}],
        headers=JSON_PATCH,
    )
    assert (
        r.status_code == 200
        and r.json()["gender"] == "female"
        and r.json()["meta"]["versionId"] == "2"
    )
    hist = client.get(f"/fhir/Patient/{p['id']}/_history").json()
    assert hist["entry"][0]["request"]["method"] == "PATCH"


def test_fhirpath_patch(client: TestClient) -> None:
    p = client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "birthDate": "1950-01-01"}, headers=FHIR
    ).json()
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Patient.birthDate"},
                    {"name": "value", "valueDate": "1951-02-03"},
                ],
            }
        ],
    }
    r = client.patch(f"/fhir/Patient/{p['id']}", json=params, headers=FHIR)
    assert r.status_code == 200, r.text
    assert r.json()["birthDate"] == "1951-02-03"


def test_patch_result_is_validated_and_nothing_written(client: TestClient) -> None:
    p = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()
    r = client.patch(
        f"/fhir/Patient/{p['id']}",
        json=[{"op": "add", "path": "/birthDate", "value": "not-a-date"}],
        headers=JSON_PATCH,
    )
    assert r.status_code == 400
    assert "Patient.birthDate" in r.json()["issue"][0]["expression"]
    failing = client.patch(
        f"/fhir/Patient/{p['id']}",
        json=[{"op": "test", "path": "/active", "value": True}],
        headers=JSON_PATCH,
    )
    assert failing.status_code == 422
    assert client.get(f"/fhir/Patient/{p['id']}").json()["meta"]["versionId"] == "1"
    assert client.patch("/fhir/Patient/none", json=[], headers=JSON_PATCH).status_code == 404
    assert (
        client.patch(
            f"/fhir/Patient/{p['id']}", content=b"x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
