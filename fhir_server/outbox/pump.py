"""`OutboxPump`: the background loop of a server process.  Runs its rounds (dispatchers,
subscription fan-out, heartbeats, bulk jobs …) after every commit that recorded an event (woken by
`OutboxWriter.committed`) and at least every `interval` seconds (the polling safety net: events of
a process that died after commit are picked up by the next pass of any process).

Wakes are coalesced: a woken round starts `coalesce` seconds after the previous one ended, so a
burst of commits (every create of a busy server records an event) is handled by one pass over many
events instead of one pass — several statements, the GIL and a connection — per commit on the
request path's back (pausing from the end, not the start: rounds slowed by a busy disk would
otherwise run back to back).  An event waits at most `coalesce` seconds and a round longer;
nothing is missed (a wake during a round runs another)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("jiayi.outbox")


class OutboxPump:
    def __init__(
        self,
        rounds: Sequence[Callable[[], Any]] = (),
        interval: float = 2.0,
        coalesce: float = 0.2,
    ) -> None:
        self._rounds = list(rounds)
        self.interval = interval
        self.coalesce = coalesce
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, round_: Callable[[], Any]) -> None:
        self._rounds.append(round_)

    def wake(self) -> None:
        self._wake.set()

    def run_rounds(self) -> None:
        for round_ in list(self._rounds):
            try:
                round_()
            except Exception:  # noqa: BLE001 - one failing round must not stop the others
                log.exception("outbox round %r failed", round_)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.run_rounds()
            if self._wake.wait(self.interval):  # woken: gather the commits of the next moment
                self._stop.wait(self.coalesce)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="jiayi-outbox", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
