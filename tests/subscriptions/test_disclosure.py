"""Subscription notifications are disclosures (issue 5): a resident's Consent refusing
disclosure to the subscriber's Organization keeps their events out of its notifications (not
numbered, not sent — other residents' still are; a Consent about `access` only still stops
nothing a read would show), and every notification, delivered or failed, leaves an AuditEvent
(DICOM Export, the subscriber as destination, the residents concerned).  Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.subscriptions.test_subscriptions import RECORD, Clock, Hook, _integrations, subscription
from tests.support.access_world import World, make_world

DCM = "http://dicom.nema.org/resources/ontology/DCM"
CLIENT = "https://jiayi.health/fhir/sid/client-id"
PT = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def _refuse_disclosure(world: World, patient: str, organization: str) -> None:
    world.repo.update(
        "Consent",
        f"no-{organization}-{patient}",
        {
            "resourceType": "Consent",
            "id": f"no-{organization}-{patient}",
            "status": "active",
            "scope": {"coding": [{"code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "policyRule": {"coding": [{"system": ACT, "code": "OPTIN"}]},
            "provision": {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "action": [{"coding": [{"code": "disclose"}]}],
                        "actor": [
                            {
                                "role": {"coding": [{"system": PT, "code": "PRCP"}]},
                                "reference": {"reference": f"Organization/{organization}"},
                            }
                        ],
                    }
                ],
            },
        },
    )


def _observation(world: World, patient: str) -> str:
    created = world.repo.create(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": f"bp of {patient}"},
            "subject": {"reference": f"Patient/{patient}"},
        },
    )
    return str(created.record.id)


def _setup(world: World, hook: Hook, organization: str, content: str = "full-resource") -> Any:
    components = world.client.app.state.components  # type: ignore[attr-defined]
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    clock = Clock()
    clock.at = datetime.now(UTC)
    manager = _integrations(components, settings, hook, clock).subscriptions
    feed = world.headers(
        "system/Subscription.cruds system/Observation.rs",
        kind="system",
        client_id="hosp-feed",
        organization=organization,
    )
    r = world.client.post(
        "/fhir/Subscription", json=subscription(content, topic=RECORD), headers=feed
    )
    assert r.status_code == 201, r.text
    manager.run_once()
    return manager, r.json()["id"]


def _focus_patients(hook: Hook) -> list[str]:
    out = []
    for note in hook.notifications():
        for e in note["entry"][1:]:
            out.append(e["resource"]["subject"]["reference"])
    return out


def test_a_refused_disclosure_is_not_notified(world: World) -> None:
    hook = Hook()
    manager, _sid = _setup(world, hook, "hosp")
    _refuse_disclosure(world, "a", "hosp")
    _refuse_disclosure(world, "b", "elsewhere")  # refuses someone else: changes nothing here
    _observation(world, "a")
    _observation(world, "b")
    manager.run_once()
    assert _focus_patients(hook) == ["Patient/b"]
    assert hook.numbers() == [1]  # a's event was not numbered either
    # reads are not disclosures: the same client still reads a's record
    feed = world.headers("system/Observation.rs", kind="system", client_id="hosp-feed",
                         organization="hosp")  # fmt: skip
    assert world.client.get("/fhir/Observation/oa", headers=feed).status_code == 200


def test_notifications_are_audited_as_disclosures(world: World) -> None:
    hook = Hook()
    manager, sid = _setup(world, hook, "hosp", content="id-only")
    obs = _observation(world, "b")
    manager.run_once()
    hook.up = False
    failed = _observation(world, "a")
    manager.run_once()
    components = world.client.app.state.components  # type: ignore[attr-defined]
    components.audit.close()  # flush
    auditor = world.headers(
        "user/AuditEvent.rs", kind="user", role="auditor", fhir_user="Practitioner/aud"
    )
    r = world.client.get(
        "/fhir/AuditEvent", params={"type": f"{DCM}|110106", "_count": "50"}, headers=auditor
    )
    assert r.status_code == 200, r.text
    events = [e["resource"] for e in r.json().get("entry", [])]
    mine = [e for e in events if f"Subscription/{sid} " in e["outcomeDesc"]]
    by_outcome = {e["outcome"]: e for e in mine}
    assert sorted(by_outcome) == ["0", "8"] and len(mine) == 2, [e["outcomeDesc"] for e in mine]
    ok = by_outcome["0"]
    assert ok["action"] == "R" and ok["type"]["code"] == "110106"
    assert ok["subtype"][0]["code"] == "subscription-notification"
    refs = {x["what"]["reference"] for x in ok["entity"]}
    assert {f"Observation/{obs}", "Patient/b"} <= refs and "Patient/a" not in refs
    source, destination, *rest = ok["agent"]
    assert source["requestor"] is True and source["type"]["coding"][0]["code"] == "110153"
    assert destination["who"] == {"reference": "Organization/hosp"}
    assert destination["network"] == {"address": "https://receiver.test/hook", "type": "5"}
    assert {"who": {"identifier": {"system": CLIENT, "value": "hosp-feed"},
                    "display": "client hosp-feed"}, "requestor": False} in rest  # fmt: skip
    bad = {x["what"]["reference"] for x in by_outcome["8"]["entity"]}
    assert {f"Observation/{failed}", "Patient/a"} <= bad
    # searchable by the resident concerned
    about_b = world.client.get(
        "/fhir/AuditEvent", params={"type": f"{DCM}|110106", "entity": "Patient/b"}, headers=auditor
    ).json()
    assert any(f"Subscription/{sid} " in e["resource"]["outcomeDesc"]
               for e in about_b.get("entry", []))  # fmt: skip
