"""End-to-end referral scenarios through the REST API on SQLite and PostgreSQL (issue 8; 粤(四)
畅通双向转诊; 国卫办基层发〔2025〕21号 一(四)): a hypertensive resident referred up and booked into a
reserved expert slot; reserved-slot rules and the emergency bypass; reserved slots released by the
job; rejection with an alternative; downward referral reaching the right team and its worklist; the
report numbers.  Bookings are standard `POST Appointment` (INTERFACE.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.domain.referrals import rules as R
from fhir_server.jobs.runner import run_job
from fhir_server.settings import Settings
from tests.api.conftest import make_settings
from tests.domain.referrals.referral_data import (
    T0,
    World,
    add_schedule,
    add_slots,
    appointment,
    build_world,
    ref,
    referral_code,
    upward_referral,
)


class MovableClock:
    """A test clock the scenario moves forward."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at.astimezone(UTC)  # the repository stamps UTC instants


@dataclasses.dataclass
class Env:
    http: TestClient
    clock: MovableClock
    settings: Settings
    components: Any

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(f"/fhir/{body['resourceType']}", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.http.get(f"/fhir/{path}", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def put(self, resource: dict[str, Any]) -> Any:
        return self.http.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)

    def patch(self, path: str, operations: list[dict[str, Any]]) -> Any:
        return self.http.patch(
            f"/fhir/{path}",
            json=operations,
            headers={"Content-Type": "application/json-patch+json"},
        )

    def search(self, path: str, **params: Any) -> list[dict[str, Any]]:
        return [
            e["resource"]
            for e in self.get(path, **params).get("entry", [])
            if e.get("search", {}).get("mode") != "include"
        ]


@contextmanager
def running(database_url: str, **overrides: Any) -> Iterator[Env]:
    settings = make_settings(database_url, **overrides)
    clock = MovableClock(T0)
    components = dataclasses.replace(build_components(settings), clock=clock)
    app = create_app(settings, components=components)
    with TestClient(app) as http:
        yield Env(http, clock, settings, components)


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    with running(database_url) as e:
        yield e


@pytest.fixture
def world(env: Env) -> World:
    return build_world(env.create)


def _tags(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["system"], t["code"]) for t in resource.get("meta", {}).get("tag", [])}


def test_hypertensive_resident_referred_up_and_booked_into_reserved_expert_slot(
    env: Env, world: World
) -> None:
    schedule = add_schedule(env.create, world, "expert")
    slots = add_slots(env.create, schedule, T0 + timedelta(days=3), 10)
    # The hospital reserves its configured share (expert: 20 % of 10 → 2), spread over the session.
    out = env.http.post(
        f"/fhir/Schedule/{schedule['id']}/$referral-reserve", json={"resourceType": "Parameters"}
    )
    assert out.status_code == 200, out.text
    counts = {p["name"]: p["valueInteger"] for p in out.json()["parameter"]}
    assert counts == {"slots": 10, "target": 2, "reserved": 2, "added": 2}
    reserved = env.search(
        "Slot",
        _tag=f"{R.RESERVATION_SYSTEM}|referral",
        schedule=f"Schedule/{schedule['id']}",
        _sort="start",
    )
    assert [s["id"] for s in reserved] == [slots[0]["id"], slots[5]["id"]]

    # 1. the family doctor refers up; the hospital's Task appears at once
    referral = env.create(upward_referral(world))
    (task,) = env.search("Task", focus=f"ServiceRequest/{referral['id']}")
    assert task["status"] == "requested" and task["owner"] == ref(world.hospital)

    # 2. book the reserved slot: a standard POST Appointment naming the slot, basedOn the referral
    env.clock.at = T0 + timedelta(hours=2)
    r = env.http.post("/fhir/Appointment", json=appointment(world, reserved[0], referral))
    assert r.status_code == 201, r.text
    assert env.get(f"Slot/{reserved[0]['id']}")["status"] == "busy"
    used = R.priorities_used(env.get(f"ServiceRequest/{referral['id']}"))
    assert used == ["appointment"]  # 三优先: the priority used is recorded on the referral

    # 3. the same slot again: 409 with a clear message
    again = env.http.post("/fhir/Appointment", json=appointment(world, reserved[0], referral))
    assert again.status_code == 409
    assert "already taken" in again.json()["issue"][0]["diagnostics"]

    # 4. hospital accepts, then completes: each change notifies the referring team and doctor
    for status in ("accepted", "completed"):
        task = env.get(f"Task/{task['id']}")
        assert env.put({**task, "status": status}).status_code == 200
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    about = {n["about"][0]["reference"].split("/")[0] for n in notes}
    assert len(notes) == 3 and about == {"Appointment", "Task"}
    for note in notes:
        expected = {f"CareTeam/{world.team['id']}", f"PractitionerRole/{world.family_doctor['id']}"}
        if note["about"][0]["reference"].startswith("Appointment/"):  # the booking: hospital too
            expected.add(f"Organization/{world.hospital['id']}")
            assert "booked" in note["payload"][0]["contentString"]
        assert {r["reference"] for r in note["recipient"]} == expected
    assert env.get(f"ServiceRequest/{referral['id']}")["status"] == "completed"


