"""`$validate` modes answer "would this write succeed?" (R4 resource-operation-validate.html; issue 4
gap 8): mode=delete checks incoming references under `--referential-integrity strict` and the
business rules of a delete; mode=update checks the version (`meta.versionId` as If-Match) and the
business rules; mode=create the references under strict.  Nothing is ever written by `$validate`.
Both databases."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from tests.api.conftest import make_settings

FHIR = {"Content-Type": "application/fhir+json"}
REPO = Path(__file__).resolve().parents[2]
ENTRY: dict[str, Any] = json.loads(
    (REPO / "profiles" / "examples" / "Basic-example-points-earned.json").read_text("utf-8")
)


def _client(database_url: str, integrity: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, referential_integrity=integrity)
    with TestClient(create_app(settings, components=build_components(settings))) as c:
        yield c


@pytest.fixture
def strict(database_url: str) -> Iterator[TestClient]:
    yield from _client(database_url, "strict")


@pytest.fixture
def lenient(database_url: str) -> Iterator[TestClient]:
    yield from _client(database_url, "lenient")


def _issues(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 200, r.text
    return [(i["severity"], i["code"]) for i in r.json()["issue"]]


def _errors(r: Any) -> list[dict[str, Any]]:
    return [i for i in r.json()["issue"] if i["severity"] in ("error", "fatal")]


def _patient_and_flag(c: TestClient) -> str:
    assert (
        c.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"}).status_code == 201
    )
    flag = {
        "resourceType": "Flag",
        "id": "f1",
        "status": "active",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
    }
    assert c.put("/fhir/Flag/f1", json=flag, headers=FHIR).status_code == 201
    return "/fhir/Patient/p1"


def test_delete_mode_strict_reports_incoming_references(strict: TestClient) -> None:
    url = _patient_and_flag(strict)
    r = strict.get(f"{url}/$validate?mode=delete")
    errors = _errors(r)
    assert [e["code"] for e in errors] == ["conflict"]
    assert "Flag/f1" in errors[0]["diagnostics"]
    # The real DELETE agrees, and nothing was deleted by $validate.
    assert strict.delete(url).status_code == 409
    assert strict.get(url).status_code == 200
    assert strict.delete("/fhir/Flag/f1").status_code in (200, 204)
    assert _issues(strict.get(f"{url}/$validate?mode=delete")) == [("information", "informational")]
    assert strict.delete(url).status_code in (200, 204)


def test_delete_mode_lenient_allows_dangling(lenient: TestClient) -> None:
    url = _patient_and_flag(lenient)
    assert _issues(lenient.get(f"{url}/$validate?mode=delete")) == [
        ("information", "informational")
    ]
    assert lenient.delete(url).status_code in (200, 204)


def test_delete_mode_runs_the_business_rules(lenient: TestClient) -> None:
    url = f"/fhir/Basic/{ENTRY['id']}"
    assert lenient.put(url, json=ENTRY, headers=FHIR).status_code == 201
    errors = _errors(lenient.get(f"{url}/$validate?mode=delete"))
    assert [e["code"] for e in errors] == ["not-supported"]
    assert "append-only" in errors[0]["diagnostics"]


def test_update_mode_checks_version_and_rules(lenient: TestClient) -> None:
    url = f"/fhir/Basic/{ENTRY['id']}"
    stored = lenient.put(url, json=ENTRY, headers=FHIR).json()
    same = copy.deepcopy(stored)
    ok = lenient.post(f"{url}/$validate?mode=update", json=same, headers=FHIR)
    assert _errors(ok) == []
    stale = {**copy.deepcopy(stored), "meta": {"versionId": "7"}}
    r = lenient.post(f"{url}/$validate?mode=update", json=stale, headers=FHIR)
    assert [e["code"] for e in _errors(r)] == ["conflict"]
    changed = {**copy.deepcopy(stored), "created": "2026-05-20"}
    r = lenient.post(f"{url}/$validate?mode=update", json=changed, headers=FHIR)
    assert [(e["code"], e["expression"]) for e in _errors(r)] == [("business-rule", ["Basic"])]
    # $validate wrote nothing.
    history = lenient.get(f"{url}/_history").json()
    assert history["total"] == 1 if "total" in history else len(history["entry"]) == 1
    assert lenient.get(url).json()["meta"]["versionId"] == stored["meta"]["versionId"]


def test_update_mode_of_an_absent_resource_says_it_would_be_created(lenient: TestClient) -> None:
    body = {"resourceType": "Patient", "id": "new-1"}
    r = lenient.post("/fhir/Patient/new-1/$validate?mode=update", json=body, headers=FHIR)
    assert ("information", "informational") in _issues(r) and _errors(r) == []
    assert "would be created" in json.dumps(r.json())
    assert lenient.get("/fhir/Patient/new-1").status_code == 404


def test_create_mode_strict_reports_dangling_references(strict: TestClient) -> None:
    flag = {
        "resourceType": "Flag",
        "status": "active",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/nobody"},
    }
    r = strict.post("/fhir/Flag/$validate", json=flag, headers=FHIR)
    errors = _errors(r)
    assert [(e["code"], e["expression"]) for e in errors] == [
        ("not-found", ["Flag.subject.reference"])
    ]
    assert strict.get("/fhir/Flag").json().get("total", 0) == 0
