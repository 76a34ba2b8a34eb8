"""Custom operations have an access policy (issue 5, gap 2), checked for HTTP requests and Bundle
entries alike: `$reindex` is for administrators, `$evaluate-measure` gives the health commission
aggregates without per-resident detail, and every other operation runs as its caller."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from fhir_server.conformance.packages import data_file  # noqa: F401 (package data present)
from fhir_server.operations.access import aggregate_only, names_individual
from tests.support.access_world import World, make_world

MEASURE_URL = "/fhir/Measure/push-compliance/$evaluate-measure"
PERIOD = {"periodStart": "2026-01-01", "periodEnd": "2026-12-31"}


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    from fhir_server.conformance.ig import load_ig_resources

    for w in make_world(database_url):
        measure = next(
            r
            for r in load_ig_resources()
            if r["resourceType"] == "Measure" and r["id"] == "push-compliance"
        )
        w.repo.update("Measure", measure["id"], measure)
        yield w


def _commission(world: World) -> dict[str, str]:
    return world.headers("user/*.rs", kind="user", role="commission", fhir_user="Practitioner/d2")


def _system(world: World, scope: str) -> dict[str, str]:
    return world.headers(scope, kind="system", subject="svc", client_id="svc")


def test_reindex_is_for_administrators(world: World) -> None:
    client = world.client
    for headers in (
        world.resident(),
        world.doctor(),
        _commission(world),
        _system(world, "system/*.rs"),
    ):
        r = client.post("/fhir/$reindex", json={"resourceType": "Parameters"}, headers=headers)
        assert r.status_code == 403, r.text
        assert r.json()["issue"][0]["code"] == "forbidden"
        typed = client.post("/fhir/Patient/$reindex", headers=headers)
        assert typed.status_code == 403
    ok = client.post("/fhir/$reindex", json={"resourceType": "Parameters"}, headers=world.admin())
    assert ok.status_code == 200, ok.text
    backend = _system(world, "system/*.cruds")
    assert client.post("/fhir/Patient/$reindex", headers=backend).status_code == 200


def test_reindex_inside_a_batch_is_checked_too(world: World) -> None:
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "POST", "url": "$reindex"}, "resource": {"resourceType": "Parameters"}},
            {"request": {"method": "GET", "url": "Patient/a"}},
        ],
    }  # fmt: skip
    r = world.client.post("/fhir", json=batch, headers=world.resident())
    assert r.status_code == 200
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["403", "200"]
    transaction = {**batch, "type": "transaction", "entry": batch["entry"][:1]}
    assert world.client.post("/fhir", json=transaction, headers=world.resident()).status_code == 403


def test_commission_gets_aggregates_only(world: World) -> None:
    client = world.client
    r = client.get(MEASURE_URL, params=PERIOD, headers=_commission(world))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["resourceType"] == "MeasureReport" and report["type"] == "summary"
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts["initial-population"] == 1  # resident a holds the one contract in force
    text = json.dumps(report)
    assert "Patient/" not in text and "contained" not in report and "#" not in text
    # as the system it saw everything, but the answer names nobody
    named = client.get(
        MEASURE_URL, params={**PERIOD, "subject": "Patient/a"}, headers=_commission(world)
    )
    assert named.status_code == 403
    assert named.json()["issue"][0]["expression"] == ["subject"]
    # the commission still cannot read a record directly
    assert client.get("/fhir/Patient/a", headers=_commission(world)).status_code == 403


def test_other_callers_run_the_measure_as_themselves(world: World) -> None:
    r = world.client.get(MEASURE_URL, params=PERIOD, headers=world.doctor())
    assert r.status_code == 200, r.text
    # the doctor sees their contracted resident by name in the shortfall list
    assert "Patient/a" in json.dumps(r.json())
    resident_b = world.headers(
        "patient/*.rs", kind="patient", role="resident", fhir_user="Patient/b", patient="b"
    )
    other = world.client.get(MEASURE_URL, params=PERIOD, headers=resident_b).json()
    assert "Patient/a" not in json.dumps(other)


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"subject": ["Patient/a"]}, "subject"),
        ({"subject": ["CareTeam/t1"], "x": [{"reference": "RelatedPerson/r"}]}, "x"),
        ({"subject": ["440100"]}, None),
        ({"subject": ["http://example.org/fhir/Patient/9"]}, "subject"),
    ],
)
def test_names_individual(values: dict, expected: str | None) -> None:
    assert names_individual(values) == expected


def test_aggregate_only_strips_individuals() -> None:
    report = {
        "resourceType": "MeasureReport",
        "text": {"div": "<div>Patient/a</div>"},
        "contained": [{"resourceType": "List", "id": "shortfall"}],
        "subject": {"reference": "Patient/a"},
        "group": [
            {
                "extension": [{"url": "x", "valueReference": {"reference": "#shortfall"}}],
                "population": [
                    {"count": 3, "subjectResults": {"reference": "#list"}},
                    {"count": 1},
                ],
            }
        ],
        "evaluatedResource": [{"reference": "Observation/1"}],
    }
    assert aggregate_only(report) == {
        "resourceType": "MeasureReport",
        "group": [{"population": [{"count": 3}, {"count": 1}]}],
    }
