"""Database backends for storage-facing tests: SQLite always, PostgreSQL when reachable.

`JIAYI_TEST_DATABASE_URL` names the PostgreSQL server (default: the local `test` database).  Each
test session (each xdist worker) gets its own fresh PostgreSQL database, created and dropped here;
tables are emptied between tests.  With `JIAYI_REQUIRE_PG=1` an unreachable server fails the tests
instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> str:
    return os.environ.get("JIAYI_TEST_DATABASE_URL", DEFAULT_PG_URL)


def pg_required() -> bool:
    return os.environ.get("JIAYI_REQUIRE_PG") == "1"


def pg_unavailable_reason() -> str | None:
    url = pg_admin_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} not reachable: {type(exc).__name__}"


def create_pg_database() -> tuple[str, str]:
    """Create a throw-away database; returns (url, name)."""
    admin = make_url(pg_admin_url())
    name = f"jiayi_t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(name: str) -> None:
    engine = create_engine(make_url(pg_admin_url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'jiayi.db'}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    reason = pg_unavailable_reason()
    if reason:
        if pg_required():
            pytest.fail(f"JIAYI_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    url, name = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)
