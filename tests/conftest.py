"""Shared fixtures.  `database_url` runs a test once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_server.storage.sql import SqlDatabase
from tests.support.databases import postgres_database, sqlite_url  # noqa: F401 (fixture)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _restore_server_logging() -> Iterator[None]:
    """A test that configures the server's logging in-process (`jiayi serve` under CliRunner,
    the uvicorn factory) must not leave the `jiayi` loggers non-propagating for the tests after
    it, whose `caplog` would then see nothing."""
    saved = {}
    for name in ("jiayi", "uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.propagate, logger.level, logger.disabled)
    yield
    for name, (handlers, propagate, level, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate, logger.level, logger.disabled = propagate, level, disabled


def _fastapi_call_caches() -> list[Any]:
    """FastAPI's module-level `lru_cache`s (4 096 entries each) that classify endpoint callables:
    they keep every app's endpoint closures — and through them its ServerComponents, ~30 MB
    each — alive long after the test that built the app.  A server builds one app, so only the
    test suite (thousands of apps per worker) grows by gigabytes and got OOM-killed."""
    import fastapi.dependencies.models as models

    return [f for f in vars(models).values() if callable(getattr(f, "cache_clear", None))]


@pytest.fixture(autouse=True)
def _release_apps() -> Iterator[None]:
    """Drop FastAPI's references to the apps this test built, so their components are freed."""
    yield
    for cached in _fastapi_call_caches():
        cached.cache_clear()


def _empty_all_tables(db: SqlDatabase) -> None:
    """Every table the migrations (or the bulk loader) made, emptied, and every used sequence
    restarted: PostgreSQL only.  Only tables that hold rows are truncated — TRUNCATE of all ~35
    costs 0.1–0.35 s a test, the probe a few milliseconds."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        names = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if not names:
            return
        probe = " UNION ALL ".join(
            f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names
        )
        used = conn.execute(text(probe)).scalars().all()
        if used:
            quoted = ", ".join(f'"{n}"' for n in used)
            conn.execute(text(f"TRUNCATE {quoted} CASCADE"))
        sequences = conn.execute(
            text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
                " AND last_value IS NOT NULL"
            )
        ).scalars()
        for name in sequences:
            conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database per session (per xdist worker): each test gets a copy of the
    file instead of running every migration again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "jiayi.db"
    db = SqlDatabase(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()  # the last connection closes: the WAL is checkpointed into the file and removed
    assert not path.with_name("jiayi.db-wal").exists()
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), tmp_path / "jiayi.db")
        yield url
        return
    url = request.getfixturevalue("postgres_database")
    db = SqlDatabase(url)
    db.upgrade()  # cheap when at head; restores indexes a bulk load of an earlier test dropped
    _empty_all_tables(db)
    db.dispose()
    yield url


@pytest.fixture
def database(database_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(database_url)
    yield db
    db.dispose()
