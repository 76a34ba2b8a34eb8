"""The outbox pump's coalescing: a woken round is followed by a full `coalesce` pause, however long
the round took (rounds slowed by a busy disk must not run back to back); a round that was not
woken waits up to `interval` for a wake."""

from __future__ import annotations

import threading
import time

from fhir_server.outbox.pump import OutboxPump


class _Recording(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return super().wait(timeout)


def test_a_woken_round_is_followed_by_the_whole_pause() -> None:
    rounds: list[int] = []
    pump = OutboxPump(interval=30.0, coalesce=0.05)
    stop, wake = _Recording(), _Recording()
    pump._stop, pump._wake = stop, wake

    def round_() -> None:
        rounds.append(len(rounds))
        pump.wake()  # a commit during the round
        time.sleep(0.08)  # longer than the pause
        if len(rounds) == 2:
            stop.set()

    pump.add(round_)
    pump._loop()  # in this thread: returns once stopped
    assert rounds == [0, 1]
    assert wake.waits == [30.0, 30.0]  # each round then waited for a wake (there was one)
    assert stop.waits == [0.05, 0.05]  # and paused the whole 0.05 s though the round took 0.08
