"""`OutboxPump`: the background loop of a server process.  Runs its rounds (dispatchers,
subscription fan-out, heartbeats, bulk jobs …) after every commit that recorded an event (woken by
`OutboxWriter.committed`) and at least every `interval` seconds (the polling safety net: events of
a process that died after commit are picked up by the next pass of any process)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("jiayi.outbox")


class OutboxPump:
    def __init__(self, rounds: Sequence[Callable[[], Any]] = (), interval: float = 2.0) -> None:
        self._rounds = list(rounds)
        self.interval = interval
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
            self._wake.wait(self.interval)

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
