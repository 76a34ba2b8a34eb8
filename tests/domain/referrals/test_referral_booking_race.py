"""Double booking is impossible under concurrency (issue 8; INTERFACE.md: booking is `POST Appointment`
naming the slot, 201 or 409): many threads book one slot through the repository — exactly one wins,
the rest get a clear 409 — and reserved-slot rules hold under the same lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fhir_server.app import build_components
from fhir_server.core.errors import FhirError
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import make_settings
from tests.domain.referrals.referral_data import (
    T0,
    World,
    add_schedule,
    add_slots,
    appointment,
    build_world,
    upward_referral,
)

BOOKERS = 16


def _setup(database_url: str) -> tuple[FhirRepository, World]:
    components = build_components(make_settings(database_url))
    repo = FhirRepository(components=components, ctx=RequestContext("http://testserver/fhir"))

    def create(body: dict[str, Any]) -> dict[str, Any]:
        return repo.create(body["resourceType"], body).record.content

    return repo, build_world(create)


def _race(n: int, fn: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except FhirError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_many_bookers_one_slot_exactly_one_wins(database_url: str) -> None:
    repo, world = _setup(database_url)
    create = lambda b: repo.create(b["resourceType"], b).record.content  # noqa: E731
    schedule = add_schedule(create, world, "expert")
    (slot,) = add_slots(create, schedule, T0.replace(day=9), 1, reserved=1)
    referrals = [create(upward_referral(world)) for _ in range(BOOKERS)]

    results = _race(
        BOOKERS,
        lambda i: repo.create("Appointment", appointment(world, slot, referrals[i])).created,
    )

    wins = [r for r in results if r is True]
    losses = [r for r in results if isinstance(r, FhirError)]
    assert len(wins) == 1, results
    assert len(losses) == BOOKERS - 1
    assert {e.status for e in losses} == {409}
    assert all("already taken" in e.message for e in losses)
    assert repo.read("Slot", slot["id"]).content["status"] == "busy"
    booked = repo.search(["Appointment"], [("slot", f"Slot/{slot['id']}")]).matches
    assert len(booked) == 1


def test_public_slot_race_mixed_with_cancellation(database_url: str) -> None:
    """Bookers without referrals race for a public slot; after the winner cancels, the slot is free
    again and exactly one more booking wins."""
    repo, world = _setup(database_url)
    create = lambda b: repo.create(b["resourceType"], b).record.content  # noqa: E731
    schedule = add_schedule(create, world, "examination")
    (slot,) = add_slots(create, schedule, T0.replace(day=10), 1)

    first = _race(8, lambda i: repo.create("Appointment", appointment(world, slot)).record.content)
    winners = [r for r in first if isinstance(r, dict)]
    assert len(winners) == 1 and Counter(getattr(r, "status", 0) for r in first)[409] == 7

    winner = winners[0]
    repo.update("Appointment", winner["id"], {**winner, "status": "cancelled"})
    assert repo.read("Slot", slot["id"]).content["status"] == "free"

    second = _race(8, lambda i: repo.create("Appointment", appointment(world, slot)).record.content)
    assert sum(isinstance(r, dict) for r in second) == 1
    assert repo.read("Slot", slot["id"]).content["status"] == "busy"