def test_reserved_slot_rules_and_emergency_bypass(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "bed")
    bed_slots = add_slots(
        env.create, schedule, T0 + timedelta(days=2), 3, every=timedelta(days=1), reserved=2
    )

    # not basedOn a referral → 422
    r = env.http.post("/fhir/Appointment", json=appointment(world, bed_slots[0]))
    assert r.status_code == 422 and "reserved for referrals" in r.text

    # a resident without a contract in force → 422 (reserved for signed residents)
    stranger = env.create({"resourceType": "Patient", "name": [{"text": "李四"}]})
    referral = env.create(upward_referral(world, subject=ref(stranger), supportingInfo=None))
    body = appointment(world, bed_slots[0], referral)
    body["participant"] = [{"actor": ref(stranger), "status": "accepted"}]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 422 and "signed residents" in r.text

    # an emergency is never blocked: the urgent referral books the same reserved bed, flagged
    urgent = env.create(
        upward_referral(world, subject=ref(stranger), supportingInfo=None, priority="stat")
    )
    body["basedOn"] = [ref(urgent)]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 201, r.text
    assert (R.MARKER_SYSTEM, "emergency-bypass") in _tags(r.json())
    assert R.priorities_used(env.get(f"ServiceRequest/{urgent['id']}")) == ["admission"]

    # a public (untagged) slot needs no referral
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, bed_slots[2])).status_code == 201
    )

    # an upward referral lacking reason, summary and target is refused, naming what is missing
    incomplete = upward_referral(world)
    for key in ("reasonCode", "note", "performer"):
        incomplete.pop(key)
    incomplete["supportingInfo"] = [ref(world.contract)]
    r = env.http.post("/fhir/ServiceRequest", json=incomplete)
    assert r.status_code == 422
    assert len(r.json()["issue"]) == 3


def test_reserved_slots_released_by_the_job(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")  # expert: released 48 h before start
    soon = add_slots(env.create, schedule, T0 + timedelta(hours=30), 2, reserved=2)
    later = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)
    referral = env.create(upward_referral(world))
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, soon[1], referral)).status_code
        == 201
    )

    summary = run_job(env.settings, env.components, "release-reserved-slots", T0.date())
    assert summary.startswith("released 1 ")
    released = env.get(f"Slot/{soon[0]['id']}")
    assert (R.MARKER_SYSTEM, "reservation-released") in _tags(released)
    assert (R.RESERVATION_SYSTEM, "referral") not in _tags(released)
    assert R.is_reserved(env.get(f"Slot/{soon[1]['id']}"))  # booked: stays as it was
    assert R.is_reserved(env.get(f"Slot/{later[0]['id']}"))  # not due yet
    # released capacity is public now: bookable without a referral
    assert env.http.post("/fhir/Appointment", json=appointment(world, released)).status_code == 201
    # running again releases nothing more (idempotent)
    assert run_job(env.settings, env.components, "release-reserved-slots", T0.date()).startswith(
        "released 0 "
    )
    # a dry run for the morning four days on releases the later one
    assert run_job(
        env.settings, env.components, "release-reserved-slots", date(2026, 3, 6)
    ).startswith("released 1 ")


def test_rejection_with_alternative(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "examination")
    reserved, public = add_slots(env.create, schedule, T0 + timedelta(days=6), 2, reserved=1)
    expert = add_schedule(env.create, world, "expert")
    add_slots(
        env.create, expert, T0 + timedelta(days=6), 1, reserved=1
    )  # another kind: not offered
    referral = env.create(
        upward_referral(
            world,
            code=referral_code("冠脉CTA"),
            category=[
                {"coding": [{"system": R.DIRECTION_SYSTEM, "code": "up"}]},
                {"coding": [{"system": R.CAPACITY_SYSTEM, "code": "examination"}]},
            ],
        )
    )
    (task,) = env.search("Task", focus=f"ServiceRequest/{referral['id']}")

    # alternatives: the referral's capacity kind only, reserved first
    offered = env.get(f"ServiceRequest/{referral['id']}/$referral-alternatives")
    assert [e["resource"]["id"] for e in offered["entry"]] == [reserved["id"], public["id"]]

    # rejecting without a reason is refused
    assert env.put({**task, "status": "rejected"}).status_code == 422
    rejected = {
        **task,
        "status": "rejected",
        "statusReason": {"text": "本周预留检查号源已满"},
        "output": [
            {
                "type": {"coding": [{"system": R.MARKER_SYSTEM, "code": "alternative"}]},
                "valueReference": ref(public),
            }
        ],
    }
    r = env.put(rejected)
    assert r.status_code == 200, r.text
    assert r.json()["executionPeriod"]["start"]
    (note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    assert "本周预留检查号源已满" in note["payload"][0]["contentString"]
    assert note["payload"][1]["contentReference"] == ref(public)
    assert ref(world.team) in note["recipient"]

    # a referral the hospital turned down books no reserved capacity, and is offered public slots
    offered = env.get(f"ServiceRequest/{referral['id']}/$referral-alternatives")
    assert [e["resource"]["id"] for e in offered["entry"]] == [public["id"]]
    r = env.http.post("/fhir/Appointment", json=appointment(world, reserved, referral))
    assert r.status_code == 422
    issue = r.json()["issue"][0]
    assert "turned down by the hospital" in issue["diagnostics"]
    assert issue["expression"] == ["Appointment.basedOn"]
    assert env.get(f"Slot/{reserved['id']}")["status"] == "free"
    # the family doctor takes the public alternative: priority "examination" is recorded
    r = env.http.post("/fhir/Appointment", json=appointment(world, public, referral))
    assert r.status_code == 201, r.text
    assert R.priorities_used(env.get(f"ServiceRequest/{referral['id']}")) == ["examination"]


def _downward(
    world: World, hospital_doctor: dict[str, Any], patient: dict[str, Any]
) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": R.DIRECTION_SYSTEM, "code": "down"}]}],
        "code": {"text": "下转康复随访"},
        "subject": ref(patient),
        "requester": ref(hospital_doctor),
        "note": [{"text": "出院小结：血压稳定，继续氨氯地平5mg qd，2周后社区随访"}],
    }


