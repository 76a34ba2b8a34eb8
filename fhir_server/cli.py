"""The `jiayi` command: serve, db, import, export (INTERFACE.md).  Builds Settings, calls the app."""

from __future__ import annotations

import json
import logging
import os
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from .auth.cli import clients_app, launch_command, users_app
from .generator.cli import generate_command
from .ig.cli import ig_app
from .settings import Settings

# rich_markup_mode=None: a bad option ends with click's one-line "Error: …", not a rich panel.
app = typer.Typer(
    help="Jiayi (家医) FHIR R4 server for family-doctor contract services.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
jobs_app = typer.Typer(help="Scheduled jobs: list them, or run one now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
app.command("launch")(launch_command)
app.add_typer(ig_app, name="ig")
app.command("generate")(generate_command)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="JIAYI_DATABASE_URL",
        help="SQLAlchemy URL (default sqlite:///./var/jiayi.db)",
    ),
]


class AuthMode(StrEnum):
    smart = "smart"
    off = "off"


class ReferentialIntegrity(StrEnum):
    lenient = "lenient"
    strict = "strict"


def _settings(**overrides: Any) -> Settings:
    """Settings from the options (and JIAYI_* variables); a bad value ends the command with one
    line per problem and exit status 2, not a traceback."""
    values = {k: (v.value if isinstance(v, Enum) else v) for k, v in overrides.items()}
    try:
        return Settings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem["loc"])
            flag = f"--{where.replace('_', '-')}"
            option = flag if where in overrides else f"JIAYI_{where.upper()}"
            typer.echo(f"Error: invalid {option}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None


def _configure_logging() -> None:
    from .rest.logconfig import configure_logging

    configure_logging()


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="JIAYI_HOST", help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="JIAYI_PORT", min=0, max=65535)] = 8080,
    database_url: DatabaseUrl = None,
    auth: Annotated[
        AuthMode, typer.Option(envvar="JIAYI_AUTH", help="smart | off (off only on loopback)")
    ] = AuthMode.smart,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo data set first")] = False,
    workers: Annotated[int, typer.Option(envvar="JIAYI_WORKERS", min=1)] = 1,
    max_request_bytes: Annotated[
        int,
        typer.Option(envvar="JIAYI_MAX_REQUEST_BYTES", min=1024, help="larger bodies get 413"),
    ] = 16 * 1024 * 1024,
    referential_integrity: Annotated[
        ReferentialIntegrity,
        typer.Option(envvar="JIAYI_REFERENTIAL_INTEGRITY", help="lenient | strict"),
    ] = ReferentialIntegrity.lenient,
    base_url: Annotated[
        str | None, typer.Option(envvar="JIAYI_BASE_URL", help="public FHIR base URL")
    ] = None,
) -> None:
    """Start the FHIR server (FHIR base at http://HOST:PORT/fhir)."""
    import uvicorn

    from .app import prepare_database
    from .rest.logconfig import logging_config

    settings = _settings(
        host=host,
        port=port,
        database_url=database_url,
        auth=auth,
        workers=workers,
        max_request_bytes=max_request_bytes,
        referential_integrity=referential_integrity,
        base_url=base_url,
    )
    if settings.auth == "off" and not settings.is_loopback:
        typer.echo("--auth off is allowed only on a loopback host", err=True)
        raise typer.Exit(2)
    # Only once the options are known good: refusing them leaves the process's logging alone.
    _configure_logging()
    log = logging.getLogger("jiayi")
    if settings.auth == "off":
        log.warning("authorisation is OFF: every caller has full access (loopback only)")
    seeded = prepare_database(settings)
    log.info("database migrated; %d definitions seeded", seeded)
    if demo:
        from .demo.cli import DEMO_RESIDENTS

        for line in _load_demo(settings, residents=DEMO_RESIDENTS):
            log.info(line)
    for key, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"JIAYI_{key.upper()}"] = _env_value(value)
    log.info(
        "Jiayi FHIR base at %s (database %s)",
        settings.public_base,
        settings.database_url.split("@")[-1],
    )
    uvicorn.run(
        "fhir_server.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        log_config=logging_config(),
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _env_value(value: Any) -> str:
    """A setting as its JIAYI_* twin reads it back in the workers: lists and dicts as JSON,
    secrets unmasked (they never reach a log), the rest as text."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _load_demo(settings: Settings, **options: Any) -> list[str]:
    from .demo.cli import run_demo

    return run_demo(settings, **options)


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    residents: Annotated[int, typer.Option(min=1, help="about this many residents")] = 1000,
    seed: Annotated[int, typer.Option(help="random seed (same seed and date, same data)")] = 2026,
    on: Annotated[
        str | None, typer.Option("--date", help="load date YYYY-MM-DD (default today, CST)")
    ] = None,
) -> None:
    """Load the demo data set (one district of Guangzhou) into --database-url; idempotent."""
    from datetime import date

    from .app import prepare_database

    settings = _settings(database_url=database_url)
    try:
        when = date.fromisoformat(on) if on else None
    except ValueError:
        typer.echo(f"--date must be YYYY-MM-DD, not {on!r}", err=True)
        raise typer.Exit(2) from None
    prepare_database(settings)
    for line in _load_demo(settings, residents=residents, seed=seed, on=when):
        typer.echo(line)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Apply the Alembic migrations to --database-url."""
    from .app import prepare_database
    from .storage.migrations import current_revision
    from .storage.sql import SqlDatabase

    settings = _settings(database_url=database_url)
    seeded = prepare_database(settings)
    db = SqlDatabase(settings.database_url)
    typer.echo(f"database at revision {current_revision(db.engine)}; {seeded} definitions seeded")
    db.dispose()


@app.command("import")
def import_files(
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON, Bundle or NDJSON files")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Load FHIR JSON resources, Bundles or NDJSON files into --database-url."""
    from .tools.loader import import_paths

    settings = _settings(database_url=database_url)
    summary = import_paths(settings, files)
    typer.echo(summary.line())
    if summary.failed:
        raise typer.Exit(1)


@app.command("export")
def export_dir(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="output folder (created)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Write every current resource as NDJSON, one file per resource type."""
    from .tools.exporter import export_ndjson

    settings = _settings(database_url=database_url)
    counts = export_ndjson(settings, directory)
    typer.echo(f"exported {sum(counts.values())} resources of {len(counts)} types to {directory}")


@jobs_app.command("list")
def jobs_list() -> None:
    """Name every job with its schedule and purpose."""
    from .jobs.registry import discover

    jobs = discover()
    for name, spec in sorted(jobs.items()):
        typer.echo(f"{name}\t{spec.schedule}\t{spec.description}")
    typer.echo(f"{len(jobs)} jobs")


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="job name (see `jiayi jobs list`)")],
    on: Annotated[
        str | None, typer.Option("--date", help="run date YYYY-MM-DD (default today)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="worker processes (pushes; default: CPU count)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run one job now."""
    from datetime import date

    from .app import build_components
    from .jobs.runner import run_job

    settings = _settings(database_url=database_url)
    try:
        when = date.fromisoformat(on) if on else date.today()
    except ValueError:
        typer.echo(f"--date must be YYYY-MM-DD, not {on!r}", err=True)
        raise typer.Exit(2) from None
    components = build_components(settings)
    try:
        components.database.upgrade()  # type: ignore[attr-defined]
        typer.echo(run_job(settings, components, name, when, workers))
    except KeyError as exc:
        typer.echo(str(exc.args[0]), err=True)
        raise typer.Exit(2) from None
    finally:
        components.database.dispose()


def main() -> None:
    app()
