"""End-to-end referral scenarios through the REST API on SQLite and PostgreSQL (issue 8; 粤(四)
畅通双向转诊; 国卫办基层发〔2025〕21号 一(四)): a hypertensive resident referred up and booked into a
reserved expert slot; reserved-slot rules and the emergency bypass; reserved slots released by the
job; rejection with an alternative; downward referral reaching the right team and its worklist; the
report numbers.  Bookings are standard `POST Appointment` (INTERFACE.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
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

    def search(self, path: str, **params: Any) -> list[dict[str, Any]]:
        return [
            e["resource"]
            for e in self.get(path, **params).get("entry", [])
            if e.get("search", {}).get("mode") != "include"
        ]


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    settings = make_settings(database_url)
    clock = MovableClock(T0)
    components = dataclasses.replace(build_components(settings), clock=clock)
    app = create_app(settings, components=components)
    with TestClient(app) as http:
        yield Env(http, clock, settings, components)


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
    assert len(notes) == 2
    for note in notes:
        assert {r["reference"] for r in note["recipient"]} == {
            f"CareTeam/{world.team['id']}",
            f"PractitionerRole/{world.family_doctor['id']}",
        }
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
    (alternative,) = add_slots(env.create, schedule, T0 + timedelta(days=6), 1, reserved=1)
    referral = env.create(upward_referral(world, code={"text": "冠脉CTA"}))
    (task,) = env.search("Task", focus=f"ServiceRequest/{referral['id']}")

    offered = env.get(f"ServiceRequest/{referral['id']}/$referral-alternatives")
    assert [e["resource"]["id"] for e in offered["entry"]] == [alternative["id"]]

    # rejecting without a reason is refused
    assert env.put({**task, "status": "rejected"}).status_code == 422
    rejected = {
        **task,
        "status": "rejected",
        "statusReason": {"text": "本周预留检查号源已满"},
        "output": [
            {
                "type": {"coding": [{"system": R.MARKER_SYSTEM, "code": "alternative"}]},
                "valueReference": ref(alternative),
            }
        ],
    }
    r = env.put(rejected)
    assert r.status_code == 200, r.text
    assert r.json()["executionPeriod"]["start"]
    (note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{referral['id']}"})
    assert "本周预留检查号源已满" in note["payload"][0]["contentString"]
    assert note["payload"][1]["contentReference"] == ref(alternative)
    assert ref(world.team) in note["recipient"]
    # the family doctor takes the alternative: priority "examination" is recorded
    assert (
        env.http.post(
            "/fhir/Appointment", json=appointment(world, alternative, referral)
        ).status_code
        == 201
    )
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
    assert env.put({**task, "status": "accepted"}).status_code == 200
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
    expert = add_schedule(env.create, world, "expert")
    beds = add_schedule(env.create, world, "bed")
    e_slots = add_slots(env.create, expert, T0 + timedelta(days=1), 5, reserved=3)  # 3 reserved
    b_slots = add_slots(
        env.create, beds, T0 + timedelta(days=4), 4, every=timedelta(days=1), reserved=2
    )

    up1 = env.create(upward_referral(world))  # authored T0
    env.clock.at = T0 + timedelta(hours=1)
    up2 = env.create(upward_referral(world, priority="urgent"))
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, e_slots[0], up1)).status_code
        == 201
    )  # +24 h
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, b_slots[0], up2)).status_code
        == 201
    )  # +95 h
    assert (
        env.http.post("/fhir/Appointment", json=appointment(world, e_slots[4])).status_code == 201
    )  # public
    # expert reserved slots within 48 h: e_slots[1], e_slots[2] released
    run_job(env.settings, env.components, "release-reserved-slots", T0.date())

    (t2,) = env.search("Task", focus=f"ServiceRequest/{up2['id']}")
    env.put({**t2, "status": "rejected", "statusReason": {"text": "no bed"}})
    down1 = env.create(_downward(world, world.hospital_doctor, world.patient))
    env.create(_downward(world, world.hospital_doctor, world.patient))
    (d1,) = env.search("Task", focus=f"ServiceRequest/{down1['id']}")
    env.clock.at += timedelta(hours=3)
    env.put({**d1, "status": "accepted"})

    report = _report(env, world)
    assert report["expert"] == {"reserved": 3, "used": 1, "released": 2, "unused": 0}
    assert report["bed"] == {"reserved": 2, "used": 1, "released": 0, "unused": 1}
    assert report["examination"] == {"reserved": 0, "used": 0, "released": 0, "unused": 0}
    assert report["referrals"] == {"up": 2, "down": 2, "up-rejected": 1, "up-completed": 0}
    assert report["waiting-time"] == {
        "count": 2,
        "mean-hours": 59.5,
        "median-hours": 59.5,
        "max-hours": 95.0,
    }
    assert report["acknowledgement-time"] == {
        "count": 1,
        "mean-hours": 3.0,
        "median-hours": 3.0,
        "max-hours": 3.0,
        "pending": 1,
    }


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