def test_downward_referral_reaches_the_contracted_team_and_worklist(env: Env, world: World) -> None:
    other = build_world(env.create, name="陈五")  # another team, another resident
    referral = env.create(_downward(world, world.hospital_doctor, world.patient))
    assert referral["performer"] == [ref(world.team), ref(world.primary)]
    assert ref(world.contract) in referral["supportingInfo"]
    (note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    assert {r["reference"] for r in note["recipient"]} == {
        f"CareTeam/{world.team['id']}",
        f"Organization/{world.primary['id']}",
    }
    assert "出院小结" in note["payload"][0]["contentString"]

    listed = env.get(f"CareTeam/{world.team['id']}/$referral-worklist")
    assert listed["total"] == 1 and listed["entry"][1]["resource"]["id"] == referral["id"]
    assert env.get(f"CareTeam/{other.team['id']}/$referral-worklist")["total"] == 0
    # the same worklist as a plain search
    (task,) = env.search(
        "Task",
        owner=f"CareTeam/{world.team['id']}",
        status="requested,received",
        code=f"{R.DIRECTION_SYSTEM}|down",
    )

    env.clock.at = T0 + timedelta(hours=5)
    r = env.put({**task, "status": "accepted"})
    assert r.status_code == 200, r.text
    assert env.get(f"CareTeam/{world.team['id']}/$referral-worklist")["total"] == 0
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    assert len(notes) == 2  # the hospital doctor hears of the acknowledgement
    assert any(n["recipient"] == [ref(world.hospital_doctor)] for n in notes)

    # a resident without a contract in force cannot be routed automatically
    stranger = env.create({"resourceType": "Patient", "name": [{"text": "赵六"}]})
    r = env.http.post(
        "/fhir/ServiceRequest", json=_downward(world, world.hospital_doctor, stranger)
    )
    assert r.status_code == 422 and "no Contract in force" in r.text


def _report(env: Env, world: World) -> dict[str, Any]:
    out = env.get(
        f"Organization/{world.hospital['id']}/$referral-report",
        start="2026-03-01",
        end="2026-03-31",
    )
    result: dict[str, Any] = {}
    for p in out["parameter"]:
        if "part" not in p:
            continue
        parts = {
            q["name"]: next(v for k, v in q.items() if k.startswith("value")) for q in p["part"]
        }
        key = parts.pop("kind", p["name"])
        result[key] = parts
    return result


def test_report_numbers_are_exact(env: Env, world: World) -> None:
    other = build_world(env.create, name="陈五")  # another hospital: its referrals do not count
    expert = add_schedule(env.create, world, "expert")
    beds = add_schedule(env.create, world, "bed")
    e_slots = add_slots(env.create, expert, T0 + timedelta(days=1), 5, reserved=3)  # 3 reserved
    b_slots = add_slots(
        env.create, beds, T0 + timedelta(days=4), 4, every=timedelta(days=1), reserved=2
    )
    stranger = env.create({"resourceType": "Patient", "name": [{"text": "李四"}]})  # not signed

    up1 = env.create(upward_referral(world))  # authored T0
    env.clock.at = T0 + timedelta(hours=1)
    up2 = env.create(
        upward_referral(world, priority="urgent")
    )  # urgent, complete, signed: no bypass
    # urgent, incomplete (no reason, no summary), for a resident without a contract: bypasses twice
    up3 = env.create(
        upward_referral(
            world,
            priority="stat",
            subject=ref(stranger),
            reasonCode=None,
            note=None,
            supportingInfo=None,
        )
    )
    assert (R.MARKER_SYSTEM, "emergency-bypass") in _tags(up3)
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, e_slots[0], up1)).status_code
        == 201
    )  # +24 h
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, b_slots[0], up2)).status_code
        == 201
    )  # +95 h
    body = appointment(world, b_slots[1], up3)
    body["participant"] = [{"actor": ref(stranger), "status": "accepted"}]
    booked = env.http.post("/fhir/Appointment", json=body)  # +119 h
    assert booked.status_code == 201, booked.text
    assert (R.MARKER_SYSTEM, "emergency-bypass") in _tags(booked.json())
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, e_slots[4])).status_code == 201
    )  # public
    # expert reserved slots within 48 h: e_slots[1], e_slots[2] released
    run_job(env.settings, env.components, "release-reserved-slots", T0.date())

    (t2,) = env.search("Task", focus=f"ServiceRequest/{up2['id']}")
    env.put({**t2, "status": "rejected", "statusReason": {"text": "no bed"}})
    down1 = env.create(_downward(world, world.hospital_doctor, world.patient))
    # a hospital doctor named as Practitioner: counted through PractitionerRole?practitioner=
    practitioner = {"resourceType": "Practitioner", "id": ref_id(world.hospital_doctor)}
    env.create(_downward(world, practitioner, world.patient))
    other_doctor = {"resourceType": "Practitioner", "id": ref_id(other.hospital_doctor)}
    env.create(_downward(world, other_doctor, world.patient))  # the other hospital's
    (d1,) = env.search("Task", focus=f"ServiceRequest/{down1['id']}")
    env.clock.at += timedelta(hours=3)
    env.put({**d1, "status": "accepted"})

    report = _report(env, world)
    assert report["expert"] == {"reserved": 3, "used": 1, "released": 2, "unused": 0}
    assert report["bed"] == {"reserved": 2, "used": 2, "released": 0, "unused": 0}
    assert report["examination"] == {"reserved": 0, "used": 0, "released": 0, "unused": 0}
    assert report["referrals"] == {
        "up": 3,
        "down": 2,
        "up-rejected": 1,
        "up-completed": 0,
        "emergency-bypass": 1,
    }
    assert report["waiting-time"] == {
        "count": 3,
        "mean-hours": 79.33,
        "median-hours": 95.0,
        "max-hours": 119.0,
    }
    assert report["acknowledgement-time"] == {
        "count": 1,
        "mean-hours": 3.0,
        "median-hours": 3.0,
        "max-hours": 3.0,
        "pending": 1,
    }
    assert _report(env, other)["referrals"]["down"] == 1


