"""batch and transaction Bundles (R4 http.html#transaction): order, references, atomicity."""

from __future__ import annotations

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}


def _total(client: TestClient) -> int:
    return client.get("/fhir/_history").json()["total"]


def post_bundle(client: TestClient, kind: str, entries: list[dict], **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": kind, "entry": entries},
        headers={**FHIR, **headers},
    )


def test_transaction_resolves_placeholders_and_orders_entries(client: TestClient) -> None:
    existing = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()
    r = post_bundle(
        client,
        "transaction",
        [
            {"request": {"method": "GET", "url": "Patient/put-1"}},
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": {"resourceType": "Patient", "name": [{"family": "李"}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "weight"},
                    "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "put-1",
                    "link": [
                        {
                            "other": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
                            "type": "seealso",
                        }
                    ],
                },
                "request": {"method": "PUT", "url": "Patient/put-1"},
            },
            {"request": {"method": "DELETE", "url": "Patient/" + existing["id"]}},
        ],
    )
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    # GET runs last (after the PUT creates put-1), so it finds it; responses keep request order.
    assert statuses == ["200 OK", "201 Created", "201 Created", "201 Created", "200 OK"]
    assert bundle["entry"][0]["resource"]["id"] == "put-1"
    assert client.get(f"/fhir/Patient/{existing['id']}").status_code == 410
    patient_id = bundle["entry"][1]["resource"]["id"]
    obs = bundle["entry"][2]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{patient_id}"
    assert (
        bundle["entry"][3]["resource"]["link"][0]["other"]["reference"] == f"Patient/{patient_id}"
    )
    assert bundle["entry"][1]["response"]["location"].startswith(
        f"http://testserver/fhir/Patient/{patient_id}/_history/1"
    )
    assert (
        client.get(f"/fhir/Observation/{obs['id']}").json()["subject"]["reference"]
        == f"Patient/{patient_id}"
    )


def test_transaction_is_atomic(client: TestClient) -> None:
    before = _total(client)
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "t1"},
                "request": {"method": "PUT", "url": "Patient/t1"},
            },
            {
                "resource": {"resourceType": "Observation", "code": {"text": "no status"}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    )
    assert r.status_code == 422
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[2].resource.status" in outcome["issue"][0]["expression"]
    assert _total(client) == before
    assert client.get("/fhir/Patient/t1").status_code == 404


def test_transaction_version_conflict_rolls_back(client: TestClient) -> None:
    p = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()
    before = _total(client)
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {**p, "active": True},
                "request": {"method": "PUT", "url": f"Patient/{p['id']}", "ifMatch": 'W/"7"'},
            },
        ],
    )
    assert r.status_code == 412
    assert _total(client) == before


def test_transaction_rejects_duplicate_targets_and_bad_bundles(client: TestClient) -> None:
    dup = post_bundle(
        client,
        "transaction",
        [
            {
                "resource": {"resourceType": "Patient", "id": "d"},
                "request": {"method": "PUT", "url": "Patient/d"},
            },
            {"request": {"method": "DELETE", "url": "Patient/d"}},
        ],
    )
    assert dup.status_code == 400
    assert post_bundle(client, "collection", []).status_code == 400
    assert client.post("/fhir", json={"resourceType": "Patient"}, headers=FHIR).status_code == 400
    missing = post_bundle(client, "transaction", [{"resource": {"resourceType": "Patient"}}])
    assert missing.status_code == 400
    assert "Bundle.entry[0].request" in missing.json()["issue"][0]["expression"]


def test_batch_entries_independent(client: TestClient) -> None:
    r = post_bundle(
        client,
        "batch",
        [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Observation", "code": {"text": "x"}},
                "request": {"method": "POST", "url": "Observation"},
            },
            {"request": {"method": "GET", "url": "Patient/none"}},
            {"request": {"method": "GET", "url": "metadata"}},
            {
                "resource": {"resourceType": "Patient", "id": "b1"},
                "request": {"method": "PUT", "url": "Patient/b1"},
            },
        ],
    )
    assert r.status_code == 200
    entries = r.json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["201", "422", "404", "200", "201"]
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[4]["response"]["etag"] == 'W/"1"'
    assert client.get("/fhir/Patient/b1").status_code == 200


def test_transaction_patch_with_binary_json_patch(client: TestClient) -> None:
    import base64
    import json

    p = client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "active": True}, headers=FHIR
    ).json()
    patch = base64.b64encode(
        json.dumps([{"op": "replace", "path": "/active", "value": False}]).encode()
    ).decode()
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": patch,
                },
                "request": {"method": "PATCH", "url": f"Patient/{p['id']}"},
            },
        ],
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/fhir/Patient/{p['id']}").json()["active"] is False


def test_prefer_minimal_in_transaction(client: TestClient) -> None:
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
        Prefer="return=minimal",
    )
    entry = r.json()["entry"][0]
    assert "resource" not in entry and entry["response"]["location"]
