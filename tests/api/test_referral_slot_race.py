"""A slot race over real HTTP (issue 8: "many concurrent bookers on one slot: exactly one wins, the rest
get a clear 409"; INTERFACE.md: booking is `POST Appointment` naming the slot): a uvicorn server on a
real socket, 32 concurrent clients, each with its own referral, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from fhir_server.app import build_components, create_app
from tests.api.conftest import make_settings
from tests.domain.referrals.referral_data import (
    T0,
    add_schedule,
    add_slots,
    appointment,
    build_world,
    upward_referral,
)

BOOKERS = 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base(database_url: str) -> Iterator[str]:
    port = _free_port()
    settings = make_settings(database_url).model_copy(
        update={"base_url": f"http://127.0.0.1:{port}/fhir"}
    )
    app = create_app(settings, components=build_components(settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_slot_race_over_http(base: str) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:

        def create(body: dict[str, Any]) -> dict[str, Any]:
            r = http.post(f"/{body['resourceType']}", json=body)
            assert r.status_code == 201, r.text
            return r.json()

        world = build_world(create)
        schedule = add_schedule(create, world, "expert")
        (slot,) = add_slots(create, schedule, T0 + timedelta(days=300), 1, reserved=1)
        bodies = [appointment(world, slot, create(upward_referral(world))) for _ in range(BOOKERS)]

    async def book_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            return await asyncio.gather(*(client.post("/Appointment", json=b) for b in bodies))

    responses = asyncio.run(book_all())
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: BOOKERS - 1}, statuses
    for r in responses:
        if r.status_code == 409:
            issue = r.json()["issue"][0]
            assert (
                issue["code"] == "conflict"
                and f"Slot/{slot['id']} is already taken" in issue["diagnostics"]
            )
    with httpx.Client(base_url=base, timeout=60) as http:
        assert http.get(f"/Slot/{slot['id']}").json()["status"] == "busy"
        found = http.get("/Appointment", params={"slot": f"Slot/{slot['id']}"}).json()
        assert len(found.get("entry", [])) == 1
