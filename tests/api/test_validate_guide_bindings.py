"""The seed code systems bound to their profile elements (issue 4, brief F2 gap 1), on SQLite and
PostgreSQL: a wrong code is refused on write with 422 and an OperationOutcome whose `expression`
points at the bound element, nothing is stored; the right code is accepted.

* `primary-care-service` → `JiayiPrimaryCareTask.code` (required)
* `community-setting` → `JiayiLocation.type[setting]` (required; other `type` codings stay open)
* `publicity-day` → extension `publicity-day` on `JiayiHealthcareService` / `JiayiHealthPush` (required)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
CS = "https://jiayi.health/fhir/CodeSystem/"
EXAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "examples"
PUBLICITY_DAY = "https://jiayi.health/fhir/StructureDefinition/publicity-day"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    data.pop("id", None)
    return data


def _task(system: str, code: str) -> dict[str, Any]:
    task = _example("Task-example-home-medicine-delivery.json")
    task["code"] = {"coding": [{"system": CS + system, "code": code}]}
    return task


def _location(code: str) -> dict[str, Any]:
    loc = _example("Location-example-mobile-point.json")
    loc["type"] = [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PC"}]},
        {"coding": [{"system": CS + "community-setting", "code": code}]},
    ]
    return loc


def _notice(system: str, code: str) -> dict[str, Any]:
    notice = _example("HealthcareService-example-notice-xili.json")
    ext = [e for e in notice["extension"] if e["url"] != PUBLICITY_DAY]
    notice["extension"] = [
        *ext,
        {"url": PUBLICITY_DAY, "valueCoding": {"system": CS + system, "code": code}},
    ]
    return notice


def _push_with_day(system: str, code: str) -> dict[str, Any]:
    push = _example("Communication-example-push-bailu.json")
    push.setdefault("extension", []).append(
        {"url": PUBLICITY_DAY, "valueCoding": {"system": CS + system, "code": code}}
    )
    return push


# (resource, wrong → expression of the error, a code that belongs elsewhere in the guide)
WRONG: list[tuple[str, dict[str, Any], str]] = [
    ("task: a package item", _task("service-item", "kp-elderly-65.elderly-tcm"), "Task.code"),
    ("task: invented code", _task("primary-care-service", "massage"), "Task.code"),
    ("location: setting not defined", _location("hospital"), "Location.type[1]"),
    (
        "notice: a solar term as publicity day",
        _notice("solar-term", "qingming"),
        "HealthcareService.extension[3].valueCoding",
    ),
    (
        "push: a setting as publicity day",
        _push_with_day("community-setting", "school"),
        "Communication.extension[1].valueCoding",
    ),
]

RIGHT: list[tuple[str, dict[str, Any]]] = [
    ("task: family sickbed", _task("primary-care-service", "family-sickbed")),
    ("task: a five-ones part", _task("primary-care-service", "five-ones.weight-waist")),
    ("location: elderly-care institution", _location("elderly-care-institution")),
    ("notice: Chongyang", _notice("publicity-day", "chongyang")),
    ("push: Chinese Physicians' Day", _push_with_day("publicity-day", "chinese-physicians-day")),
]


def _count(client: TestClient, resource_type: str) -> int:
    bundle = client.get(f"/fhir/{resource_type}", params={"_count": "1000"}).json()
    return len(bundle.get("entry", []))


@pytest.mark.parametrize(("label", "resource", "expression"), WRONG, ids=[w[0] for w in WRONG])
def test_a_wrong_code_is_refused_at_the_bound_element(
    vclient: TestClient, label: str, resource: dict[str, Any], expression: str
) -> None:
    rtype = resource["resourceType"]
    before = _count(vclient, rtype)
    r = vclient.post(f"/fhir/{rtype}", content=json.dumps(resource), headers=FHIR)
    assert r.status_code == 422, r.text
    errors = [i for i in r.json()["issue"] if i["severity"] == "error"]
    assert errors, r.text
    assert {e["code"] for e in errors} == {"code-invalid"}
    assert expression in {x for e in errors for x in e["expression"]}, errors
    assert _count(vclient, rtype) == before  # nothing stored


@pytest.mark.parametrize(("label", "resource"), RIGHT, ids=[r[0] for r in RIGHT])
def test_the_right_code_is_accepted(
    vclient: TestClient, label: str, resource: dict[str, Any]
) -> None:
    rtype = resource["resourceType"]
    r = vclient.post(f"/fhir/{rtype}", content=json.dumps(resource), headers=FHIR)
    assert r.status_code == 201, r.text
    stored = vclient.get(f"/fhir/{rtype}/{r.json()['id']}").json()
    assert stored["meta"]["profile"] == resource["meta"]["profile"]


def test_validate_names_the_element_too(vclient: TestClient) -> None:
    """Type-level `$validate` reports the same issue without storing (R4 resource-operation-validate)."""
    wrong = copy.deepcopy(_location("school-bus"))
    r = vclient.post("/fhir/Location/$validate", content=json.dumps(wrong), headers=FHIR)
    assert r.status_code == 200, r.text
    errors = [i for i in r.json()["issue"] if i["severity"] == "error"]
    assert any("Location.type[1]" in e["expression"] for e in errors), errors
    assert any("community-setting" in e["diagnostics"] for e in errors)
