"""The `pushes` job (`jiayi jobs run pushes --date D`): a run plans the contract years that have
begun, creates and delivers the pushes due by D for every contract in force, retries earlier
failed deliveries and fans out the alerts (粤(三), 粤(七)).  Run it daily (the scheduler does) or
monthly; re-running a date creates nothing new, and an interrupted run resumes where it stopped.

Channels come from `components.messaging` (built by the composition root from the `push_*`
settings); without any, pushes are created in `preparation` and delivered by the first run that
has channels.  On a terminal the job shows a progress bar per step (totals counted in SQL first).

`--workers N` (default: the CPU count; 1 on SQLite, whose writers take turns anyway) runs the due
step — creating, delivering and writing the month's pushes — in N forked worker processes, each
over one contract-id range of `split_points` with its own database connections; the other steps
(contracts, planning, retries, alerts) stay in the main process.  Each worker commits page by page
as the single-process job does, so a killed run (workers die with their parent) resumes where
each range stopped.  The progress bar counts the pushes of every worker.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import date, datetime
from queue import Empty
from typing import Any

from ...core.jobs import JobSpec
from .content import load_library
from .record import RecordKeyPopulations
from .service import DueStep, Progress, PushService, RunSummary


@contextmanager
def terminal_progress(enabled: bool) -> Iterator[Progress]:
    """A rich progress bar per step on a terminal; nothing elsewhere (logs, the scheduler)."""
    if not enabled:
        yield lambda _label, _total: lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, transient=False, console=Console(stderr=True)) as bar:

        def factory(label: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def push_service(ctx: Any, progress: Progress | None = None) -> PushService:
    components = ctx.components
    service = PushService(
        repo=ctx.repo,
        library=load_library(),
        populations=RecordKeyPopulations(),
        plans=components.push_plans,
        channels=tuple(components.messaging or ()),
    )
    if progress is not None:
        service.progress = progress
    return service


def run_pushes(ctx: Any, on: date) -> str:
    workers = worker_count(getattr(ctx, "workers", None), _dialect(ctx))
    with terminal_progress(sys.stderr.isatty()) as progress:
        service = push_service(ctx, progress)
        step = parallel_due(ctx, workers, progress) if workers > 1 else None
        return service.run(on, due_step=step).line()


def _dialect(ctx: Any) -> str:
    engine = getattr(ctx.components.database, "engine", None)
    return str(engine.dialect.name) if engine is not None else "memory"


def worker_count(asked: int | None, dialect: str) -> int:
    """Workers of the due step: as asked, else one per CPU; one where the database is not
    PostgreSQL (SQLite serialises writers, the memory store lives in one process)."""
    if dialect != "postgresql":
        return 1
    if asked is not None:
        return max(1, asked)
    return max(1, os.cpu_count() or 1)


def ranges(points: list[str]) -> list[tuple[str | None, str | None]]:
    """Contract-id ranges [lo, hi) cut at `points` (None: open end)."""
    bounds: list[str | None] = [None, *points, None]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


#: the summary counters a due step changes (added up over the workers)
_DUE_COUNTERS = (
    "residents",
    "created",
    "delivered",
    "failed",
    "opted_out",
    "waiting",
    "without_patient",
    "pages",
)


def parallel_due(ctx: Any, workers: int, progress: Progress) -> DueStep:
    """The due step over `workers` forked processes (one contract-id range each)."""

    def step(service: PushService, on: date, now: datetime, summary: RunSummary) -> bool:
        store = service.plans() if service.plans is not None else None
        if store is None:
            return service.deliver_due(on, now, summary)
        parts = ranges(store.split_points(on, workers))
        if len(parts) == 1:
            return service.deliver_due(on, now, summary)
        advance = progress(f"pushes due {on} ({len(parts)} workers)", store.count_due(on))
        fork = multiprocessing.get_context("fork")
        queue = fork.Queue()
        engine = ctx.components.database.engine
        engine.dispose(close=True)  # no pooled connection is shared with a child
        procs = [
            fork.Process(
                target=_worker,
                args=(ctx, service, on, now, lo, hi, queue),
                name=f"jiayi-pushes-{k}",
                daemon=True,
            )
            for k, (lo, hi) in enumerate(parts)
        ]
        for proc in procs:
            proc.start()
        finished, results = True, 0
        while results < len(procs):
            try:
                kind, value = queue.get(timeout=1)
            except Empty:
                if any(p.is_alive() for p in procs):
                    continue
                try:  # every worker has ended: what they sent last, then give up
                    kind, value = queue.get(timeout=5)
                except Empty:
                    finished = False
                    break
            if kind == "advance":
                advance(int(value))
                continue
            results += 1
            if kind == "failed":
                finished = False
                continue
            for name in _DUE_COUNTERS:
                setattr(summary, name, getattr(summary, name) + int(value.get(name, 0)))
            finished = finished and bool(value.get("finished"))
        for proc in procs:
            proc.join()
            finished = finished and proc.exitcode == 0
        return finished

    return step


def _worker(
    ctx: Any,
    service: PushService,
    on: date,
    now: datetime,
    lo: str | None,
    hi: str | None,
    queue: Any,
) -> None:
    """One range of the due step in a forked child: its own connections (the parent's pool is
    left alone), progress and its counters sent back through `queue`."""
    _die_with_parent()
    ctx.components.database.engine.dispose(close=False)
    service.progress = lambda _label, _total: lambda n: queue.put(("advance", n))
    part = RunSummary(on)
    try:
        part_finished = service.deliver_due(on, now, part, lo=lo, hi=hi)
    except BaseException as exc:
        queue.put(("failed", f"{type(exc).__name__}: {exc}"))
        raise
    counters: dict[str, Any] = {
        f.name: getattr(part, f.name) for f in fields(part) if f.name in _DUE_COUNTERS
    }
    queue.put(("done", counters | {"finished": part_finished}))


def _die_with_parent() -> None:
    """Linux: the worker is killed when the job process dies (SIGKILL included), so a resumed
    run never races the workers of the run it resumes."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the workers end with their range
        pass
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


JOBS = [
    JobSpec(
        name="pushes",
        description="Health pushes: ≥ 12 a year per contracted resident by solar term, "
        "personalised, alerts fanned out, delivered through the channels",
        run=run_pushes,
        schedule="daily",
    )
]
