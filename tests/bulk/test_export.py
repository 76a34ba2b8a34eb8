"""Bulk Data Access IG 2.0 `$export` (issue 9), as the Inferno Bulk Data test kit checks it: kick-off
(`Prefer: respond-async` → 202 + Content-Location), status polling (202 + Retry-After, then 200 with
the manifest), NDJSON files read back and compared record by record, `_type`, `_since`,
`_typeFilter`, Patient and Group level, every `_outputFormat` spelling, cancellation (DELETE → 202,
then 404).  Both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import Settings

BASE = "http://testserver/fhir"
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, auth="off", base_url=BASE)
    with TestClient(create_app(settings)) as c:  # the server's own router and background runner
        yield c


def _seed(client: TestClient) -> dict[str, list[dict[str, Any]]]:
    patients = []
    for i, gender in enumerate(["female", "male", "female"]):
        r = client.post(
            "/fhir/Patient",
            json={"resourceType": "Patient", "gender": gender, "name": [{"text": f"P{i}"}]},
        )
        assert r.status_code == 201, r.text
        patients.append(r.json())
    observations = []
    for p in patients:
        for code in ("8867-4", "8480-6"):
            r = client.post(
                "/fhir/Observation",
                json={
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "subject": {"reference": f"Patient/{p['id']}"},
                },
            )
            assert r.status_code == 201, r.text
            observations.append(r.json())
    group = client.post(
        "/fhir/Group",
        json={
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{patients[0]['id']}"}}],
        },
    ).json()
    return {"Patient": patients, "Observation": observations, "Group": [group]}


def _complete(client: TestClient, location: str) -> dict[str, Any]:
    path = location.removeprefix("http://testserver")
    for _ in range(200):
        r = client.get(path)
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("application/json")
            return r.json()
        assert r.status_code == 202, r.text
        assert r.headers["retry-after"]
        time.sleep(0.05)
    raise AssertionError("export did not finish")


def _read(client: TestClient, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for item in manifest["output"]:
        r = client.get(
            item["url"].removeprefix("http://testserver"),
            headers={"Accept": "application/fhir+ndjson"},
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/fhir+ndjson"
        )
        lines = [orjson.loads(line) for line in r.content.splitlines() if line.strip()]
        assert len(lines) == item["count"]
        out.setdefault(item["type"], []).extend(lines)
    return out


def _kickoff(client: TestClient, url: str, **kw: Any) -> str:
    r = client.get(url, headers=ASYNC, **kw)
    assert r.status_code == 202, r.text
    return r.headers["content-location"]


def test_system_export_read_back_record_by_record(client: TestClient) -> None:
    seeded = _seed(client)
    loc = _kickoff(client, "/fhir/$export?_type=Patient,Observation")
    manifest = _complete(client, loc)
    assert manifest["request"].endswith("/fhir/$export?_type=Patient,Observation")
    assert manifest["requiresAccessToken"] is False and manifest["error"] == []
    assert manifest["transactionTime"].endswith("Z")
    files = _read(client, manifest)
    assert set(files) == {"Patient", "Observation"}
    for rtype in ("Patient", "Observation"):
        exported = {r["id"]: r for r in files[rtype]}
        assert exported == {r["id"]: r for r in seeded[rtype]}  # every field, every record


def test_since_type_filter_patient_and_group_levels(client: TestClient) -> None:
    seeded = _seed(client)
    p0 = seeded["Patient"][0]["id"]
    m = _complete(
        client, _kickoff(client, "/fhir/Patient/$export?_typeFilter=Patient%3Fgender%3Dmale")
    )
    files = _read(client, m)
    assert [p["gender"] for p in files["Patient"]] == ["male"]
    assert len(files["Observation"]) == 6
    m = _complete(client, _kickoff(client, f"/fhir/Group/{seeded['Group'][0]['id']}/$export"))
    files = _read(client, m)
    assert [p["id"] for p in files["Patient"]] == [p0]
    assert {o["subject"]["reference"] for o in files["Observation"]} == {f"Patient/{p0}"}
    later = m["transactionTime"]
    client.put(f"/fhir/Patient/{p0}", json={**seeded["Patient"][0], "gender": "other"})
    files = _read(client, _complete(client, _kickoff(client, f"/fhir/$export?_since={later}")))
    assert [(p["id"], p["gender"]) for p in files["Patient"]] == [(p0, "other")]
    assert "Observation" not in files


@pytest.mark.parametrize("fmt", ["application/fhir+ndjson", "application/ndjson", "ndjson"])
def test_every_output_format_spelling(client: TestClient, fmt: str) -> None:
    _seed(client)
    loc = _kickoff(client, "/fhir/$export", params={"_outputFormat": fmt, "_type": "Patient"})
    assert len(_read(client, _complete(client, loc))["Patient"]) == 3


def test_post_kickoff_with_parameters(client: TestClient) -> None:
    seeded = _seed(client)
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Observation"},
            {
                "name": "patient",
                "valueReference": {"reference": f"Patient/{seeded['Patient'][1]['id']}"},
            },
        ],
    }
    r = client.post("/fhir/Patient/$export", json=body, headers=ASYNC)
    assert r.status_code == 202, r.text
    files = _read(client, _complete(client, r.headers["content-location"]))
    assert len(files["Observation"]) == 2


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/fhir/$export", {"Accept": "application/fhir+json"}),  # no Prefer
        ("/fhir/$export?_outputFormat=text/csv", ASYNC),
        ("/fhir/$export?_type=Nonsense", ASYNC),
        ("/fhir/$export?_since=yesterday", ASYNC),
        ("/fhir/$export?_typeFilter=Patient", ASYNC),
        ("/fhir/$export?_elements=id", ASYNC),
    ],
)
def test_bad_kickoffs_are_400(client: TestClient, url: str, headers: dict[str, str]) -> None:
    r = client.get(url, headers=headers)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"


def test_cancel_then_404(client: TestClient) -> None:
    _seed(client)
    loc = _kickoff(client, "/fhir/$export").removeprefix("http://testserver")
    assert client.delete(loc).status_code == 202
    assert client.get(loc).status_code == 404
    assert client.delete(loc).status_code == 404
    assert client.get("/fhir/Group/nope/$export", headers=ASYNC).status_code == 404
