"""Running one job now (`jiayi jobs run NAME --date D`) with a named, system-level context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from ..settings import Settings
from .registry import discover


@dataclass(frozen=True)
class JobContext:
    """What a job gets: the settings, the components, and a repository acting as the named job."""

    settings: Settings
    components: ServerComponents
    repo: FhirRepository
    workers: int | None = None  # `--workers`: for the jobs that run in parallel (pushes)


def run_job(
    settings: Settings,
    components: ServerComponents,
    name: str,
    on: date,
    workers: int | None = None,
) -> str:
    jobs = discover()
    spec = jobs.get(name)
    if spec is None:
        known = ", ".join(sorted(jobs)) or "none"
        raise KeyError(f"unknown job '{name}' (known: {known})")
    repo = FhirRepository(
        RequestContext(settings.public_base, system_name=f"job:{name}"), components
    )
    return spec.run(JobContext(settings, components, repo, workers), on)
