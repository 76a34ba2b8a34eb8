"""Job discovery: every `JOBS` list in `fhir_server.domain.<package>.jobs` modules."""

from __future__ import annotations

from ..core.discovery import DOMAIN, declared
from ..core.jobs import JobSpec


def discover(package: str = DOMAIN) -> dict[str, JobSpec]:
    jobs: dict[str, JobSpec] = {}
    for spec in declared("jobs", "JOBS", package):
        if spec.name in jobs:
            raise ValueError(f"job {spec.name!r} is declared twice")
        jobs[spec.name] = spec
    return jobs
