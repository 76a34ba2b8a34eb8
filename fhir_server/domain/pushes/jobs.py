"""The `pushes` job (`jiayi jobs run pushes --date D`): a run creates and delivers the pushes due by D
for every active contract, and fans out the alerts in force (粤(三), 粤(七)).  Run it daily or
monthly; re-running a date creates nothing new, and an interrupted run resumes where it stopped.

Channels come from `components.messaging` (a sequence of `MessageSender`s built by the composition
root from `adapters.messaging`); without them pushes are created in `preparation` and delivered by
the first run that has channels.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ...core.jobs import JobSpec
from .content import load_library
from .record import RecordKeyPopulations
from .service import PushService


def run_pushes(ctx: Any, on: date) -> str:
    service = PushService(
        repo=ctx.repo,
        library=load_library(),
        populations=RecordKeyPopulations(),
        channels=tuple(getattr(ctx.components, "messaging", None) or ()),
    )
    return service.run(on).line()


JOBS = [
    JobSpec(
        name="pushes",
        description="Health pushes: ≥ 12 a year per contracted resident by solar term, "
        "personalised, alerts fanned out, delivered through the channels",
        run=run_pushes,
        schedule="daily",
    )
]
