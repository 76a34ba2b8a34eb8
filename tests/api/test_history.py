"""history at instance, type and system level: `_since`, `_at`, `_count`, paging (R4 http.html#history)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}


def _write_versions(client: TestClient, n: int) -> str:
    p = client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "active": True}, headers=FHIR
    ).json()
    for i in range(n - 1):
        client.put(f"/fhir/Patient/{p['id']}", json={**p, "birthDate": f"19{50 + i}"}, headers=FHIR)
    return str(p["id"])


def test_instance_history_newest_first_with_paging(client: TestClient) -> None:
    pid = _write_versions(client, 5)
    page = client.get(f"/fhir/Patient/{pid}/_history?_count=2").json()
    assert page["type"] == "history" and page["total"] == 5
    versions = [e["resource"]["meta"]["versionId"] for e in page["entry"]]
    assert versions == ["5", "4"]
    seen = list(versions)
    while nxt := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        # Another client writes meanwhile: keyset paging neither repeats nor skips.
        client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR)
        page = client.get(nxt.replace("http://testserver", "")).json()
        seen += [e["resource"]["meta"]["versionId"] for e in page["entry"]]
    assert seen == ["5", "4", "3", "2", "1"]
    first = client.get(f"/fhir/Patient/{pid}/_history").json()["entry"][-1]
    assert first["request"] == {"method": "POST", "url": "Patient"}
    assert first["response"]["status"].startswith("201")
    assert client.get("/fhir/Patient/unknown/_history").status_code == 404


def test_type_and_system_history(client: TestClient) -> None:
    _write_versions(client, 2)
    client.post(
        "/fhir/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "bp"}},
        headers=FHIR,
    )
    assert client.get("/fhir/Patient/_history").json()["total"] == 2
    assert client.get("/fhir/Observation/_history").json()["total"] == 1
    system = client.get("/fhir/_history").json()
    assert system["total"] == 3
    assert [e["resource"]["resourceType"] for e in system["entry"]] == [
        "Observation",
        "Patient",
        "Patient",
    ]


def test_since_and_at(client: TestClient) -> None:
    pid = _write_versions(client, 1)
    time.sleep(0.05)
    v1_updated = client.get(f"/fhir/Patient/{pid}").json()["meta"]["lastUpdated"]
    time.sleep(0.05)
    client.put(
        f"/fhir/Patient/{pid}",
        json={"resourceType": "Patient", "id": pid, "active": False},
        headers=FHIR,
    )
    v2 = client.get(f"/fhir/Patient/{pid}").json()
    since = client.get(
        f"/fhir/Patient/{pid}/_history", params={"_since": v2["meta"]["lastUpdated"]}
    ).json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at = client.get(f"/fhir/Patient/{pid}/_history", params={"_at": v1_updated}).json()
    assert [e["resource"]["meta"]["versionId"] for e in at["entry"]] == ["1"]
    at_now = client.get(f"/fhir/Patient/{pid}/_history", params={"_at": "2999"}).json()
    assert [e["resource"]["meta"]["versionId"] for e in at_now["entry"]] == ["2"]
    assert client.get("/fhir/_history", params={"_since": "yesterday"}).status_code == 400
    assert client.get("/fhir/_history", params={"_count": "-1"}).status_code == 400
