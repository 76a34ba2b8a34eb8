"""Bulk Data `$export` on the server as `create_app` builds it (issue 9): the status poll really
answers 202 + Retry-After while the job waits (background tasks off, so nothing runs until the
outbox jobs run it), SMART Backend Services access (`system/` scopes: 401 without a token, 403
without the scope, another client's job is 404, the export runs with the client's own access),
the OperationOutcome error file, a raw `+` in `_outputFormat`, and the manifest's `request`
on the public base.  Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import Settings
from tests.support.access_world import World, make_world

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
HOST = "http://testserver"


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def _system(world: World, scope: str, client_id: str = "bulk-client") -> dict[str, str]:
    return {**ASYNC, **world.headers(scope, kind="system", client_id=client_id)}


def _run(world: World) -> None:
    world.client.app.state.components.integrations.exports.run_pending()  # type: ignore[attr-defined]


def _path(url: str) -> str:
    return url.removeprefix(HOST)


def test_poll_is_202_with_retry_after_until_the_job_ran(world: World) -> None:
    headers = _system(world, "system/Patient.rs")
    r = world.client.get("/fhir/$export?_type=Patient", headers=headers)
    assert r.status_code == 202, r.text
    status = _path(r.headers["content-location"])
    for _ in range(3):
        poll = world.client.get(status, headers=headers)
        assert poll.status_code == 202 and int(poll.headers["retry-after"]) >= 1
        assert poll.headers["x-progress"].startswith("accepted")
    _run(world)
    done = world.client.get(status, headers=headers)
    assert done.status_code == 200 and done.json()["requiresAccessToken"] is True
    [output] = done.json()["output"]
    lines = world.client.get(_path(output["url"]), headers=headers).content.splitlines()
    assert sorted(orjson.loads(line)["id"] for line in lines) == ["a", "b"]
    assert world.client.get(_path(output["url"])).status_code == 401  # files need the token too


def test_tokens_and_scopes(world: World) -> None:
    r = world.client.get("/fhir/$export?_type=Patient", headers=ASYNC)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    narrow = _system(world, "system/Observation.rs")
    r = world.client.get("/fhir/$export?_type=Patient", headers=narrow)
    assert r.status_code == 403 and "system/Patient.read" in r.json()["issue"][0]["diagnostics"]
    r = world.client.get("/fhir/$export", headers=narrow)  # every type needs system/*.read
    assert r.status_code == 403
    doctor = {**ASYNC, **world.doctor()}
    assert world.client.get("/fhir/$export?_type=Patient", headers=doctor).status_code == 403


def test_another_clients_job_is_404(world: World) -> None:
    mine = _system(world, "system/*.rs", "client-one")
    theirs = _system(world, "system/*.rs", "client-two")
    status = _path(
        world.client.get("/fhir/$export?_type=Patient", headers=mine).headers["content-location"]
    )
    _run(world)
    manifest = world.client.get(status, headers=mine).json()
    file_url = _path(manifest["output"][0]["url"])
    assert world.client.get(status, headers=theirs).status_code == 404
    assert world.client.get(file_url, headers=theirs).status_code == 404
    assert world.client.delete(status, headers=theirs).status_code == 404
    assert world.client.get(status, headers=mine).status_code == 200  # still there for its owner


def test_the_export_runs_with_the_clients_access(world: World) -> None:
    vital = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    world.repo.update(
        "Observation",
        "vs",
        {
            "resourceType": "Observation",
            "id": "vs",
            "status": "final",
            "category": [{"coding": [{"system": vital.split("|")[0], "code": "vital-signs"}]}],
            "code": {"text": "bp"},
            "subject": {"reference": "Patient/a"},
        },
    )
    headers = _system(world, f"system/Observation.rs?category={vital}")
    status = _path(
        world.client.get("/fhir/$export?_type=Observation", headers=headers).headers[
            "content-location"
        ]
    )
    _run(world)
    [output] = world.client.get(status, headers=headers).json()["output"]
    lines = world.client.get(_path(output["url"]), headers=headers).content.splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == ["vs"]  # not the other Observations


def test_the_export_honours_a_residents_consent(world: World) -> None:
    """A back-end client acting for an Organization that resident a's Consent refuses exports
    nothing of a (issue 5, Consent in workflows); an unbound client still gets everything."""
    optin = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    role = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "IRCP"}]}  # fmt: skip
    world.repo.update(
        "Consent",
        "no-hospital",
        {
            "resourceType": "Consent",
            "id": "no-hospital",
            "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/a"},
            "policyRule": {"coding": [{"system": optin, "code": "OPTIN"}]},
            "provision": {"type": "permit", "provision": [
                {"type": "deny", "actor": [{"role": role,
                                            "reference": {"reference": "Organization/hosp"}}]},
            ]},
        },
    )  # fmt: skip

    def exported(headers: dict[str, str]) -> dict[str, list[str]]:
        r = world.client.get("/fhir/$export?_type=Patient,Observation", headers=headers)
        assert r.status_code == 202, r.text
        status = _path(r.headers["content-location"])
        _run(world)
        done = world.client.get(status, headers=headers)
        assert done.status_code == 200, done.text
        out: dict[str, list[str]] = {}
        for item in done.json()["output"]:
            lines = world.client.get(_path(item["url"]), headers=headers).content.splitlines()
            out.setdefault(item["type"], []).extend(orjson.loads(x)["id"] for x in lines)
        return {t: sorted(ids) for t, ids in out.items()}

    scope = "system/Patient.rs system/Observation.rs"
    hospital = {**ASYNC, **world.headers(scope, kind="system", client_id="hosp-client",
                                         organization="hosp")}  # fmt: skip
    assert exported(hospital) == {
        "Patient": ["b"],
        "Observation": ["ob", "ob2", "ob3", "secret"],
    }
    assert exported(_system(world, scope)) == {
        "Patient": ["a", "b"],
        "Observation": ["oa", "oa2", "oa3", "ob", "ob2", "ob3", "secret"],
    }


def test_error_file_holds_operation_outcomes(world: World) -> None:
    headers = _system(world, "system/*.rs")
    r = world.client.get(
        "/fhir/$export?_type=Patient,Observation&_typeFilter=Observation%3Fnonsense%3D1",
        headers=headers,
    )
    assert r.status_code == 202, r.text
    _run(world)
    manifest = world.client.get(_path(r.headers["content-location"]), headers=headers).json()
    assert [o["type"] for o in manifest["output"]] == ["Patient"]
    [error] = manifest["error"]
    assert error["type"] == "OperationOutcome"
    lines = world.client.get(_path(error["url"]), headers=headers).content.splitlines()
    outcome = orjson.loads(lines[0])
    assert outcome["resourceType"] == "OperationOutcome"
    assert "nonsense" in outcome["issue"][0]["diagnostics"]


@pytest.fixture
def public(database_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        auth="off",
        base_url="https://fhir.example.cn/fhir",
        background_tasks=False,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_raw_plus_and_the_public_base(public: TestClient) -> None:
    public.put("/fhir/Patient/p", json={"resourceType": "Patient", "id": "p"})
    # An unencoded `+` arrives as a space; the spelling is still application/fhir+ndjson.
    r = public.get(
        "/fhir/$export?_outputFormat=application/fhir+ndjson&_type=Patient", headers=ASYNC
    )
    assert r.status_code == 202, r.text
    location = r.headers["content-location"]
    assert location.startswith("https://fhir.example.cn/fhir/bulkstatus/")
    public.app.state.components.integrations.exports.run_pending()  # type: ignore[attr-defined]
    manifest: dict[str, Any] = public.get(location.removeprefix("https://fhir.example.cn")).json()
    assert manifest["request"] == (
        "https://fhir.example.cn/fhir/$export?_outputFormat=application/fhir+ndjson&_type=Patient"
    )
    assert manifest["output"][0]["url"].startswith("https://fhir.example.cn/fhir/bulkfiles/")


def test_kickoffs_downloads_and_denials_are_audited(world: World) -> None:
    """Bulk Data goes around the FHIR router, but not around the audit trail (issue 5): the
    kick-off, a refused kick-off and each file download leave an AuditEvent naming the client,
    and a download names the residents it disclosed."""
    headers = _system(world, "system/Patient.rs", client_id="audited-client")
    refused = _system(world, "system/Observation.rs", client_id="audited-client")
    assert world.client.get("/fhir/$export?_type=Patient", headers=refused).status_code == 403
    status = _path(
        world.client.get("/fhir/$export?_type=Patient", headers=headers).headers["content-location"]
    )
    _run(world)
    [output] = world.client.get(status, headers=headers).json()["output"]
    assert world.client.get(_path(output["url"]), headers=headers).status_code == 200
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]  # flush
    auditor = world.headers(
        "user/AuditEvent.rs", kind="user", role="auditor", fhir_user="Practitioner/aud"
    )
    r = world.client.get(
        "/fhir/AuditEvent",
        params={"agent:identifier": "https://jiayi.health/fhir/sid/client-id|audited-client",
                "_count": "100"},
        headers=auditor,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    events = [e["resource"] for e in r.json().get("entry", [])]
    seen = sorted(
        (e["outcomeDesc"].split(" (")[0].split("?")[0], e["outcome"])
        for e in events
        if "export" in e["outcomeDesc"] or "bulkfiles" in e["outcomeDesc"]
    )
    assert seen == [
        ("HTTP 200 GET /" + output["url"].split("/fhir/", 1)[1], "0"),
        ("HTTP 202 GET /$export", "0"),
        ("HTTP 403 GET /$export", "4"),
    ], seen
    download = next(e for e in events if "bulkfiles" in e["outcomeDesc"])
    assert {"Patient/a", "Patient/b"} <= {
        x["what"]["reference"] for x in download.get("entity", []) if "what" in x
    }


def _audited(world: World, client_id: str) -> list[dict[str, Any]]:
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]  # flush
    auditor = world.headers(
        "user/AuditEvent.rs", kind="user", role="auditor", fhir_user="Practitioner/aud"
    )
    r = world.client.get(
        "/fhir/AuditEvent",
        params={"agent:identifier": f"https://jiayi.health/fhir/sid/client-id|{client_id}",
                "_count": "100"},
        headers=auditor,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def test_status_polls_and_cancels_are_audited(world: World) -> None:
    """Status polls (running, done, another client's job) and cancels (accepted, then of a job
    already gone) each leave an AuditEvent with the caller and the outcome (issue 5)."""
    headers = _system(world, "system/Patient.rs", client_id="poller")
    other = _system(world, "system/Patient.rs", client_id="intruder")
    first = _path(
        world.client.get("/fhir/$export?_type=Patient", headers=headers).headers["content-location"]
    )
    assert world.client.get(first, headers=headers).status_code == 202  # still waiting
    _run(world)
    assert world.client.get(first, headers=headers).status_code == 200  # the manifest
    assert world.client.get(first, headers=other).status_code == 404  # not theirs
    second = _path(
        world.client.get("/fhir/$export?_type=Patient", headers=headers).headers["content-location"]
    )
    assert world.client.delete(second, headers=headers).status_code == 202
    assert world.client.delete(second, headers=headers).status_code == 404
    job = first.rsplit("/", 1)[1]
    mine = sorted(
        (e["outcomeDesc"].split(" (")[0], e["outcome"], e["action"])
        for e in _audited(world, "poller")
        if "bulkstatus" in e["outcomeDesc"]
    )
    cancelled = second.rsplit("/", 1)[1]
    assert mine == sorted(
        [
            (f"HTTP 202 GET /bulkstatus/{job}", "0", "E"),
            (f"HTTP 200 GET /bulkstatus/{job}", "0", "E"),
            (f"HTTP 202 DELETE /bulkstatus/{cancelled}", "0", "E"),
            (f"HTTP 404 DELETE /bulkstatus/{cancelled}", "4", "E"),
        ]
    ), mine
    theirs = [e for e in _audited(world, "intruder") if "bulkstatus" in e["outcomeDesc"]]
    assert [(e["outcomeDesc"].split(" (")[0], e["outcome"]) for e in theirs] == [
        (f"HTTP 404 GET /bulkstatus/{job}", "4")
    ]
