"""`FhirRepository.put_new_many`: update-as-create of many new resources at once (the demo's bulk
path) writes what `update` would — version 1, history, search index, outbox — and refuses as a
whole: an id with a row already (409), an invalid resource (its validation error); both
databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.core import errors as E
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import BASE


def _repo(client: TestClient) -> FhirRepository:
    components = client.app.state.components  # type: ignore[attr-defined]
    return FhirRepository(RequestContext(BASE, system_name="test"), components)


def _patient(rid: str, family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid, "name": [{"family": family}]}


FAMILIES = ["Zhou", "Qian", "Sun"]


def test_many_new_resources_are_written_as_updates_would(
    client: TestClient, bulk_calls: list[int]
) -> None:
    repo = _repo(client)
    with repo.transaction() as tx:
        written = tx.put_new_many([_patient(f"pn-{i}", f) for i, f in enumerate(FAMILIES)])
    assert bulk_calls == [3]
    assert [(r.id, r.version_id) for r in written] == [("pn-0", 1), ("pn-1", 1), ("pn-2", 1)]
    for i in range(3):
        body = client.get(f"/fhir/Patient/pn-{i}").json()
        assert body["meta"]["versionId"] == "1" and body["name"][0]["family"] == FAMILIES[i]
    found = client.get("/fhir/Patient", params={"family": "qian"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["pn-1"]
    history = client.get("/fhir/Patient/pn-2/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["1"]


def test_an_existing_id_refuses_the_whole_batch(client: TestClient) -> None:
    repo = _repo(client)
    assert client.put("/fhir/Patient/pn-old", json=_patient("pn-old", "Old")).status_code == 201
    assert client.delete("/fhir/Patient/pn-old").status_code in (200, 204)
    with pytest.raises(E.FhirError) as raised, repo.transaction() as tx:
        tx.put_new_many([_patient("pn-a", "A"), _patient("pn-old", "Again")])
    assert raised.value.status == 409  # even a deleted one has its row (and history)
    assert client.get("/fhir/Patient/pn-a").status_code == 404


def test_an_invalid_resource_refuses_the_whole_batch(client: TestClient) -> None:
    repo = _repo(client)
    bad = {"resourceType": "Patient", "id": "pn-bad", "gender": "sometimes"}
    with pytest.raises(E.FhirError) as raised, repo.transaction() as tx:
        tx.put_new_many([_patient("pn-b", "B"), bad])
    assert raised.value.status in (400, 422)
    assert any("gender" in e for i in raised.value.issues for e in i.expression)
    assert client.get("/fhir/Patient/pn-b").status_code == 404
