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


PAT = "urn:uuid:0b0e7a3c-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
BIN = "urn:uuid:7c6b5a49-3827-4165-9453-2a1b0c9d8e7f"


def test_transaction_rewrites_placeholders_in_narrative_and_uri_elements(
    client: TestClient,
) -> None:
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml">Report for <a href="' + PAT + '">the patient</a>'
        " <img src='" + BIN + "'/></div>"
    )
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "fullUrl": BIN,
                "resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "aGk="},
                "request": {"method": "POST", "url": "Binary"},
            },
            {
                "fullUrl": PAT,
                "resource": {
                    "resourceType": "Patient",
                    # a string that happens to hold the placeholder: not a link, kept
                    "identifier": [{"system": "urn:ietf:rfc:3986", "value": PAT}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "text": {"status": "generated", "div": div},
                    "subject": {"reference": PAT},
                    "extension": [{"url": "http://example.org/fhir/source", "valueUri": PAT}],
                    "content": [{"attachment": {"contentType": "text/plain", "url": BIN}}],
                },
                "request": {"method": "POST", "url": "DocumentReference"},
            },
            {
                "resource": {
                    "resourceType": "QuestionnaireResponse",
                    "status": "completed",
                    "questionnaire": PAT,  # canonical: the spec leaves canonicals alone
                    "subject": {"reference": PAT},
                },
                "request": {"method": "POST", "url": "QuestionnaireResponse"},
            },
        ],
    )
    assert r.status_code == 200, r.text
    locations = [e["response"]["location"] for e in r.json()["entry"]]
    binary, patient = (loc.split("/fhir/")[1].rsplit("/_history", 1)[0] for loc in locations[:2])
    doc = client.get(locations[2].split("/_history")[0].replace("http://testserver", "")).json()
    assert doc["subject"]["reference"] == patient
    assert doc["extension"][0]["valueUri"] == patient
    assert doc["content"][0]["attachment"]["url"] == binary
    assert f'<a href="{patient}">' in doc["text"]["div"]
    assert f"<img src='{binary}'/>" in doc["text"]["div"]
    assert PAT not in str(doc) and BIN not in str(doc)
    qr = client.get(locations[3].split("/_history")[0].replace("http://testserver", "")).json()
    assert qr["questionnaire"] == PAT and qr["subject"]["reference"] == patient
    stored = client.get(f"/fhir/{patient}").json()
    assert stored["identifier"][0]["value"] == PAT


def test_transaction_with_a_placeholder_no_entry_defines_fails(client: TestClient) -> None:
    before = _total(client)
    r = post_bundle(
        client,
        "transaction",
        [
            {
                "fullUrl": PAT,
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "weight"},
                    "subject": {"reference": PAT},
                    "performer": [{"reference": "urn:uuid:5e5e5e5e-0000-4000-8000-000000000000"}],
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    )
    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    assert issue["code"] == "not-found"
    assert issue["expression"] == ["Bundle.entry[1].resource.performer[0].reference"]
    assert "urn:uuid:5e5e5e5e-0000-4000-8000-000000000000" in issue["diagnostics"]
    assert _total(client) == before  # the Patient of entry 0 was rolled back too
