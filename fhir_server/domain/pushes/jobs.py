"""The `pushes` job (`jiayi jobs run pushes --date D`): a run plans the contract years that have
begun, creates and delivers the pushes due by D for every contract in force, retries earlier
failed deliveries and fans out the alerts (粤(三), 粤(七)).  Run it daily (the scheduler does) or
monthly; re-running a date creates nothing new, and an interrupted run resumes where it stopped.

Channels come from `components.messaging` (built by the composition root from the `push_*`
settings); without any, pushes are created in `preparation` and delivered by the first run that
has channels.  On a terminal the job shows a progress bar per step (totals counted in SQL first).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from ...core.jobs import JobSpec
from .content import load_library
from .record import RecordKeyPopulations
from .service import Progress, PushService


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
    with terminal_progress(sys.stderr.isatty()) as progress:
        return push_service(ctx, progress).run(on).line()


JOBS = [
    JobSpec(
        name="pushes",
        description="Health pushes: ≥ 12 a year per contracted resident by solar term, "
        "personalised, alerts fanned out, delivered through the channels",
        run=run_pushes,
        schedule="daily",
    )
]
