"""`jiayi generate --residents N --city CODE --seed S [--out DIR | --database-url URL]`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

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
    out: Annotated[Path | None, typer.Option("--out", help="write NDJSON files here")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", envvar="JIAYI_DATABASE_URL")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="reference date YYYY-MM-DD (default today)")
    ] = None,
) -> None:
    """Generate a synthetic Guangdong population (residents, households, records, providers)."""
    plan = Plan(residents, city, seed, date.fromisoformat(on) if on else date.today())
    from .figures import load_figures

    if city not in load_figures().districts:
        typer.echo(
            f"--city {city} is not the GB/T 2260 code of one of Guangdong's 21 cities", err=True
        )
        raise typer.Exit(2)
    if out is not None:
        from .output import write_ndjson

        counts = write_ndjson(generate(plan), out)
        typer.echo(
            f"wrote {sum(counts.values())} resources ({counts.get('Patient', 0)} residents) to {out}"
        )
        return
    from ..app import build_components
    from ..services.context import RequestContext
    from ..services.repository import FhirRepository
    from ..settings import Settings
    from .output import load

    settings = Settings(**({"database_url": database_url} if database_url else {}))
    components = build_components(settings)
    components.database.upgrade()  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(settings.public_base, system_name="generator"), components)
    stored = 0
    try:
        with Progress() as progress:
            task = progress.add_task("generating", total=None)
            for count in load(repo, generate(plan)):
                stored += count
                progress.advance(task, count)
    finally:
        components.database.dispose()
    typer.echo(f"stored {stored} resources for {residents} residents of {city} (seed {seed})")
