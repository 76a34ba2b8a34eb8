"""The clock is injected so tests can freeze time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


_SERVING: ContextVar[Clock | None] = ContextVar("jiayi_serving_clock", default=None)


@contextmanager
def serving(clock: Clock) -> Iterator[None]:
    """Within: `serving_clock()` is `clock`, the clock of the request being served (set by
    `interactions.router.dispatch` from the repository's components), for code that has no
    components at hand — the search parameters computed at "today" (`key-population`)."""
    token = _SERVING.set(clock)
    try:
        yield
    finally:
        _SERVING.reset(token)


def serving_clock() -> Clock:
    """The clock of the request being served (`serving`), the system clock outside one."""
    return _SERVING.get() or SystemClock()


def serving_today() -> date:
    """The date of the request being served (`serving_clock`), in UTC like the rest of the
    server: what the search parameters computed at "today" (`age`, `key-population`) read."""
    return serving_clock().now().date()


def fhir_instant(dt: datetime) -> str:
    """An R4 instant with millisecond precision and a `Z` or offset."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
