"""Transaction Bundles write consecutive plain creates in one bulk write (issue 2), flushed before
any entry that reads or changes stored resources: the responses, the order, placeholder and
conditional-reference resolution, atomicity, history and outbox rows are those of writing entry by
entry.  Both databases."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fhir_server.app import build_components, create_app
from fhir_server.interactions import bundle as bundle_module
from fhir_server.outbox.tables import outbox_event
from fhir_server.outbox.writer import OutboxConsumer, OutboxWriter
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.bulk_write import _KINDS
from fhir_server.storage.sql.tables import resource_history
from tests.api.conftest import make_settings
from tests.outbox.harness import outbox_database

FHIR = {"Content-Type": "application/fhir+json"}
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)$")


def post_transaction(client: TestClient, entries: list[dict[str, Any]]) -> Any:
    return client.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=FHIR,
    )


def patient_entry(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        "resource": {"resourceType": "Patient", "name": [{"family": f"王{i}"}], **extra},
        "request": {"method": "POST", "url": "Patient"},
    }


def index_rows(database_url: str, resource_type: str, rid: str) -> list[tuple[Any, ...]]:
    """Every search-index row of Type/id, without its own type and id and the `_lastUpdated`
    ones (the instant differs), sorted."""
    db = SqlDatabase(database_url)
    try:
        out: list[tuple[Any, ...]] = []
        with db.engine.connect() as conn:
            for kind, (table, names) in _KINDS.items():
                if kind == "contained":
                    continue
                rows = conn.execute(
                    select(*[table.c[n] for n in names]).where(
                        table.c.res_type == resource_type, table.c.res_id == rid
                    )
                )
                out += [(kind, *(str(v) for v in row)) for row in rows if row[0] != "_lastUpdated"]
        return sorted(out)
    finally:
        db.dispose()


def _mixed(prefix: str) -> list[dict[str, Any]]:
    ident = {"system": "urn:test:bulk", "value": prefix}
    return [
        {"request": {"method": "GET", "url": f"Patient/{prefix}put"}},
        patient_entry(1, identifier=[ident]),
        patient_entry(2),
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000099",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "weight"},
                "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
                "performer": [{"reference": f"Patient?identifier=urn:test:bulk|{prefix}"}],
            },
            "request": {"method": "POST", "url": "Observation"},
        },
        {
            "resource": {"resourceType": "Patient", "identifier": [ident]},
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier=urn:test:bulk|{prefix}-other",
            },
        },
        patient_entry(3),
        {
            "resource": {"resourceType": "Patient", "id": f"{prefix}put", "active": True},
            "request": {"method": "PUT", "url": f"Patient/{prefix}put"},
        },
        patient_entry(4),
    ]


def _normal(value: Any, prefix: str) -> Any:
    """Ids made from `prefix` and instants replaced, so two runs compare equal."""
    if isinstance(value, dict):
        return {k: _normal(v, prefix) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, prefix) for v in value]
    if isinstance(value, str):
        return "<instant>" if INSTANT.match(value) else value.replace(prefix, "<id>")
    return value


def _run(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, prefix: str, bulk: bool
) -> dict[str, Any]:
    counter = itertools.count(1)
    monkeypatch.setattr(bundle_module, "new_id", lambda: f"{prefix}{next(counter)}")
    if not bulk:
        monkeypatch.setattr(FhirRepository, "defers_creates", lambda self, t: False)
    r = post_transaction(client, _mixed(prefix))
    monkeypatch.undo()
    assert r.status_code == 200, r.text
    body = r.json()
    for entry in body["entry"]:
        resource, response = entry.get("resource"), entry["response"]
        if resource is not None and "lastModified" in response:
            assert response["lastModified"] == resource["meta"]["lastUpdated"]
    return body


def test_mixed_transaction_answers_as_entry_by_entry(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _run(client, monkeypatch, "one", bulk=False)
    after = _run(client, monkeypatch, "two", bulk=True)
    assert _normal(after, "two") == _normal(before, "one")
    statuses = [e["response"]["status"] for e in after["entry"]]
    assert statuses == [
        "200 OK",  # the GET runs last, after the PUT created the Patient
        "201 Created",
        "201 Created",
        "201 Created",
        "201 Created",
        "201 Created",
        "201 Created",
        "201 Created",
    ]
    obs = client.get("/fhir/Observation/two3").json()
    assert obs["subject"] == {"reference": "Patient/two1"}
    assert obs["performer"] == [{"reference": "Patient/two1"}]  # found by the conditional


def test_hundred_creates_one_bulk_write(
    client: TestClient, database_url: str, bulk_calls: list[int]
) -> None:
    r = post_transaction(client, [patient_entry(i) for i in range(100)])
    assert r.status_code == 200, r.text
    entries = r.json()["entry"]
    assert bulk_calls == [100]
    assert len(entries) == 100
    for entry in entries:
        resp, res = entry["response"], entry["resource"]
        assert resp["status"] == "201 Created"
        assert resp["etag"] == 'W/"1"'
        assert resp["location"] == f"http://testserver/fhir/Patient/{res['id']}/_history/1"
        assert resp["lastModified"] == res["meta"]["lastUpdated"]
        assert client.get(f"/fhir/Patient/{res['id']}").json() == res
        history = client.get(f"/fhir/Patient/{res['id']}/_history").json()
        assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["1"]
    # the search-index rows are those of the same Patient created on its own
    alone = client.post("/fhir/Patient", json=patient_entry(57)["resource"], headers=FHIR).json()
    bulk = index_rows(database_url, "Patient", entries[57]["resource"]["id"])
    assert ("string", "name", "w57", "王57", "None") in bulk
    assert bulk == index_rows(database_url, "Patient", alone["id"])


def test_an_invalid_entry_57_of_100_leaves_nothing(
    client: TestClient, bulk_calls: list[int]
) -> None:
    total = client.get("/fhir/_history").json()["total"]
    entries = [patient_entry(i) for i in range(100)]
    entries[57]["resource"]["gender"] = "sometimes"
    r = post_transaction(client, entries)
    assert r.status_code in (400, 422), r.text
    issues = r.json()["issue"]
    assert issues[0]["expression"][0].startswith("Bundle.entry[57].resource.gender")
    assert bulk_calls == []  # nothing was written before the failure
    assert client.get("/fhir/_history").json()["total"] == total


def test_a_failure_after_the_bulk_write_rolls_it_back(
    client: TestClient, bulk_calls: list[int]
) -> None:
    total = client.get("/fhir/_history").json()["total"]
    entries = [patient_entry(i) for i in range(100)]
    entries.append(
        {
            "resource": {"resourceType": "Patient", "id": "bulk-if-match"},
            "request": {"method": "PUT", "url": "Patient/bulk-if-match", "ifMatch": 'W/"3"'},
        }
    )
    r = post_transaction(client, entries)
    assert r.status_code == 412, r.text
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[100]"]
    assert bulk_calls == [100]  # written, then rolled back
    assert client.get("/fhir/_history").json()["total"] == total


def test_references_between_new_entries_resolve(
    client: TestClient, database_url: str, bulk_calls: list[int]
) -> None:
    entries = [patient_entry(i) for i in range(3)]
    entries += [
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": f"bp {i}"},
                "subject": {"reference": f"urn:uuid:00000000-0000-4000-8000-{i:012d}"},
            },
            "request": {"method": "POST", "url": "Observation"},
        }
        for i in range(3)
    ]
    r = post_transaction(client, entries)
    assert r.status_code == 200, r.text
    assert bulk_calls == [6]
    out = r.json()["entry"]
    for i in range(3):
        pid = out[i]["resource"]["id"]
        assert out[3 + i]["resource"]["subject"] == {"reference": f"Patient/{pid}"}
        rows = index_rows(database_url, "Observation", out[3 + i]["resource"]["id"])
        assert ("reference", "subject", "Patient", pid, "None", "None") in rows


@pytest.fixture
def strict_client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, referential_integrity="strict")
    app = create_app(settings, components=build_components(settings))
    with TestClient(app) as c:
        yield c


def test_strict_references_to_pending_creates_see_them_written(
    strict_client: TestClient, bulk_calls: list[int]
) -> None:
    entries = [patient_entry(i) for i in range(3)]
    entries.append(
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "bp"},
                "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"},
            },
            "request": {"method": "POST", "url": "Observation"},
        }
    )
    entries.append(
        patient_entry(9, link=[{"other": {"reference": "Patient/nowhere"}, "type": "seealso"}])
    )
    r = post_transaction(strict_client, entries)
    assert r.status_code == 422, r.text
    assert r.json()["issue"][0]["expression"] == [
        "Bundle.entry[4].resource.link[0].other.reference"
    ]
    assert bulk_calls == [3]  # flushed so the Observation's reference could be checked
    assert strict_client.get("/fhir/_history").json()["total"] == 0
    r = post_transaction(strict_client, entries[:4])
    assert r.status_code == 200, r.text


def test_outbox_and_history_rows_for_each(database_url: str, bulk_calls: list[int]) -> None:
    writer = OutboxWriter([OutboxConsumer("platform", frozenset({"Patient"}))])
    db: SqlDatabase = outbox_database(database_url, writer)
    try:
        settings = make_settings(database_url)
        app = create_app(settings, components=build_components(settings, database=db))
        with TestClient(app) as client:
            r = post_transaction(client, [patient_entry(i) for i in range(20)])
            assert r.status_code == 200, r.text
        ids = sorted(e["resource"]["id"] for e in r.json()["entry"])
        assert bulk_calls == [20]
        with db.engine.connect() as conn:
            events = conn.execute(
                select(outbox_event.c.res_id, outbox_event.c.version_id, outbox_event.c.method)
                .where(outbox_event.c.res_type == "Patient")
                .order_by(outbox_event.c.res_id)
            ).all()
            history = conn.execute(
                select(func.count())
                .select_from(resource_history)
                .where(resource_history.c.res_id.in_(ids))
            ).scalar_one()
        assert [tuple(e) for e in events] == [(i, 1, "POST") for i in ids]
        assert history == 20
    finally:
        db.dispose()
