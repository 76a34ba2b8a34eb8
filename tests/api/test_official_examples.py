"""Every official R4 example round-trips through update-as-create (issue 2's proof of base validation).

Each example of a supported type is PUT with its own id and must read back identical apart from
`meta` (versionId/lastUpdated are the server's).  The two Bundles larger than the request limit
are left out.  Runs on both databases.

The full validation pipeline is deterministic in the body (it reads no database), and nine tenths
of this test's time is that pipeline on the core spec's multi-megabyte definition Bundles.  So the
server's own validator is wrapped in a memo: the first backend a worker runs computes every
verdict, the second reuses the verdict for the identical body and proves what differs per
database — the write path, the stored JSON and the read back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app, full_validator
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue
from tests.api.conftest import make_settings
from tests.support.r4_package import REFUSED_EXAMPLES, official_examples

FHIR = {"Content-Type": "application/fhir+json"}
LIMIT = 16 * 1024 * 1024

# Official examples valid under R4 that a documented rule of this server refuses (file → rule):
# base validation accepts them (asserted below), the Subscription rule answers 422 (JY-SUB-422),
# `not-supported` for the criteria.
REFUSED_BY_SERVER_RULES = {
    "Subscription-example.json": "criteria is an R4 query, not one of the server's "
    "SubscriptionTopics (Subscriptions follow the R4B Backport IG, README 'Subscriptions')",
    "Subscription-example-error.json": "criteria is an R4 query, not one of the server's "
    "SubscriptionTopics; and status 'error' is the server's to set",
}


class _MemoValidator:
    """The server's full validator, remembering its verdict per exact body."""

    def __init__(self) -> None:
        self.inner = full_validator(R4Definitions.load())
        self.profiles = self.inner.profiles
        self.verdicts: dict[bytes, list[Issue]] = {}

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        if profiles:
            return self.inner.validate(resource, profiles)
        key = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
        if key not in self.verdicts:
            self.verdicts[key] = self.inner.validate(resource)
        return list(self.verdicts[key])


_VALIDATOR: list[_MemoValidator] = []


def _validator() -> _MemoValidator:
    if not _VALIDATOR:
        _VALIDATOR.append(_MemoValidator())
    return _VALIDATOR[0]


def _message_id(issue: dict[str, Any]) -> str | None:
    codings = (issue.get("details") or {}).get("coding") or [{}]
    return codings[0].get("code")


@pytest.fixture
def examples_client(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url)
    components = build_components(settings, validator=_validator())  # type: ignore[arg-type]
    with TestClient(create_app(settings, components=components)) as client:
        yield client


def _without_meta(resource: dict) -> dict:
    out = dict(resource)
    meta = dict(out.pop("meta", {}) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        out["meta"] = meta
    return out


def test_every_official_example_round_trips(examples_client: TestClient) -> None:
    client = examples_client
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
        if name in REFUSED_BY_SERVER_RULES:
            base = [i for i in _validator().validate(resource) if i.is_error]
            issues = r.json().get("issue", []) if r.status_code == 422 else []
            if (
                base
                or not issues
                or not any(i.get("code") == "not-supported" for i in issues)
                or any(_message_id(i) != "JY-SUB-422" for i in issues)
                or (rid and client.get(f"/fhir/{rtype}/{rid}").status_code != 404)
            ):
                failures.append(
                    f"{name}: valid R4 refused by a server rule ({REFUSED_BY_SERVER_RULES[name]}), "
                    f"but got {r.status_code} {r.text[:200]} (base validation: {base[:2]})"
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
    refused = len(REFUSED_EXAMPLES) + len(REFUSED_BY_SERVER_RULES)
    assert round_tripped == len(examples) - skipped - refused


def test_missing_package_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.r4_package import _unavailable

    monkeypatch.setenv("JIAYI_REQUIRE_PG", "1")
    with pytest.raises(pytest.fail.Exception, match="JIAYI_REQUIRE_PG=1"):
        _unavailable("npm is not installed")
    monkeypatch.delenv("JIAYI_REQUIRE_PG")
    with pytest.raises(pytest.skip.Exception):
        _unavailable("npm is not installed")
