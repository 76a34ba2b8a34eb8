"""Concurrent writers on both databases: optimistic locking and retries never lose or fork a version."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from fhir_server.app import build_components
from fhir_server.core.errors import FhirError
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.ports import HistoryQuery
from tests.api.conftest import make_settings

WRITERS = 8


def _repo(database_url: str) -> FhirRepository:
    components = build_components(make_settings(database_url))
    return FhirRepository(RequestContext("http://testserver/fhir"), components)


def _race(fn: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(WRITERS)
    results: list[object] = [None] * WRITERS

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except FhirError as exc:
            results[i] = exc.status

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_same_if_match_only_one_wins(database_url: str) -> None:
    repo = _repo(database_url)
    created = repo.create("Patient", {"resourceType": "Patient"}).record
    results = _race(
        lambda i: (
            repo.update(
                "Patient",
                created.id,
                {"resourceType": "Patient", "id": created.id, "birthDate": f"19{10 + i}"},
                if_match="1",
            ).record.version_id
        )
    )
    counts = Counter(results)
    assert counts[2] == 1, results
    assert counts[412] == WRITERS - 1, results
    current = repo.read("Patient", created.id)
    assert current.version_id == 2
    assert repo.history(HistoryQuery("Patient", created.id))[1] == 2
    repo.components.database.dispose()


def test_unconditional_updates_all_land_in_sequence(database_url: str) -> None:
    repo = _repo(database_url)
    created = repo.create("Patient", {"resourceType": "Patient"}).record
    results = _race(
        lambda i: (
            repo.update(
                "Patient",
                created.id,
                {"resourceType": "Patient", "id": created.id, "birthDate": f"19{10 + i}"},
            ).record.version_id
        )
    )
    assert sorted(results) == list(range(2, WRITERS + 2)), results  # type: ignore[type-var]
    assert repo.read("Patient", created.id).version_id == WRITERS + 1
    repo.components.database.dispose()


def test_concurrent_update_as_create_of_one_id(database_url: str) -> None:
    repo = _repo(database_url)
    results = _race(
        lambda i: (
            repo.update("Patient", "race-1", {"resourceType": "Patient", "id": "race-1"}).created
        )
    )
    assert results.count(True) == 1, results
    assert repo.read("Patient", "race-1").version_id == WRITERS
    repo.components.database.dispose()
