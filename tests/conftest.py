"""Shared fixtures.  `database_url` runs a test once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import logging
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
    """Every table the migrations made (resources, search index, auth, outbox, bulk …), emptied."""
    from sqlalchemy import inspect, text

    names = [n for n in inspect(db.engine).get_table_names() if n != "alembic_version"]
    if names:
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        db = SqlDatabase(url)
        db.upgrade()
        db.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_database")
    db = SqlDatabase(url)
    db.upgrade()
    _empty_all_tables(db)
    db.dispose()
    yield url


@pytest.fixture
def database(database_url: str) -> Iterator[SqlDatabase]:
    db = SqlDatabase(database_url)
    yield db
    db.dispose()
