"""What a referral write tells its caller, and the guide profiles the workflow claims (issue 8), on
SQLite and PostgreSQL through the REST API.

- 粤(四) "在保障急危重症患者救治前提下": an urgent referral that bypasses the completeness check or
  books reserved capacity without a Contract in force succeeds (201) and says so: warnings
  (`JY-REF-BYPASS`) in the OperationOutcome of `Prefer: return=OperationOutcome` and in a Bundle
  entry's `response.outcome`, at the element that was let through; the plain response keeps the
  resource as its body.  A write that bypasses nothing carries no warning.
- Downward referrals (`jiayi-downward-referral`), the team's Task (`jiayi-downward-referral-task`)
  and every referral notification (`jiayi-referral-communication`) claim the guide's profiles,
  which allow the contracted CareTeam as performer, owner and recipient; a claimed profile is
  enforced (422 at the element).
- The receiving side hears of changes to the referral itself (revoked, on hold …), as the
  referring side hears of every Task change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from fhir_server.domain.referrals import rules as R
from tests.api.test_referral_scenarios import Env, running
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

OUTCOME = {"Prefer": "return=OperationOutcome"}


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    with running(database_url) as e:
        yield e


@pytest.fixture
def world(env: Env) -> World:
    return build_world(env.create)


def _warnings(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    assert outcome["resourceType"] == "OperationOutcome"
    return [i for i in outcome["issue"] if i["severity"] == "warning"]


def _message_id(issue: dict[str, Any]) -> str:
    return str(issue["details"]["coding"][0]["code"])


def _profiles(resource: dict[str, Any]) -> list[str]:
    return list(resource.get("meta", {}).get("profile", []))


def test_urgent_bypass_is_told_in_the_outcome(env: Env, world: World) -> None:
    stranger = env.create({"resourceType": "Patient", "name": [{"text": "李四"}]})
    # an urgent referral without reason and clinical summary: accepted, and the caller is told what
    incomplete = upward_referral(
        world, subject=ref(stranger), supportingInfo=None, reasonCode=None, note=None
    )
    incomplete["priority"] = "stat"
    r = env.http.post("/fhir/ServiceRequest", json=incomplete, headers=OUTCOME)
    assert r.status_code == 201, r.text
    warned = _warnings(r.json())
    assert [w["expression"] for w in warned] == [
        ["ServiceRequest.reasonCode"],
        ["ServiceRequest.note"],
    ]
    assert {(w["code"], _message_id(w)) for w in warned} == {("business-rule", "JY-REF-BYPASS")}
    assert all("urgent" in w["diagnostics"] for w in warned)
    urgent_id = r.headers["Location"].split("/")[-3]
    urgent = env.get(f"ServiceRequest/{urgent_id}")
    assert ("emergency-bypass", R.MARKER_SYSTEM) in {
        (t["code"], t["system"]) for t in urgent["meta"]["tag"]
    }
    assert R.REFERRAL_PROFILE not in _profiles(urgent)

    # a complete routine referral bypasses nothing: no warning
    r = env.http.post("/fhir/ServiceRequest", json=upward_referral(world), headers=OUTCOME)
    assert r.status_code == 201 and _warnings(r.json()) == []

    # the urgent referral books a reserved bed for a resident without a Contract: in a transaction
    # the entry's response.outcome warns at Appointment.participant, the entry keeps the resource
    schedule = add_schedule(env.create, world, "bed")
    beds = add_slots(
        env.create, schedule, T0 + timedelta(days=2), 2, every=timedelta(days=1), reserved=2
    )
    body = appointment(world, beds[0], urgent)
    body["participant"] = [{"actor": ref(stranger), "status": "accepted"}]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": body, "request": {"method": "POST", "url": "Appointment"}}],
    }
    r = env.http.post("/fhir", json=bundle)
    assert r.status_code == 200, r.text
    (entry,) = r.json()["entry"]
    assert entry["response"]["status"].startswith("201")
    assert entry["resource"]["resourceType"] == "Appointment"
    (warning,) = _warnings(entry["response"]["outcome"])
    assert warning["expression"] == ["Appointment.participant"]
    assert _message_id(warning) == "JY-REF-BYPASS"
    assert f"Patient/{stranger['id']} has no Contract in force" in warning["diagnostics"]

    # the plain response keeps the Appointment as its body (flagged by its tag)
    body = appointment(world, beds[1], urgent)
    body["participant"] = [{"actor": ref(stranger), "status": "accepted"}]
    r = env.http.post("/fhir/Appointment", json=body)
    assert r.status_code == 201 and r.json()["resourceType"] == "Appointment"
    assert "emergency-bypass" in {t["code"] for t in r.json()["meta"]["tag"]}

    # a signed resident's routine booking of a reserved slot: no warning
    referral = env.create(upward_referral(world))
    (slot,) = add_slots(env.create, schedule, T0 + timedelta(days=5), 1, reserved=1)
    r = env.http.post("/fhir/Appointment", json=appointment(world, slot, referral), headers=OUTCOME)
    assert r.status_code == 201 and _warnings(r.json()) == []


def _downward(world: World, **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": R.DIRECTION_SYSTEM, "code": "down"}]}],
        "code": {"text": "下转康复随访"},
        "subject": ref(world.patient),
        "requester": ref(world.hospital_doctor),
        "note": [{"text": "出院小结：血压稳定，2周后社区随访"}],
        **extra,
    }
    return {k: v for k, v in body.items() if v is not None}


def test_downward_referrals_tasks_and_notes_claim_the_guide_profiles(
    env: Env, world: World
) -> None:
    down = env.create(_downward(world))
    assert R.DOWNWARD_REFERRAL_PROFILE in _profiles(down)
    assert down["performer"][0] == ref(world.team)  # a CareTeam performer, allowed by the profile
    (task,) = env.search("Task", focus=f"ServiceRequest/{down['id']}")
    assert _profiles(task) == [R.DOWNWARD_TASK_PROFILE]
    assert task["owner"] == ref(world.team)
    (note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{down['id']}"})
    assert _profiles(note) == [R.REFERRAL_COMMUNICATION_PROFILE]
    assert ref(world.team) in note["recipient"]

    # the team acknowledges: its note to the hospital doctor claims the profile too; R4
    # Communication.sender allows no CareTeam, so the team's institution is the sender
    r = env.put({**task, "status": "accepted"})
    assert r.status_code == 200, r.text
    assert _profiles(r.json()) == [R.DOWNWARD_TASK_PROFILE]
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{down['id']}"})
    (ack,) = [n for n in notes if n["id"] != note["id"]]
    assert _profiles(ack) == [R.REFERRAL_COMMUNICATION_PROFILE]
    assert ack["recipient"] == [ref(world.hospital_doctor)]
    assert ack["sender"] == ref(world.primary)

    # the claimed profiles are enforced: no requester → 422 at the element; a summary that is
    # only the Contract is no summary
    r = env.http.post("/fhir/ServiceRequest", json=_downward(world, requester=None))
    assert r.status_code == 422, r.text
    assert ["ServiceRequest.requester"] in [i.get("expression") for i in r.json()["issue"]]
    r = env.http.post(
        "/fhir/ServiceRequest",
        json=_downward(world, note=None, supportingInfo=[ref(world.contract)]),
    )
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["ServiceRequest.note"]

    # upward: the hospital's status change reaches the referring side as a profiled note
    up = env.create(upward_referral(world))
    (up_task,) = env.search("Task", focus=f"ServiceRequest/{up['id']}")
    assert _profiles(up_task) == [R.REFERRAL_TASK_PROFILE]
    r = env.put({**up_task, "status": "accepted"})
    assert r.status_code == 200, r.text
    (status_note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{up['id']}"})
    assert _profiles(status_note) == [R.REFERRAL_COMMUNICATION_PROFILE]
    assert status_note["about"] == [{"reference": f"Task/{up_task['id']}"}]


def test_the_receiving_side_hears_when_the_referral_itself_changes(env: Env, world: World) -> None:
    """Every status change is seen by both sides: the referring doctor revoking an upward referral
    tells the hospital that owns its Task; a downward referral put on hold tells the team."""
    up = env.create(upward_referral(world))
    (task,) = env.search("Task", focus=f"ServiceRequest/{up['id']}")
    assert env.search("Communication", **{"based-on": f"ServiceRequest/{up['id']}"}) == []
    r = env.put({**up, "status": "revoked"})
    assert r.status_code == 200, r.text
    (note,) = env.search("Communication", **{"based-on": f"ServiceRequest/{up['id']}"})
    assert note["recipient"] == [ref(world.hospital)]
    assert note["sender"] == ref(world.family_doctor)
    assert note["about"] == [{"reference": f"Task/{task['id']}"}]
    assert "active → revoked" in note["payload"][0]["contentString"]
    assert _profiles(note) == [R.REFERRAL_COMMUNICATION_PROFILE]
    # an update that keeps the status tells nobody
    r = env.patch(
        f"ServiceRequest/{up['id']}", [{"op": "add", "path": "/note/-", "value": {"text": "补充"}}]
    )
    assert r.status_code == 200, r.text
    assert len(env.search("Communication", **{"based-on": f"ServiceRequest/{up['id']}"})) == 1

    down = env.create(_downward(world))
    r = env.patch(
        f"ServiceRequest/{down['id']}", [{"op": "replace", "path": "/status", "value": "on-hold"}]
    )
    assert r.status_code == 200, r.text
    notes = env.search("Communication", **{"based-on": f"ServiceRequest/{down['id']}"})
    (held,) = [n for n in notes if "on-hold" in n["payload"][0]["contentString"]]
    assert {r["reference"] for r in held["recipient"]} == {
        f"CareTeam/{world.team['id']}",
        f"Organization/{world.primary['id']}",
    }


def test_urgent_referral_off_the_guide_profile_is_accepted_with_its_issues_as_warnings(
    env: Env, world: World
) -> None:
    """A complete referral whose code lacks the guide's fixed coding: 422 when routine, 201 when
    urgent — the profile's errors come back as warnings, and the profile is not claimed."""
    off_profile = upward_referral(world, code={"text": "心内科专家门诊"})
    r = env.http.post("/fhir/ServiceRequest", json=off_profile)
    assert r.status_code == 422, r.text
    errors = [(i["severity"], i.get("expression")) for i in r.json()["issue"]]
    off_profile["priority"] = "urgent"
    r = env.http.post("/fhir/ServiceRequest", json=off_profile, headers=OUTCOME)
    assert r.status_code == 201, r.text
    warned = _warnings(r.json())
    assert [("error", w.get("expression")) for w in warned] == errors
    assert all("urgent referral accepted without" in w["diagnostics"] for w in warned)
    stored = env.get(r.headers["Location"].split("/fhir/")[-1].rsplit("/_history", 1)[0])
    assert R.REFERRAL_PROFILE not in _profiles(stored)
