"""`Measure/family-doctors-per-10000/$evaluate-measure` (issue 4, brief F2 gap 2) on SQLite and
PostgreSQL: doctors per 10 000 residents of a GB/T 2260 area or an institution, from the stored
PractitionerRoles, family-doctor CareTeams, Organizations and Patients, with the census group for
the province and its cities."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.conformance.ig import load_ig_resources

FHIR = {"Content-Type": "application/fhir+json"}
URL = "/fhir/Measure/family-doctors-per-10000/$evaluate-measure"
DIVISION = "https://jiayi.health/fhir/StructureDefinition/division-code"
ROLE = "https://jiayi.health/fhir/CodeSystem/care-team-role"
GUANGZHOU_2020 = 18676605
GUANGDONG_2020 = 126012510


def _put(client: TestClient, resource: dict[str, Any]) -> None:
    url = f"/fhir/{resource['resourceType']}/{resource['id']}"
    r = client.put(url, content=json.dumps(resource), headers=FHIR)
    assert r.status_code in (200, 201), r.text


def _address(division: str, use: str | None = None) -> dict[str, Any]:
    addr: dict[str, Any] = {"extension": [{"url": DIVISION, "valueCode": division}]}
    if use:
        addr["use"] = use
    return addr


def _org(oid: str, division: str) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": oid, "name": oid, "address": [_address(division)]}


def _role(
    rid: str, doctor: str, org: str, code: str, period: dict[str, str] | None = None
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": rid,
        "active": True,
        "practitioner": {"reference": f"Practitioner/{doctor}"},
        "organization": {"reference": f"Organization/{org}"},
        "code": [{"coding": [{"system": ROLE, "code": code}]}],
    }
    if period:
        role["period"] = period
    return role


def _team(tid: str, org: str, members: list[str], status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": tid,
        "status": status,
        "category": [{"coding": [{"system": "http://loinc.org", "code": "LA28865-6"}]}],
        "managingOrganization": [{"reference": f"Organization/{org}"}],
        "participant": [{"member": {"reference": m}} for m in members],
    }


def _patient(pid: str, *addresses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "address": list(addresses), **extra}


@pytest.fixture
def world(client: TestClient) -> Iterator[TestClient]:
    measure = next(
        r
        for r in load_ig_resources()
        if r["resourceType"] == "Measure" and r["id"] == "family-doctors-per-10000"
    )
    _put(client, measure)
    for oid, division in (("panyu-a", "440113"), ("luohu-b", "440303"), ("panyu-c", "440113")):
        _put(client, _org(oid, division))
    for i in range(1, 8):
        _put(client, {"resourceType": "Practitioner", "id": f"d{i}"})
    roles = [
        _role("r1", "d1", "panyu-a", "general-practitioner"),
        _role("r2", "d2", "panyu-a", "sinking-doctor"),
        _role("r3", "d3", "panyu-a", "nurse"),  # a team member, not a doctor
        _role("r4", "d4", "luohu-b", "general-practitioner"),
        _role("r5", "d5", "panyu-a", "general-practitioner", {"end": "2025-06-30"}),
        _role("r6", "d1", "panyu-a", "specialist"),  # d1 again: counted once
        _role("r7", "d6", "panyu-c", "general-practitioner"),  # only in an inactive team
        _role("r8", "d7", "panyu-a", "village-doctor"),  # member as Practitioner
    ]
    for role in roles:
        _put(client, role)
    members = [f"PractitionerRole/r{i}" for i in (1, 2, 3, 5, 6)] + ["Practitioner/d7"]
    _put(client, _team("t1", "panyu-a", members))
    _put(client, _team("t2", "luohu-b", ["PractitionerRole/r4"]))
    _put(client, _team("t3", "panyu-c", ["PractitionerRole/r7"], status="inactive"))
    patients = [
        _patient("p1", _address("440113", "home")),
        _patient("p2", _address("440113")),
        _patient("p3", _address("440113"), deceasedDateTime="2026-03-01"),
        _patient("p4", _address("440303")),
        _patient("p5", _address("440303"), _address("440113", "work")),
        _patient("p6", _address("440106")),
        _patient("p7", _address("440106"), active=False),
    ]
    for patient in patients:
        _put(client, patient)
    yield client


def _evaluate(client: TestClient, **params: str) -> dict[str, Any]:
    query = {"periodStart": "2026-01-01", "periodEnd": "2026-12-31", **params}
    r = client.get(URL, params=query)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    assert report["resourceType"] == "MeasureReport"
    assert report["measure"] == "https://jiayi.health/fhir/Measure/family-doctors-per-10000"
    return report


def _groups(report: dict[str, Any]) -> dict[str, tuple[int, int | None, float | None]]:
    out: dict[str, tuple[int, int | None, float | None]] = {}
    for g in report["group"]:
        counts = {p["code"]["coding"][0]["code"]: p.get("count") for p in g["population"]}
        out[g["id"]] = (
            counts["numerator"],
            counts["denominator"],
            g.get("measureScore", {}).get("value"),
        )
    return out


def test_a_district(world: TestClient) -> None:
    report = _evaluate(world, subject="440113")
    # d1 (two roles), d2 (sinking doctor), d7 (member as Practitioner); not the nurse d3, the
    # expired d5, d6 of an inactive team.  Residents: p1, p2 (p3 died, p5 only works there).
    assert _groups(report) == {"registered": (3, 2, 15000.0)}  # no census figure for a district
    assert report["subject"]["identifier"]["value"] == "440113"
    assert report["period"] == {"start": "2026-01-01", "end": "2026-12-31"}


def test_a_city_covers_its_districts_and_has_the_census(world: TestClient) -> None:
    groups = _groups(_evaluate(world, subject="440100"))
    assert groups["registered"] == (3, 3, 10000.0)  # p1, p2, p6 (p7 inactive)
    assert groups["census"][:2] == (3, GUANGZHOU_2020)
    assert groups["census"][2] == round(3 * 10000 / GUANGZHOU_2020, 2)


def test_the_province_by_default(world: TestClient) -> None:
    groups = _groups(_evaluate(world))
    assert groups["registered"] == (4, 5, 8000.0)
    assert groups["census"][:2] == (4, GUANGDONG_2020)


def test_an_institution_as_reporter(world: TestClient) -> None:
    report = _evaluate(world, reporter="Organization/luohu-b")
    assert _groups(report) == {"registered": (1, 2, 5000.0)}  # d4 over p4, p5 (Luohu)
    assert report["reporter"] == {"reference": "Organization/luohu-b"}


def test_counted_on_the_period_end(world: TestClient) -> None:
    """On 2025-01-01 d5's role had not ended yet; p3 was alive."""
    report = _evaluate(world, subject="440113", periodStart="2024-01-01", periodEnd="2025-01-01")
    assert _groups(report) == {"registered": (4, 3, 13333.33)}


