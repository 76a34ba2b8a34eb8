"""`$fulfillment` matches a delivered service by the activity's service-item code or by a
clinical code its ActivityDefinition names (issue 6), counting each service once: a record
with both codes once, an Observation taken at a counted Encounter not again.  SQLite and
PostgreSQL (the `database_url` fixture); the clock is frozen at 2026-01-05."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.contracting_support import (
    AD,
    CS,
    api,
    by_type,
    fulfilment,
    get,
    patient,
    provider,
    put,
    ref,
    signing,
)

__all__ = ["api"]  # the fixture
FU = "kp-hypertension.hypertension-management.follow-up"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
FOLLOW_UP = {"system": SNOMED, "code": "390906007", "display": "Follow-up encounter"}
BP_PANEL = {"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}
ITEM = {"system": CS + "service-item", "code": FU}
AMB = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}


def visit(eid: str, day: str, *codings: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": AMB,
        "subject": {"reference": "Patient/p"},
        "period": {"start": day},
        "type": [{"coding": list(codings)}],
    }


def blood_pressure(oid: str, day: str, encounter: str | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [BP_PANEL]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": day,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {
                    "value": 132,
                    "unit": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            }
        ],
    }
    if encounter:
        obs["encounter"] = {"reference": f"Encounter/{encounter}"}
    return obs


def test_a_clinically_coded_record_fulfils_the_activity_once(api: TestClient) -> None:
    definition = get(api, f"ActivityDefinition/{FU}")
    definition["code"]["coding"] += [FOLLOW_UP, BP_PANEL]  # the clinical codes of the item
    put(api, definition)
    provider(api)
    patient(api, "p", "1960-01-01", "male", "I10")
    bundle = signing(api, ref("subject", "Patient/p"), ref("careTeam", "CareTeam/team1"))
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    follow_up = next(a for a in plan["activity"] if a["detail"]["code"]["coding"][0] == ITEM)
    assert follow_up["detail"]["instantiatesCanonical"] == [AD + FU]
    path = f"Contract/{contract['id']}"
    assert fulfilment(api, path, "2027-01-04")[1][FU]["done"] == 0

    put(api, visit("snomed-only", "2026-03-01", FOLLOW_UP))  # clinical code only: counts
    put(api, visit("both", "2026-06-01", ITEM, FOLLOW_UP))  # both codes: counts once
    put(api, blood_pressure("bp-at-visit", "2026-06-01", encounter="both"))  # same visit
    put(api, blood_pressure("bp-alone", "2026-09-01"))  # the LOINC code alone: counts
    put(api, visit("other", "2026-10-01", {"system": SNOMED, "code": "185349003"}))  # not named
    acts = fulfilment(api, path, "2027-01-04")[1]
    assert acts[FU] == {"due": 4, "done": 3, "overdue": 1, "declined": 0}
    # by mid-year: the March visit, and the June visit with its blood pressure once
    assert fulfilment(api, path, "2026-07-04")[1][FU] == {
        "due": 2,
        "done": 2,
        "overdue": 0,
        "declined": 0,
    }
