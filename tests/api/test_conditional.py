"""Conditional create, update, patch, delete and conditional references in transactions
(R4 http.html#ccreate, #cond-update, #cond-patch, #cdelete, #trules): 0 / 1 / many matches."""

from __future__ import annotations

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
SYS = "urn:oid:2.16.156.10011.1.2"


def _patient(client: TestClient, value: str, **extra: object) -> dict:
    body = {"resourceType": "Patient", "identifier": [{"system": SYS, "value": value}], **extra}
    r = client.post("/fhir/Patient", json=body, headers=FHIR)
    assert r.status_code == 201
    return r.json()


def test_conditional_create(client: TestClient) -> None:
    body = {"resourceType": "Patient", "identifier": [{"system": SYS, "value": "H1"}]}
    first = client.post(
        "/fhir/Patient", json=body, headers={**FHIR, "If-None-Exist": f"identifier={SYS}|H1"}
    )
    assert first.status_code == 201
    again = client.post(
        "/fhir/Patient", json=body, headers={**FHIR, "If-None-Exist": f"identifier={SYS}|H1"}
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    _patient(client, "H1")
    many = client.post(
        "/fhir/Patient", json=body, headers={**FHIR, "If-None-Exist": f"identifier={SYS}|H1"}
    )
    assert many.status_code == 412


def test_conditional_update(client: TestClient) -> None:
    created = client.put(
        f"/fhir/Patient?identifier={SYS}|U1",
        json={"resourceType": "Patient", "identifier": [{"system": SYS, "value": "U1"}]},
        headers=FHIR,
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = client.put(
        f"/fhir/Patient?identifier={SYS}|U1",
        json={
            "resourceType": "Patient",
            "identifier": [{"system": SYS, "value": "U1"}],
            "active": True,
        },
        headers=FHIR,
    )
    assert (
        updated.status_code == 200
        and updated.json()["id"] == pid
        and updated.json()["meta"]["versionId"] == "2"
    )
    mismatch = client.put(
        f"/fhir/Patient?identifier={SYS}|U1",
        json={"resourceType": "Patient", "id": "other"},
        headers=FHIR,
    )
    assert mismatch.status_code == 400
    _patient(client, "U1")
    assert (
        client.put(
            f"/fhir/Patient?identifier={SYS}|U1", json={"resourceType": "Patient"}, headers=FHIR
        ).status_code
        == 412
    )


def test_conditional_patch(client: TestClient) -> None:
    p = _patient(client, "P1")
    patch = [{"op": "add", "path": "/active", "value": False}]
    r = client.patch(
        f"/fhir/Patient?identifier={SYS}|P1",
        json=patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200 and r.json()["id"] == p["id"] and r.json()["active"] is False
    assert (
        client.patch(
            f"/fhir/Patient?identifier={SYS}|none",
            json=patch,
            headers={"Content-Type": "application/json-patch+json"},
        ).status_code
        == 404
    )


def test_conditional_delete_single_and_multiple(client: TestClient) -> None:
    a = _patient(client, "D1")
    b = _patient(client, "D1")
    keep = _patient(client, "D2")
    r = client.delete(f"/fhir/Patient?identifier={SYS}|D1")
    assert r.status_code == 200
    assert client.get(f"/fhir/Patient/{a['id']}").status_code == 410
    assert client.get(f"/fhir/Patient/{b['id']}").status_code == 410
    assert client.get(f"/fhir/Patient/{keep['id']}").status_code == 200
    assert client.delete(f"/fhir/Patient?identifier={SYS}|D1").status_code == 204


def test_conditional_reference_and_if_none_exist_in_transaction(client: TestClient) -> None:
    existing = _patient(client, "T1")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:3b1f1c3e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": SYS, "value": "T1"}],
                },
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier={SYS}|T1",
                },
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": "urn:uuid:3b1f1c3e-0000-4000-8000-000000000001"},
                    "performer": [{"reference": f"Patient?identifier={SYS}|T1"}],
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    r = client.post("/fhir", json=bundle, headers=FHIR)
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert entries[0]["response"]["status"].startswith("200")
    obs = entries[1]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{existing['id']}"
    assert obs["performer"][0]["reference"] == f"Patient/{existing['id']}"
    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": f"Patient?identifier={SYS}|nobody"},
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    assert client.post("/fhir", json=bad, headers=FHIR).status_code == 412
