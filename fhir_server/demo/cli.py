"""The plumbing of `jiayi demo` and `jiayi serve --demo`: components, a progress bar on a
terminal, the accounts, and the closing lines (how to log in, how long it took)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from .load import Progress, load_demo, no_progress

#: residents of `jiayi serve --demo` (and the default of `jiayi demo --residents`)
DEMO_RESIDENTS = 1000


@contextmanager
def terminal_progress(enabled: bool) -> Iterator[Progress]:
    """A rich progress bar per step on a terminal (stderr); nothing otherwise."""
    if not enabled:
        yield no_progress
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Bar(*columns, console=Console(stderr=True)) as bar:

        def factory(label: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def run_demo(
    settings: Any,
    *,
    residents: int = DEMO_RESIDENTS,
    seed: int | None = None,
    on: date | None = None,
) -> list[str]:
    """Load the demo into the settings' database (migrated and seeded already)."""
    from ..app import build_components
    from .accounts import register

    started = time.monotonic()
    components = build_components(settings)
    try:
        with terminal_progress(sys.stderr.isatty()) as progress:
            summary = load_demo(
                components,
                lambda accounts: register(components.database, accounts),
                base_url=settings.public_base,
                residents=residents,
                on=on,
                progress=progress,
                **({"seed": seed} if seed is not None else {}),
            )
    finally:
        components.database.dispose()
    lines = summary.lines(settings.public_base)
    lines.append(f"demo loaded in {time.monotonic() - started:.1f} s")
    return lines
