"""The health-points ledger is append-only (profile jiayi-health-points-entry; issue 4, gap 10).

Pure rule table first, then the rule on the generic REST writes on both databases: an entry can be
created and re-sent unchanged, but not changed (422) nor deleted (405); other Basic resources are
untouched by the rule.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.domain.points import rules as R
from tests.api.conftest import make_settings

REPO = Path(__file__).resolve().parents[3]
ENTRY: dict[str, Any] = json.loads(
    (REPO / "profiles" / "examples" / "Basic-example-points-earned.json").read_text("utf-8")
)
OTHER: dict[str, Any] = {
    "resourceType": "Basic",
    "id": "note-1",
    "code": {"text": "a note"},
}


def _changed(resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out["created"] = "2026-05-20"
    return out


def _bare(resource: dict[str, Any]) -> dict[str, Any]:
    """The entry recognised by its ledger-account extension alone (no meta.profile claim)."""
    out = copy.deepcopy(resource)
    out.pop("meta", None)
    return out


CASES = [
    ("create an entry", ENTRY, None, None),
    ("re-send an entry unchanged", ENTRY, ENTRY, None),
    ("re-send with other meta only", {**ENTRY, "meta": {"versionId": "9"}}, ENTRY, None),
    ("change an entry", _changed(ENTRY), ENTRY, 422),
    ("change an entry without a profile claim", _changed(_bare(ENTRY)), _bare(ENTRY), 422),
    ("delete an entry", None, ENTRY, 405),
    ("turn a Basic into an entry", {**ENTRY, "id": "note-1"}, OTHER, 422),
    ("change another Basic", {**OTHER, "code": {"text": "b"}}, OTHER, None),
    ("delete another Basic", None, OTHER, None),
]


@pytest.mark.parametrize(
    ("label", "resource", "current", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_refusal(
    label: str, resource: dict[str, Any] | None, current: dict[str, Any] | None, status: int | None
) -> None:
    refused = R.refusal(resource, current)
    assert (refused[0] if refused else None) == status


FHIR = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url)
    with TestClient(create_app(settings, components=build_components(settings))) as c:
        yield c


def _entry_for_server() -> dict[str, Any]:
    # References to resources not on the server are accepted (lenient referential integrity).
    return copy.deepcopy(ENTRY)


def test_ledger_entry_is_immutable_over_rest(client: TestClient) -> None:
    entry = _entry_for_server()
    url = f"/fhir/Basic/{entry['id']}"
    created = client.put(url, json=entry, headers=FHIR)
    assert created.status_code == 201, created.text
    again = client.put(url, json=entry, headers=FHIR)
    assert again.status_code == 200, again.text

    changed = client.put(url, json=_changed(entry), headers=FHIR)
    assert changed.status_code == 422, changed.text
    issue = changed.json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["Basic"]
    assert "reversing entry" in issue["diagnostics"]

    patched = client.patch(
        url,
        json=[{"op": "replace", "path": "/created", "value": "2026-05-21"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 422, patched.text

    deleted = client.delete(url)
    assert deleted.status_code == 405, deleted.text
    assert deleted.json()["resourceType"] == "OperationOutcome"

    stored = client.get(url).json()
    assert stored["created"] == entry["created"]
    assert stored["meta"]["versionId"] == again.json()["meta"]["versionId"]  # nothing written since

    # A correction is a new entry reversing the first one.
    reversal = {
        **copy.deepcopy(entry),
        "id": "example-points-reversal",
        "extension": [
            entry["extension"][0],
            {
                "url": R.LEDGER_ACCOUNT.replace("points-ledger-account", "points-amount"),
                "valueInteger": -30,
            },
            {
                "url": "https://jiayi.health/fhir/StructureDefinition/points-source",
                "extension": [{"url": "reverses", "valueReference": {"reference": url[6:]}}],
            },
        ],
    }
    made = client.put(f"/fhir/Basic/{reversal['id']}", json=reversal, headers=FHIR)
    assert made.status_code == 201, made.text


def test_other_basic_resources_stay_writable(client: TestClient) -> None:
    url = f"/fhir/Basic/{OTHER['id']}"
    assert client.put(url, json=OTHER, headers=FHIR).status_code == 201
    assert client.put(url, json={**OTHER, "code": {"text": "b"}}, headers=FHIR).status_code == 200
    assert client.delete(url).status_code in (200, 204)