def ref_id(role: dict[str, Any]) -> str:
    """The Practitioner id behind a PractitionerRole."""
    return str(role["practitioner"]["reference"]).split("/")[1]


def test_book_operation_and_delete_frees_the_slot(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=7), 1, reserved=1)
    referral = env.create(upward_referral(world))
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "referral", "valueReference": ref(referral)},
            {"name": "slot", "valueReference": ref(slot)},
        ],
    }
    r = env.http.post("/fhir/Appointment/$book", json=params)
    assert r.status_code == 201, r.text
    booked = r.json()
    assert booked["basedOn"] == [ref(referral)] and booked["start"] == slot["start"]
    assert env.http.post("/fhir/Appointment/$book", json=params).status_code == 409
    assert env.http.delete(f"/fhir/Appointment/{booked['id']}").status_code in (200, 204)
    assert env.get(f"Slot/{slot['id']}")["status"] == "free"


def test_operations_and_jobs_are_declared(env: Env) -> None:
    statement = env.get("metadata")
    listed = {
        (res["type"], op["name"])
        for rest in statement["rest"]
        for res in rest.get("resource", [])
        for op in res.get("operation", [])
    }
    assert {
        ("Organization", "referral-report"),
        ("CareTeam", "referral-worklist"),
        ("ServiceRequest", "referral-alternatives"),
        ("Schedule", "referral-reserve"),
        ("Appointment", "book"),
    } <= listed
    definitions = env.components.operations.definitions
    assert "https://jiayi.health/fhir/OperationDefinition/referral-report" in definitions
    from fhir_server.jobs.registry import discover

    assert {"release-reserved-slots", "reserve-referral-slots"} <= set(discover())


# -- every write path (issue 8 hardening) ------------------------------------------------------------
def _booking_notes(env: Env, referral: dict[str, Any]) -> list[dict[str, Any]]:
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    return [n for n in notes if n["about"][0]["reference"].startswith("Appointment/")]


def test_transaction_with_two_bookings_of_one_slot_stores_nothing(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)
    referral = env.create(upward_referral(world))
    entries = [
        {
            "resource": appointment(world, slot, referral),
            "request": {"method": "POST", "url": "Appointment"},
        }
        for _ in range(2)
    ]
    r = env.http.post(
        "/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}
    )
    assert r.status_code == 409, r.text
    issue = r.json()["issue"][0]
    assert issue["code"] == "conflict" and "already taken" in issue["diagnostics"]
    assert issue["expression"][0].startswith("Bundle.entry[1]")
    # all or nothing: no appointment, the slot still free, no priority, no notification
    assert env.search("Appointment", slot=f"Slot/{slot['id']}") == []
    assert env.get(f"Slot/{slot['id']}")["status"] == "free"
    assert R.priorities_used(env.get(f"ServiceRequest/{referral['id']}")) == []
    assert _booking_notes(env, referral) == []


