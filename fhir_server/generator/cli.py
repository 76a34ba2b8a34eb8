"""`jiayi generate --residents N --city CODE --seed S [--out DIR | --database-url URL]`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from .generate import Plan, generate


def generate_command(
    residents: Annotated[
        int, typer.Option("--residents", min=1, help="number of residents")
    ] = 1000,
    city: Annotated[
        str, typer.Option("--city", help="GB/T 2260 code of a Guangdong city")
    ] = "440100",
    seed: Annotated[
        int, typer.Option("--seed", help="random seed (same seed, same population)")
    ] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="write files here (see --format)")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="with --out: ndjson (a file per type) or bundle (transaction Bundles to POST)",
        ),
    ] = "ndjson",
    database_url: Annotated[
        str | None, typer.Option("--database-url", envvar="JIAYI_DATABASE_URL")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="reference date YYYY-MM-DD (default today)")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="loader processes (PostgreSQL)")
    ] = 2,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="resources per committed batch (PostgreSQL)")
    ] = 500,
) -> None:
    """Generate a synthetic Guangdong population (residents, households, records, providers):
    NDJSON files per type with --out, else into --database-url (PostgreSQL: COPY, resumable)."""
    from .figures import load_figures

    try:
        when = date.fromisoformat(on) if on else date.today()
    except ValueError:
        typer.echo(f"--date must be YYYY-MM-DD, not {on!r}", err=True)
        raise typer.Exit(2) from None
    if city not in load_figures().districts:
        typer.echo(
            f"--city {city} is not the GB/T 2260 code of one of Guangdong's 21 cities", err=True
        )
        raise typer.Exit(2)
    if fmt not in ("ndjson", "bundle"):
        typer.echo(f"--format must be ndjson or bundle, not {fmt!r}", err=True)
        raise typer.Exit(2)
    plan = Plan(residents, city, seed, when)
    if out is not None:
        from .output import write_bundles, write_ndjson

        write = write_bundles if fmt == "bundle" else write_ndjson
        counts = write(generate(plan), out)
        typer.echo(
            f"wrote {sum(counts.values())} resources ({counts.get('Patient', 0)} residents) to {out}"
        )
        return
    from ..app import prepare_database
    from ..settings import Settings

    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = Settings(**overrides)  # the JIAYI_* environment fills the rest
    started = time.monotonic()
    prepare_database(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[rate]}"))  # fmt: skip
    phases: dict[str, float] = {}
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("resources", total=None, rate="")
        loaded_at = time.monotonic()

        def advance(n: int) -> None:
            bar.advance(task, n)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(1e-9, time.monotonic() - loaded_at):,.0f}/s")

        def phase(name: str) -> None:  # after the last batch: the bar stops counting resources
            phases[name] = time.monotonic()
            label = {"indexes": "rebuilding indexes", "statistics": "VACUUM ANALYZE"}[name]
            bar.update(task, description=f"resources; {label}")

        skipped, written = _store(settings.database_url, plan, advance, workers, batch, phase)
    ended = time.monotonic()
    resumed = f", {skipped} stored earlier (resumed)" if skipped else ""
    loaded = min(phases.values(), default=ended) - loaded_at
    typer.echo(
        f"stored {written} resources{resumed} for {residents} residents of {city} "
        f"(seed {seed}, date {when}) in {ended - started:.0f} s: "
        f"{loaded:.0f} s loading ({written / max(loaded, 1e-9):,.0f} resources/s)"
        + "".join(
            f", {_until(phases, name, ended):.0f} s {label}"
            for name, label in (("indexes", "rebuilding indexes"), ("statistics", "VACUUM ANALYZE"))
            if name in phases
        )
    )


def _until(phases: dict[str, float], name: str, ended: float) -> float:
    """Seconds from the start of phase `name` to the start of the next one (or the end)."""
    later = [t for t in phases.values() if t > phases[name]]
    return min(later, default=ended) - phases[name]


def _store(
    database_url: str,
    plan: Plan,
    advance: Callable[[int], None],
    workers: int = 2,
    batch: int = 500,
    phase: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """PostgreSQL: COPY (`output.copy_load`); other databases: through the repository."""
    if database_url.startswith("postgresql"):
        from .output import ResumeMismatch, copy_load

        try:
            return copy_load(database_url, lambda: generate(plan), plan.prefix, progress=advance,
                             workers=workers, batch=batch, expected=plan.residents,
                             on_phase=phase)  # fmt: skip
        except ResumeMismatch as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from None
    from ..app import build_components
    from ..services.context import RequestContext
    from ..services.repository import FhirRepository
    from ..settings import Settings
    from .output import load

    components = build_components(Settings(database_url=database_url))
    repo = FhirRepository(RequestContext("http://localhost/fhir", system_name="generator"),
                          components)  # fmt: skip
    written = 0
    try:
        for count in load(repo, generate(plan)):
            written += count
            advance(count)
    finally:
        components.database.dispose()
    return 0, written
