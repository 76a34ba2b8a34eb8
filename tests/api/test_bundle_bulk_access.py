"""The bulk-written creates of a transaction Bundle are checked against the caller's policy like
creates written one by one: a create outside the caller's reach makes the whole transaction 403
at its entry, nothing written (issue 2 with issue 5's access rules).  Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server.storage.ports import HistoryQuery
from tests.support.access_world import World, make_world

FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def _observation_entry(subject: str, text: str) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": text},
            "subject": {"reference": f"Patient/{subject}"},
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def _observation_versions(world: World) -> int:
    """Every stored Observation version (the setup repository sees everything)."""
    _records, total = world.repo.history(HistoryQuery("Observation", count=1))
    assert total is not None
    return total


def test_own_creates_are_written_in_bulk(world: World, bulk_calls: list[int]) -> None:
    before = _observation_versions(world)
    entries = [_observation_entry("a", f"bulk-own-{i}") for i in range(4)]
    r = world.client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers={**FHIR, **world.resident()},
    )
    assert r.status_code == 200, r.text
    assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created"] * 4
    assert bulk_calls == [4]
    assert _observation_versions(world) == before + 4
    for e in r.json()["entry"]:
        assert world.repo.read("Observation", e["resource"]["id"]).content == e["resource"]


def test_a_foreign_create_among_them_is_403_at_its_entry(
    world: World, bulk_calls: list[int]
) -> None:
    before = _observation_versions(world)
    entries = [_observation_entry("a", "bulk-mixed") for _ in range(4)]
    entries[2] = _observation_entry("b", "bulk-mixed")  # resident b is not the caller's
    r = world.client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers={**FHIR, **world.resident()},
    )
    assert r.status_code == 403, r.text
    issue = r.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[2]"]
    assert "outside what this caller may create" in issue["diagnostics"]
    assert bulk_calls == [4]  # written, checked, rolled back
    assert _observation_versions(world) == before
