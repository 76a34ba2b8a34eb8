"""Every official R4 example round-trips through update-as-create (issue 2's proof of base validation).

Each example of a supported type is PUT with its own id and must read back identical apart from
`meta` (versionId/lastUpdated are the server's).  The two Bundles larger than the request limit
are left out.  Runs on both databases.
"""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.support.r4_package import REFUSED_EXAMPLES, official_examples

FHIR = {"Content-Type": "application/fhir+json"}
LIMIT = 16 * 1024 * 1024


def _without_meta(resource: dict) -> dict:
    out = dict(resource)
    meta = dict(out.pop("meta", {}) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        out["meta"] = meta
    return out


def test_every_official_example_round_trips(client: TestClient) -> None:
    examples = official_examples()
    assert len(examples) >= 729
    failures = []
    skipped = 0
    round_tripped = 0
    for name, resource in examples:
        body = orjson.dumps(resource)
        if len(body) > LIMIT:
            skipped += 1
            continue
        rtype, rid = resource["resourceType"], resource.get("id")
        if rid is None:
            r = client.post(f"/fhir/{rtype}", content=body, headers=FHIR)
        else:
            r = client.put(f"/fhir/{rtype}/{rid}", content=body, headers=FHIR)
        if name in REFUSED_EXAMPLES:
            # The official examples that break R4's own rules must be refused, and not stored.
            if r.status_code != 422 or (
                rid and client.get(f"/fhir/{rtype}/{rid}").status_code != 404
            ):
                failures.append(
                    f"{name}: known invalid ({REFUSED_EXAMPLES[name]}) but got {r.status_code}"
                )
            continue
        if r.status_code not in (200, 201):
            failures.append(f"{name}: {r.status_code} {r.text[:300]}")
            continue
        stored = r.json()
        back = client.get(f"/fhir/{rtype}/{stored['id']}").json()
        expected = {**resource, "id": stored["id"]}
        if _without_meta(back) != _without_meta(expected):
            failures.append(f"{name}: read back differs")
        else:
            round_tripped += 1
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert skipped <= 2
    assert round_tripped == len(examples) - skipped - len(REFUSED_EXAMPLES)


def test_missing_package_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.r4_package import _unavailable

    monkeypatch.setenv("JIAYI_REQUIRE_PG", "1")
    with pytest.raises(pytest.fail.Exception, match="JIAYI_REQUIRE_PG=1"):
        _unavailable("npm is not installed")
    monkeypatch.delenv("JIAYI_REQUIRE_PG")
    with pytest.raises(pytest.skip.Exception):
        _unavailable("npm is not installed")
