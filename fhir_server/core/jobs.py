"""`JobSpec`: a scheduled or on-demand job declared as data beside its domain.

A domain package declares `JOBS = [JobSpec(...)]` in its `jobs.py`; `jobs.registry.discover()` finds
them and `jiayi jobs list` / `jiayi jobs run NAME [--date D]` run them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    run: Callable[[Any, date], str]  # (job context, run date) → one-line summary
    schedule: str = "daily"  # daily | monthly | manual (informative; the runner decides when)