def test_slot_writes_cannot_free_a_held_slot(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)
    first = env.create(upward_referral(world))
    held = env.create(appointment(world, slot, first))

    r = env.patch(f"Slot/{slot['id']}", [{"op": "replace", "path": "/status", "value": "free"}])
    assert r.status_code == 409, r.text
    issue = r.json()["issue"][0]
    assert (
        issue["expression"] == ["Slot.status"]
        and f"Appointment/{held['id']}" in issue["diagnostics"]
    )
    current = env.get(f"Slot/{slot['id']}")
    assert env.put({**current, "status": "free"}).status_code == 409
    assert env.put({**current, "status": "busy-unavailable"}).status_code == 409
    assert env.http.delete(f"/fhir/Slot/{slot['id']}").status_code == 409
    assert env.get(f"Slot/{slot['id']}")["status"] == "busy"
    # the hospital may still change what does not free it (a comment), and the booking stands
    assert env.put({**current, "comment": "李主任"}).status_code == 200

    # defence in depth: a slot marked free underneath a booking (data from before this rule, or an
    # import) still books once only — the booking rule looks for holders, not only at the status
    from fhir_server.services.context import RequestContext
    from fhir_server.services.repository import FhirRepository

    raw = FhirRepository(
        RequestContext("http://testserver/fhir", system_name="legacy"),
        dataclasses.replace(env.components, write_rules=()),
    )
    raw.update("Slot", slot["id"], {**env.get(f"Slot/{slot['id']}"), "status": "free"})
    second = env.create(upward_referral(world))
    r = env.http.post("/fhir/Appointment", json=appointment(world, slot, second))
    assert r.status_code == 409
    diagnostics = r.json()["issue"][0]["diagnostics"]
    assert f"held by Appointment/{held['id']}" in diagnostics
    assert f"ServiceRequest/{second['id']}/$referral-alternatives" in diagnostics
    assert len(env.search("Appointment", slot=f"Slot/{slot['id']}")) == 1

    # cancelling the appointment frees the slot; then the slot may be written freely
    assert (
        env.put({**env.get(f"Appointment/{held['id']}"), "status": "cancelled"}).status_code == 200
    )
    assert env.get(f"Slot/{slot['id']}")["status"] == "free"
    assert env.http.delete(f"/fhir/Slot/{slot['id']}").status_code in (200, 204)


def test_reservation_tags_change_only_through_the_release_job(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")  # expert: released 48 h before start
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)

    untagged = {k: v for k, v in slot.items() if k != "meta"}
    r = env.put(untagged)
    assert r.status_code == 422
    issue = r.json()["issue"][0]
    assert (
        issue["expression"] == ["Slot.meta.tag"]
        and "release-reserved-slots" in issue["diagnostics"]
    )
    released_tag = {"system": R.MARKER_SYSTEM, "code": "reservation-released"}
    r = env.patch(
        f"Slot/{slot['id']}", [{"op": "add", "path": "/meta/tag/-", "value": released_tag}]
    )
    assert r.status_code == 422
    assert R.is_reserved(env.get(f"Slot/{slot['id']}"))
    # a new slot claiming to be released early is refused as well
    body = {
        "resourceType": "Slot",
        "schedule": ref(schedule),
        "status": "free",
        "start": (T0 + timedelta(days=6)).isoformat(),
        "end": (T0 + timedelta(days=6, minutes=30)).isoformat(),
        "meta": {"tag": [released_tag]},
    }
    assert env.http.post("/fhir/Slot", json=body).status_code == 422
    # adding the reservation is always allowed (hospitals may tag their own slots)
    public = env.create({k: v for k, v in body.items() if k != "meta"})
    tagged = {**public, "meta": {"tag": [{"system": R.RESERVATION_SYSTEM, "code": "referral"}]}}
    assert env.put(tagged).status_code == 200

    # once start − releaseLeadHours has come, the hospital may hand it out itself
    env.clock.at = T0 + timedelta(days=3, hours=1)
    r = env.put({k: v for k, v in env.get(f"Slot/{slot['id']}").items() if k != "meta"})
    assert r.status_code == 200, r.text
    assert not R.is_reserved(r.json())


def test_reserved_slots_claim_the_guide_profile(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")
    slots = add_slots(env.create, schedule, T0 + timedelta(days=5), 5)
    out = env.http.post(
        f"/fhir/Schedule/{schedule['id']}/$referral-reserve", json={"resourceType": "Parameters"}
    )
    assert out.status_code == 200, out.text
    reserved = env.get(f"Slot/{slots[0]['id']}")
    assert R.is_reserved(reserved) and reserved["meta"]["profile"] == [R.RESERVED_SLOT_PROFILE]
    assert "profile" not in env.get(f"Slot/{slots[1]['id']}").get("meta", {})
    # a booking through $book into it claims the referral-appointment profile
    referral = env.create(upward_referral(world))
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "referral", "valueReference": ref(referral)},
            {"name": "slot", "valueReference": ref(reserved)},
        ],
    }
    r = env.http.post("/fhir/Appointment/$book", json=params)
    assert r.status_code == 201, r.text
    assert r.json()["meta"]["profile"] == [R.REFERRAL_APPOINTMENT_PROFILE]


