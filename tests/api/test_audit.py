"""The audit trail over HTTP (issue 5, gap 4), on both databases: attempts that show nothing still
name their target and its resident; Bundle entries get their own events; `POST _search` records
its body's query; action codes follow the interaction; back-end clients are findable by id."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.access_world import World, make_world


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def _auditor(world: World) -> dict[str, str]:
    return world.headers(
        "user/AuditEvent.rs", kind="user", role="auditor", fhir_user="Practitioner/aud"
    )


def _events(world: World, **params: str) -> list[dict[str, Any]]:
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]  # flush
    r = world.client.get(
        "/fhir/AuditEvent", params={"_count": "500", **params}, headers=_auditor(world)
    )
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def _entities(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event.get("entity", []) if "what" in e}


def _queries(event: dict[str, Any]) -> list[str]:
    return [base64.b64decode(e["query"]).decode() for e in event.get("entity", []) if "query" in e]


def test_denied_attempts_show_in_the_residents_who_accessed_list(world: World) -> None:
    doctor = world.doctor()
    assert world.client.get("/fhir/Patient/b", headers=doctor).status_code == 404
    assert world.client.get("/fhir/Observation/ob", headers=doctor).status_code == 404
    assert world.client.get("/fhir/Patient/b/Observation", headers=doctor).status_code == 200
    # resident b lists who accessed their record: the doctor's three attempts are there
    resident_b = world.headers(
        "patient/*.rs", kind="patient", role="resident", fhir_user="Patient/b", patient="b"
    )
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]
    mine = world.client.get(
        "/fhir/AuditEvent", params={"patient": "Patient/b", "_count": "100"}, headers=resident_b
    ).json()
    by_doctor = [
        e["resource"]
        for e in mine.get("entry", [])
        if e["resource"]["agent"][0]["who"].get("reference") == "Practitioner/d1"
    ]
    outcomes = sorted((e["outcomeDesc"].split(" (")[0], e["outcome"]) for e in by_doctor)
    assert outcomes == [
        ("HTTP 200 GET /Patient/b/Observation", "0"),
        ("HTTP 404 GET /Observation/ob", "4"),
        ("HTTP 404 GET /Patient/b", "4"),
    ]
    ob = next(e for e in by_doctor if "Observation/ob" in e["outcomeDesc"])
    assert {"Observation/ob", "Patient/b"} <= _entities(ob)
    # resident a's own context patient is named on their events
    world.client.get("/fhir/Observation", headers=world.resident())
    searched = [e for e in _events(world, patient="Patient/a") if e.get("subtype")]
    assert any(e["subtype"][0]["code"] == "search-type" for e in searched)


def test_batch_entries_get_their_own_events(world: World) -> None:
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/a"}},
            {"request": {"method": "GET", "url": "Observation/ob"}},
            {"request": {"method": "GET", "url": "Observation?subject=Patient/a"}},
        ],
    }
    r = world.client.post(
        "/fhir", json=batch, headers={**world.resident(), "X-Request-Id": "batch-1"}
    )
    assert r.status_code == 200
    events = {e["outcomeDesc"].rsplit("(request ", 1)[1][:-1]: e for e in _events(world)}
    assert events["batch-1"]["subtype"][0]["code"] == "batch-transaction"
    first, second, third = events["batch-1#0"], events["batch-1#1"], events["batch-1#2"]
    assert first["subtype"][0]["code"] == "read" and first["outcome"] == "0"
    assert "Patient/a" in _entities(first)
    assert second["outcome"] == "4" and {"Observation/ob", "Patient/b"} <= _entities(second)
    assert third["action"] == "E" and "subject=Patient/a" in _queries(third)[0]


def test_post_search_records_the_body_query_and_actions(world: World) -> None:
    headers = {**world.resident(), "Content-Type": "application/x-www-form-urlencoded"}
    r = world.client.post(
        "/fhir/Observation/_search",
        content="code=8480-6",
        headers={**headers, "X-Request-Id": "s1"},
    )
    assert r.status_code == 200
    world.client.get("/fhir/Patient/a", headers={**world.resident(), "X-Request-Id": "r1"})
    created = world.client.post(
        "/fhir/Observation",
        json={"resourceType": "Observation", "status": "final", "code": {"text": "x"},
              "subject": {"reference": "Patient/a"}},
        headers={**world.resident(), "X-Request-Id": "c1"},
    )  # fmt: skip
    assert created.status_code == 201
    world.client.get(
        "/fhir/Measure/x/$evaluate-measure", headers={**world.resident(), "X-Request-Id": "o1"}
    )
    events = {e["outcomeDesc"].rsplit("(request ", 1)[1][:-1]: e for e in _events(world)}
    assert "code=8480-6" in _queries(events["s1"])[0]
    assert [events[k]["action"] for k in ("s1", "r1", "c1", "o1")] == ["E", "R", "C", "E"]


def test_back_end_clients_are_found_by_client_id(world: World) -> None:
    backend = world.headers("system/*.rs", kind="system", subject="svc-9", client_id="svc-9")
    assert world.client.get("/fhir/Patient/a", headers=backend).status_code == 200
    found = _events(world, **{"agent:identifier": "https://jiayi.health/fhir/sid/client-id|svc-9"})
    assert found and found[0]["agent"][0]["who"]["identifier"]["value"] == "svc-9"
    assert _events(world, altid="svc-9")


# -- disclosures (pure): the AuditEvent of data sent out -----------------------------------------------
@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:pw@hook.example.cn:8443/in?token=s3cret", "https://hook.example.cn:8443/in"),
        ("http://127.0.0.1/fhir", "http://127.0.0.1/fhir"),
        (None, None),
        ("", None),
    ],
)
def test_public_endpoint_drops_credentials_and_query(url: str | None, shown: str | None) -> None:
    from fhir_server.services.audit import public_endpoint

    assert public_endpoint(url) == shown


@pytest.mark.parametrize(
    "delivered, status, outcome",
    [
        (True, None, "0"),
        (False, None, "8"),
        (False, 503, "8"),
        (False, 422, "4"),
        (False, 200, "8"),
    ],
)
def test_disclosure_event_shape(delivered: bool, status: int | None, outcome: str) -> None:
    from fhir_server.services.audit import build_audit_event, disclosure_record

    record = disclosure_record(
        "health-record",
        "Patient/p1 publish",
        ["Observation/o1"],
        delivered=delivered,
        status=status,
        recipient={"reference": "Organization/store"},
        recipient_name="store",
        endpoint="https://store.example.cn/fhir?key=x",
        patients=["p1"],
    )
    event = build_audit_event(record, lambda r: ["p1"] if r.get("id") == "o1" else [],
                              lambda ref: ["p1"] if ref == "Observation/o1" else [])  # fmt: skip
    assert event["type"]["code"] == "110106" and event["action"] == "R"
    assert event["subtype"] == [
        {
            "system": "https://jiayi.health/fhir/CodeSystem/disclosure-channel",
            "code": "health-record",
        }
    ]
    assert event["outcome"] == outcome
    assert [x["what"]["reference"] for x in event["entity"]] == ["Observation/o1", "Patient/p1"]
    source, destination = event["agent"]
    assert source["requestor"] and not destination["requestor"]
    assert destination["who"] == {"reference": "Organization/store"}
    assert destination["network"] == {"address": "https://store.example.cn/fhir", "type": "5"}