def test_no_residents_no_score(world: TestClient) -> None:
    groups = _groups(_evaluate(world, subject="440104"))  # 越秀区: nobody stored
    assert groups == {"registered": (0, 0, None)}


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"subject": "110105"}, "subject"),  # Beijing: not a Guangdong division
        ({"subject": "Patient/p1"}, "subject"),
        ({"subject": "440113", "reporter": "440100"}, "reporter"),
        ({"periodEnd": "2025-12-31"}, "periodEnd"),
        ({"reportType": "subject-list"}, "reportType"),
    ],
)
def test_bad_parameters_are_400_at_the_parameter(
    world: TestClient, params: dict[str, str], expression: str
) -> None:
    query = {"periodStart": "2026-01-01", "periodEnd": "2026-12-31", **params}
    r = world.get(URL, params=query)
    assert r.status_code == 400, r.text
    issue = r.json()["issue"][0]
    assert issue["severity"] == "error"
    assert expression in issue.get("expression", []), issue


def test_push_compliance_keeps_its_own_evaluate_measure(world: TestClient) -> None:
    """Both measures answer `$evaluate-measure`: the instance decides which runs."""
    r = world.get(
        "/fhir/Measure/push-compliance/$evaluate-measure",
        params={"periodStart": "2026-01-01", "periodEnd": "2026-12-31"},
    )
    assert r.status_code == 404  # not stored here: push-compliance's own handler reads it
    assert "push-compliance" in r.text
    cap = world.get("/fhir/metadata").json()
    measure = next(res for res in cap["rest"][0]["resource"] if res["type"] == "Measure")
    definitions = {o["definition"] for o in measure["operation"] if o["name"] == "evaluate-measure"}
    assert (
        "https://jiayi.health/fhir/OperationDefinition/family-doctors-evaluate-measure"
        in definitions
    )
    assert (
        "https://jiayi.health/fhir/OperationDefinition/push-compliance-evaluate-measure"
        in definitions
    )