def test_appointment_updates_keep_the_reserved_use_rules(env: Env, world: World) -> None:
    schedule = add_schedule(env.create, world, "expert")
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)
    referral = env.create(upward_referral(world))
    booked = env.create(appointment(world, slot, referral))

    dropped = {k: v for k, v in booked.items() if k != "basedOn"}
    r = env.put(dropped)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["Appointment.basedOn"]
    other = build_world(env.create, name="陈五")
    moved_patient = {**booked, "participant": [{"actor": ref(other.patient), "status": "accepted"}]}
    r = env.put(moved_patient)
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Appointment.participant"]
    # the emergency flag is the server's: a client cannot set it on a routine booking
    forged = {
        **booked,
        "comment": "请准时",
        "meta": {"tag": [{"system": R.MARKER_SYSTEM, "code": "emergency-bypass"}]},
    }
    r = env.put(forged)
    assert r.status_code == 200, r.text
    assert (R.MARKER_SYSTEM, "emergency-bypass") not in _tags(r.json())
    assert env.get(f"Slot/{slot['id']}")["status"] == "busy"


def test_moving_and_cancelling_notify_and_drop_priorities(env: Env, world: World) -> None:
    expert = add_schedule(env.create, world, "expert")
    beds = add_schedule(env.create, world, "bed")
    (e_slot,) = add_slots(env.create, expert, T0 + timedelta(days=5), 1, reserved=1)
    (b_slot,) = add_slots(env.create, beds, T0 + timedelta(days=6), 1, reserved=1)
    referral = env.create(upward_referral(world))
    booked = env.create(appointment(world, e_slot, referral))
    assert R.priorities_used(env.get(f"ServiceRequest/{referral['id']}")) == ["appointment"]

    # moving the appointment to a bed: the old slot is free, the new one busy, the priority follows
    moved = {**booked, "slot": [ref(b_slot)], "start": b_slot["start"], "end": b_slot["end"]}
    r = env.put(moved)
    assert r.status_code == 200, r.text
    assert env.get(f"Slot/{e_slot['id']}")["status"] == "free"
    assert env.get(f"Slot/{b_slot['id']}")["status"] == "busy"
    assert R.priorities_used(env.get(f"ServiceRequest/{referral['id']}")) == ["admission"]

    # cancelling frees the bed and leaves no priority recorded
    r = env.put({**r.json(), "status": "cancelled"})
    assert r.status_code == 200, r.text
    assert env.get(f"Slot/{b_slot['id']}")["status"] == "free"
    stored = env.get(f"ServiceRequest/{referral['id']}")
    assert R.priorities_used(stored) == [] and "extension" not in stored

    notes = _booking_notes(env, referral)
    texts = [n["payload"][0]["contentString"] for n in notes]
    for label in ("已预约 booked", "已改约 moved", "已取消 cancelled"):
        assert sum(label in t for t in texts) == 1, texts
    assert len(texts) == 3
    expected = {
        f"CareTeam/{world.team['id']}",
        f"PractitionerRole/{world.family_doctor['id']}",
        f"Organization/{world.hospital['id']}",  # the hospital Task's owner
    }
    for note in notes:
        assert {x["reference"] for x in note["recipient"]} == expected
        assert note["about"] == [ref(booked)]


def test_referral_rules_on_put_and_patch(env: Env, world: World) -> None:
    # update-as-create of an upward referral: validated, profiled, and the hospital's Task appears
    body = {**upward_referral(world), "id": "ref-put-1"}
    r = env.put(body)
    assert r.status_code == 201, r.text
    assert R.REFERRAL_PROFILE in r.json()["meta"]["profile"]
    (task,) = env.search("Task", focus="ServiceRequest/ref-put-1")
    assert task["owner"] == ref(world.hospital)
    assert R.REFERRAL_TASK_PROFILE in task["meta"]["profile"]
    # a second PUT makes no second Task
    assert env.put({**r.json(), "note": [{"text": "补充：24小时动态血压"}]}).status_code == 200
    assert len(env.search("Task", focus="ServiceRequest/ref-put-1")) == 1

    incomplete = {**upward_referral(world), "id": "ref-put-2"}
    incomplete.pop("reasonCode")
    r = env.put(incomplete)
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["ServiceRequest.reasonCode"]
    assert env.http.get("/fhir/ServiceRequest/ref-put-2").status_code == 404
    assert env.search("Task", focus="ServiceRequest/ref-put-2") == []

    # the guide's profile: the requested service travels as the fixed referral coding plus text
    wrong_code = {**upward_referral(world), "id": "ref-put-3", "code": {"text": "心内科"}}
    r = env.put(wrong_code)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["ServiceRequest.code"]

    # PATCH of an active referral re-runs the completeness check
    r = env.patch("ServiceRequest/ref-put-1", [{"op": "remove", "path": "/performer"}])
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["ServiceRequest.performer"]
    r = env.patch(
        "ServiceRequest/ref-put-1", [{"op": "replace", "path": "/priority", "value": "urgent"}]
    )
    assert r.status_code == 200 and r.json()["priority"] == "urgent"

    # an urgent referral passes the completeness check, flagged, and the hospital sees why
    stat = upward_referral(world, priority="stat", reasonCode=None, note=None)
    r = env.http.post("/fhir/ServiceRequest", json=stat)
    assert r.status_code == 201, r.text
    flag = next(t for t in r.json()["meta"]["tag"] if t["code"] == "emergency-bypass")
    assert "reasonCode" in flag["display"] and "note" in flag["display"]
    (urgent_task,) = env.search("Task", focus=f"ServiceRequest/{r.json()['id']}")
    assert "紧急转诊" in urgent_task["note"][0]["text"]

    # a ServiceRequest that becomes a referral by update gets its Task then
    plain = env.create(
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "code": referral_code("心内科专家门诊"),
            "subject": ref(world.patient),
        }
    )
    assert env.search("Task", focus=f"ServiceRequest/{plain['id']}") == []
    as_referral = {**upward_referral(world), "id": plain["id"]}
    assert env.put(as_referral).status_code == 200
    assert len(env.search("Task", focus=f"ServiceRequest/{plain['id']}")) == 1


