"""Job discovery: every `JOBS` list in `fhir_server.domain.<package>.jobs` modules."""

from __future__ import annotations

import importlib
import pkgutil

from ..core.jobs import JobSpec


def discover(package: str = "fhir_server.domain") -> dict[str, JobSpec]:
    pkg = importlib.import_module(package)
    jobs: dict[str, JobSpec] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"{package}.{info.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{info.name}.jobs":
                continue
            raise
        for spec in getattr(module, "JOBS", []):
            if spec.name in jobs:
                raise ValueError(f"job {spec.name!r} is declared twice")
            jobs[spec.name] = spec
    return jobs
