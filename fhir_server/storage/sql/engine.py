"""Engine construction: the SQLite and PostgreSQL differences of connecting live here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine as _create_engine
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from .dialects import forget_plan_mode


def _json_serializer(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 50) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = _create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip per request): stale connections are recycled instead, and a
        # connection broken under a request is invalidated by SQLAlchemy (the request gets 503).
        pool_recycle=300,
        json_serializer=_json_serializer,
        json_deserializer=orjson.loads,
        # JIT off: a search with an access guard is one wide query (an EXISTS per compartment
        # parameter of every type); its cost estimate passes jit_above_cost, and compiling it
        # took seconds on a table of a few hundred rows, for no gain on short OLTP queries.
        # Custom plans always: psycopg prepares a statement after 5 runs, and PostgreSQL then
        # may switch to a generic plan that cannot see the values — a search for a common code
        # went from 3 ms to 70 ms (30 k resources) that way, growing with the data.
        # Writes switch to generic plans for their transaction (dialects.generic_plans).
        connect_args={"options": "-c jit=off -c plan_cache_mode=force_custom_plan"},
    )
    for name in ("commit", "rollback"):
        event.listen(engine, name, forget_plan_mode)
    # and when a connection goes back to the pool whatever ended its transaction
    event.listen(engine, "checkin", lambda _dbapi, record: forget_plan_mode(record))
    return engine


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = _create_engine(
        url,
        json_serializer=_json_serializer,
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=NullPool if database in (None, "", ":memory:") else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite's implicit one.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front so two writers never deadlock upgrading a read lock.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