def _task_notes(env: Env, referral: dict[str, Any], task: dict[str, Any]) -> list[dict[str, Any]]:
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    return [n for n in notes if n.get("about") == [ref(task)]]


def test_task_state_machine_and_patch(env: Env, world: World) -> None:
    referral = env.create(upward_referral(world))
    (task,) = env.search("Task", focus=f"ServiceRequest/{referral['id']}")
    r = env.patch(f"Task/{task['id']}", [{"op": "replace", "path": "/status", "value": "accepted"}])
    assert r.status_code == 200, r.text
    assert r.json()["executionPeriod"]["start"]
    (note,) = _task_notes(env, referral, task)
    assert "accepted" in note["payload"][0]["contentString"]

    r = env.patch(
        f"Task/{task['id']}", [{"op": "replace", "path": "/status", "value": "completed"}]
    )
    assert r.status_code == 200
    assert env.get(f"ServiceRequest/{referral['id']}")["status"] == "completed"
    for back in ("requested", "in-progress", "accepted"):
        r = env.patch(f"Task/{task['id']}", [{"op": "replace", "path": "/status", "value": back}])
        assert r.status_code == 422, back
        assert r.json()["issue"][0]["expression"] == ["Task.status"]
    assert env.get(f"Task/{task['id']}")["status"] == "completed"
    assert len(_task_notes(env, referral, task)) == 2  # no note for refusals
    # entered-in-error is always possible
    r = env.put({**env.get(f"Task/{task['id']}"), "status": "entered-in-error"})
    assert r.status_code == 200, r.text


def test_emergency_bypass_still_needs_an_active_referral_of_the_patient(
    env: Env, world: World
) -> None:
    schedule = add_schedule(env.create, world, "bed")
    (bed,) = add_slots(env.create, schedule, T0 + timedelta(days=2), 1, reserved=1)
    stranger = env.create({"resourceType": "Patient", "name": [{"text": "李四"}]})
    revoked = env.create(
        upward_referral(
            world, subject=ref(stranger), supportingInfo=None, priority="stat", status="revoked"
        )
    )
    body = appointment(world, bed, revoked)
    body["participant"] = [{"actor": ref(stranger), "status": "accepted"}]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 422 and "not active" in r.text
    # a stat referral of another patient books nothing for this one
    elsewhere = env.create(upward_referral(world, priority="stat"))  # for world.patient
    body["basedOn"] = [ref(elsewhere)]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == [
        "Appointment.participant"
    ]
    assert env.get(f"Slot/{bed['id']}")["status"] == "free"
    # the stranger's own stat referral books it, flagged
    own = env.create(
        upward_referral(world, subject=ref(stranger), supportingInfo=None, priority="stat")
    )
    body["basedOn"] = [ref(own)]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 201 and (R.MARKER_SYSTEM, "emergency-bypass") in _tags(r.json())


