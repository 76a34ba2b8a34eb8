"""The pushes job's worker plan: how many workers, over which contract-id ranges."""

from __future__ import annotations

import pytest

from fhir_server.domain.pushes.jobs import ranges, worker_count


@pytest.mark.parametrize(
    ("asked", "dialect", "cpus", "expected"),
    [
        (None, "postgresql", 2, 2),
        (None, "postgresql", None, 1),
        (4, "postgresql", 2, 4),
        (0, "postgresql", 2, 1),
        (4, "sqlite", 2, 1),
        (None, "memory", 8, 1),
    ],
)
def test_worker_count(
    monkeypatch: pytest.MonkeyPatch,
    asked: int | None,
    dialect: str,
    cpus: int | None,
    expected: int,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cpus)
    assert worker_count(asked, dialect) == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], [(None, None)]),
        (["c5"], [(None, "c5"), ("c5", None)]),
        (["c3", "c7"], [(None, "c3"), ("c3", "c7"), ("c7", None)]),
    ],
)
def test_ranges_cover_every_contract_once(
    points: list[str], expected: list[tuple[str | None, str | None]]
) -> None:
    assert ranges(points) == expected