def test_alternatives_by_department_and_the_409_names_them(env: Env, world: World) -> None:
    cardiology, neurology = (
        env.create(
            {"resourceType": "HealthcareService", "name": name, "providedBy": ref(world.hospital)}
        )
        for name in ("心内科", "神经内科")
    )
    cardio = add_schedule(env.create, world, "expert", actor=cardiology)
    neuro = add_schedule(env.create, world, "expert", actor=neurology)
    c_slots = add_slots(env.create, cardio, T0 + timedelta(days=5), 2, reserved=1)
    add_slots(env.create, neuro, T0 + timedelta(days=5), 2, reserved=1)
    referral = env.create(upward_referral(world, performer=[ref(cardiology)]))
    (task,) = env.search("Task", focus=f"ServiceRequest/{referral['id']}")
    assert task["owner"] == ref(world.hospital)  # the department's hospital owns the Task
    offered = env.get(f"ServiceRequest/{referral['id']}/$referral-alternatives")
    assert [e["resource"]["id"] for e in offered["entry"]] == [s["id"] for s in c_slots]

    assert (
        env.http.post(
            "/fhir/Appointment", json=appointment(world, c_slots[0], referral)
        ).status_code
        == 201
    )
    again = env.http.post("/fhir/Appointment", json=appointment(world, c_slots[0], referral))
    assert again.status_code == 409
    assert f"ServiceRequest/{referral['id']}/$referral-alternatives" in again.text
    offered = env.get(f"ServiceRequest/{referral['id']}/$referral-alternatives")
    assert [e["resource"]["id"] for e in offered["entry"]] == [c_slots[1]["id"]]


def test_deploy_policy_changes_the_reserved_count(database_url: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "reservation-policy.json"
    policy_file.write_text(json.dumps({"defaults": {"share": 0.2}, "rules": []}))
    with running(database_url, reservation_policy=str(policy_file)) as env:
        world = build_world(env.create)
        department = env.create(
            {
                "resourceType": "HealthcareService",
                "name": "心内科",
                "providedBy": ref(world.hospital),
            }
        )

        def reserve(schedule: dict[str, Any]) -> dict[str, int]:
            out = env.http.post(
                f"/fhir/Schedule/{schedule['id']}/$referral-reserve",
                json={"resourceType": "Parameters"},
            )
            assert out.status_code == 200, out.text
            return {p["name"]: p["valueInteger"] for p in out.json()["parameter"]}

        first = add_schedule(env.create, world, "examination")
        add_slots(env.create, first, T0 + timedelta(days=5), 10)
        assert reserve(first)["target"] == 2  # 20 % of 10

        # the deploy's file now reserves half of this hospital's capacity, 80 % of the department's
        hospital = f"Organization/{world.hospital['id']}"
        rules = [
            {"hospital": hospital, "share": 0.5},
            {
                "hospital": hospital,
                "department": f"HealthcareService/{department['id']}",
                "share": 0.8,
            },
        ]
        policy_file.write_text(json.dumps({"defaults": {"share": 0.2}, "rules": rules}))
        second = add_schedule(env.create, world, "examination")
        add_slots(env.create, second, T0 + timedelta(days=5), 10)
        assert reserve(second) == {"slots": 10, "target": 5, "reserved": 5, "added": 5}
        third = add_schedule(env.create, world, "expert", actor=department)
        add_slots(env.create, third, T0 + timedelta(days=5), 10)
        assert reserve(third)["target"] == 8

    # the same hospital under the shipped policy (no setting): 20 % again
    with running(database_url) as plain:
        assert plain.settings.reservation_policy is None
        fourth = add_schedule(plain.create, world, "examination")
        add_slots(plain.create, fourth, T0 + timedelta(days=5), 10)
        out = plain.http.post(
            f"/fhir/Schedule/{fourth['id']}/$referral-reserve", json={"resourceType": "Parameters"}
        )
        assert {p["name"]: p["valueInteger"] for p in out.json()["parameter"]}["target"] == 2


def test_the_scheduler_releases_due_reservations_without_a_manual_run(
    env: Env, world: World
) -> None:
    from fhir_server.app import background_workers
    from fhir_server.jobs.scheduler import JobScheduler

    schedule = add_schedule(env.create, world, "expert")  # released 48 h before start
    (soon,) = add_slots(env.create, schedule, T0 + timedelta(hours=60), 1, reserved=1)
    (scheduler,) = [
        w for w in background_workers(env.components, env.settings) if isinstance(w, JobScheduler)
    ]
    scheduler.jobs = {n: s for n, s in scheduler.jobs.items() if n == "release-reserved-slots"}

    (run,) = scheduler.tick()
    assert run.outcome == "ran" and run.summary and run.summary.startswith("released 0 ")
    assert R.is_reserved(env.get(f"Slot/{soon['id']}"))
    (run,) = scheduler.tick()
    assert run.outcome == "not-due"  # once per hour

    env.clock.at = T0 + timedelta(hours=13)  # 47 h before start: due
    (run,) = scheduler.tick()
    assert run.outcome == "ran" and run.summary and run.summary.startswith("released 1 ")
    released = env.get(f"Slot/{soon['id']}")
    assert not R.is_reserved(released) and R.was_released(released)
    assert R.RESERVED_SLOT_PROFILE not in released.get("meta", {}).get("profile", [])


def test_jiayi_serve_runs_the_scheduler_unless_background_tasks_are_off(
    database_url: str,
) -> None:
    import threading

    def scheduler_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "jiayi-jobs"]

    with running(database_url, background_tasks=True):
        assert len(scheduler_threads()) == 1  # started with the app (first round after a delay)
    assert scheduler_threads() == []  # stopped at shutdown
    with running(database_url):  # the tests' default: JIAYI_BACKGROUND_TASKS=false
        assert scheduler_threads() == []
