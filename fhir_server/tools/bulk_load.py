"""Bulk loader: many resources into PostgreSQL fast — `resource`, `resource_history` and every
search-index table written with `COPY … FROM STDIN` (psycopg 3), index rows computed by the same
`search.extract.Extractor` the write path uses (in worker processes).

Used by the synthetic-population generator (`jiayi generate`) and the benchmarks.  It writes
version 1 of new resources only (no version checks, no validation): load into an empty or disjoint
database; it ends with `VACUUM ANALYZE` (planner statistics and the visibility map for index-only
scans).  Each worker process extracts, COPYs and commits its own batches on its own connection
(nothing but the input travels between processes); a resumable load records each committed batch
in `bulk_load_batch` in the batch's own transaction.  A big load drops the written tables'
secondary indexes first and recreates them after (their DDL is kept in `bulk_load_dropped_index`
until then, so an interrupted load's indexes are recreated by the next load or `jiayi db upgrade`).

    bulk_load(database_url, resources, registry_factory=server_registry, workers=2, progress=cb)
        -> int

The input is consumed lazily: at most `2 × workers` batches are in flight, so a stream of a
million resources never sits in memory.  The registry is the server's (R4, the guide's
SearchParameters, computed parameters), so the rows are those the API would write.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
import psycopg
from psycopg import sql

from ..search.extract import Extractor, IndexRows, contained_key
from ..search.registry import SearchRegistry, server_registry
from ..storage.sql.indexer import table_rows

_TABLES = {
    "token": ("search_token", ("system", "code", "text")),
    "string": ("search_string", ("value", "exact")),
    "date": ("search_date", ("low", "high")),
    "number": ("search_number", ("value",)),
    "quantity": ("search_quantity", ("system", "code", "value")),
    "reference": ("search_reference", ("target_type", "target_id", "url")),
    "uri": ("search_uri", ("value",)),
    "position": ("search_position", ("latitude", "longitude", "x", "y", "z")),
    "text": ("search_text", ("value",)),
    "sort": ("search_sort", ("num_lo", "num_hi", "str_lo", "str_hi")),
}
_GROUPED = frozenset({"token", "string", "date", "number", "quantity", "reference", "uri"})


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.lru_cache(maxsize=1)
def _extractor(factory: Callable[[], SearchRegistry], base_url: str | None) -> Extractor:
    """One extractor per worker process (its compiled expressions are reused across batches)."""
    return Extractor(factory(), base_url)


def _extract(
    job: tuple[Callable[[], SearchRegistry], str | None, list[dict[str, Any]]],
) -> list[tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]]:
    factory, base_url, batch = job
    extractor = _extractor(factory, base_url)
    return [(r, table_rows(r["resourceType"], r["id"], extractor.extract(r))) for r in batch]


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _copy(
    conn: psycopg.Connection,
    done: list[tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]],
    now: datetime,
) -> None:
    """COPY resources with their index rows as `table_rows` gives them (row dicts per kind)."""
    bodies = [orjson.dumps(res).decode() for res, _rows in done]  # once for both tables
    with conn.cursor() as cur:
        _copy_resources(cur, [res for res, _rows in done], bodies, now)
        contained = ("res_type", "res_id", "container_type", "container_id", "local_id", "content")
        with cur.copy(f"COPY search_contained ({', '.join(contained)}) FROM STDIN") as cp:
            for _res, rows in done:
                for row in rows.get("contained", []):
                    cp.write_row(
                        tuple(
                            orjson.dumps(row[n]).decode() if n == "content" else row[n]
                            for n in contained
                        )
                    )
        for kind, (table, columns) in _TABLES.items():
            names = _names(kind, columns)
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp:
                for _res, rows in done:
                    for row in rows.get(kind, []):
                        cp.write_row(tuple(row.get(n) for n in names))


def _names(kind: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    return ("res_type", "res_id", "param", *columns, *(("grp",) if kind in _GROUPED else ()))


def _copy_resources(
    cur: psycopg.Cursor[Any], resources: list[dict[str, Any]], bodies: list[str], now: datetime
) -> None:
    with cur.copy(
        "COPY resource (res_type, res_id, version_id, last_updated, deleted, content) FROM STDIN"
    ) as cp:
        for res, body in zip(resources, bodies, strict=True):
            cp.write_row((res["resourceType"], res["id"], 1, now, False, body))
    with cur.copy(
        "COPY resource_history (res_type, res_id, version_id, last_updated, method, deleted, content) FROM STDIN"
    ) as cp:
        for res, body in zip(resources, bodies, strict=True):
            cp.write_row((res["resourceType"], res["id"], 1, now, "POST", False, body))


#: a resource's rows as tuples per table kind, in the column order of `_names(kind)`
Flat = dict[str, list[tuple[Any, ...]]]


def flat_rows(resource_type: str, resource_id: str, rows: IndexRows, out: Flat) -> None:
    """Append the COPY tuples of one resource's `IndexRows` to `out` (what `table_rows` gives,
    without a dict per row); contained resources under their key, and a `contained` kind."""
    key = (resource_type, resource_id)
    for kind in ("token", "string", "date", "number", "quantity", "reference", "uri"):
        out[kind].extend((*key, *value, None) for value in getattr(rows, kind))
    for kind, grp, value in rows.composite:
        out[kind].append((*key, *value, grp))
    for kind in ("position", "text", "sort"):
        out[kind].extend((*key, *value) for value in getattr(rows, kind))
    for inner_type, local_id, content, inner_rows in rows.contained:
        inner_key = contained_key(resource_type, resource_id, local_id)
        body = orjson.dumps(content).decode()
        out["contained"].append((inner_type, inner_key, resource_type, resource_id, local_id, body))
        flat_rows(inner_type, inner_key, inner_rows, out)


def _copy_flat(
    cur: psycopg.Cursor[Any], resources: list[dict[str, Any]], flat: Flat, now: datetime
) -> None:
    _copy_resources(cur, resources, [orjson.dumps(r).decode() for r in resources], now)
    contained = ("res_type", "res_id", "container_type", "container_id", "local_id", "content")
    if flat["contained"]:
        with cur.copy(f"COPY search_contained ({', '.join(contained)}) FROM STDIN") as cp:
            for row in flat["contained"]:
                cp.write_row(row)
    for kind, (table, columns) in _TABLES.items():
        if flat[kind]:
            with cur.copy(f"COPY {table} ({', '.join(_names(kind, columns))}) FROM STDIN") as cp:
                for row in flat[kind]:
                    cp.write_row(row)


def stamp(resource: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **resource,
        "meta": {**resource.get("meta", {}), "versionId": "1", "lastUpdated": now.isoformat()},
    }


def batch_digest(batch: list[dict[str, Any]]) -> str:
    """A fingerprint of a batch as generated (before stamping): resume compares it."""
    h = hashlib.blake2b(digest_size=16)
    for resource in batch:
        h.update(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS))
        h.update(b"\n")
    return h.hexdigest()


# -- load bookkeeping: which batches of a resumable load are committed ---------------------------
_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS bulk_load_run (load_key text PRIMARY KEY, batch_size integer "
    "NOT NULL, started timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bulk_load_batch (load_key text NOT NULL, batch integer NOT NULL,"
    " resources integer NOT NULL, digest text NOT NULL, PRIMARY KEY (load_key, batch))",
    "CREATE TABLE IF NOT EXISTS bulk_load_dropped_index (name text PRIMARY KEY, ddl text NOT NULL)",
)


@dataclass(frozen=True)
class LoadState:
    """A resumable load as the database records it: batch size, start time (every resource of
    the load has it as `lastUpdated`) and the digest of each committed batch by number."""

    batch_size: int
    started: datetime
    committed: dict[int, tuple[int, str]]  # number -> (resources, digest)


def _exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def load_state(database_url: str, load_key: str) -> LoadState | None:
    with psycopg.connect(libpq(database_url)) as conn:
        if not _exists(conn, "bulk_load_run"):
            return None
        run = conn.execute(
            "SELECT batch_size, started FROM bulk_load_run WHERE load_key = %s", (load_key,)
        ).fetchone()
        if run is None:
            return None
        committed = {
            n: (count, digest)
            for n, count, digest in conn.execute(
                "SELECT batch, resources, digest FROM bulk_load_batch WHERE load_key = %s",
                (load_key,),
            )
        }
    return LoadState(int(run[0]), run[1], committed)


def _begin_run(database_url: str, load_key: str, batch: int, now: datetime) -> None:
    with psycopg.connect(libpq(database_url)) as conn:
        for ddl in _BOOKKEEPING:
            conn.execute(ddl)
        conn.execute(
            "INSERT INTO bulk_load_run (load_key, batch_size, started) VALUES (%s, %s, %s)"
            " ON CONFLICT (load_key) DO NOTHING",
            (load_key, batch, now),
        )


# -- secondary indexes: dropped for a big load, recreated after (and by `db upgrade`) -------------
_LOADED_TABLES = ("resource", "resource_history", "search_contained") + tuple(
    table for table, _columns in _TABLES.values()
)


def restore_indexes(database_url: str, parallel: int = 2) -> list[str]:
    """Recreate every index a bulk load dropped and has not recreated (an interrupted load);
    returns their names.  Safe to call any time (`prepare_database` / `jiayi db upgrade` do)."""
    with psycopg.connect(libpq(database_url)) as conn:
        if not _exists(conn, "bulk_load_dropped_index"):
            return []
        dropped = list(conn.execute("SELECT name, ddl FROM bulk_load_dropped_index ORDER BY name"))
    if not dropped:
        return []

    def build(item: tuple[str, str]) -> str:
        name, ddl = item
        with psycopg.connect(libpq(database_url)) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute(ddl.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
            conn.execute("DELETE FROM bulk_load_dropped_index WHERE name = %s", (name,))
        return name  # index and bookkeeping row in one transaction

    with ThreadPoolExecutor(max(1, parallel)) as pool:
        return list(pool.map(build, dropped))


def drop_indexes(database_url: str) -> list[str]:
    """Drop the non-unique indexes of the tables a bulk load writes, remembering their DDL in
    the same transaction (so `restore_indexes` can always recreate them)."""
    with psycopg.connect(libpq(database_url)) as conn:
        for ddl in _BOOKKEEPING:
            conn.execute(ddl)
        found = list(
            conn.execute(
                "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
                " JOIN pg_namespace n ON n.oid = t.relnamespace"
                " WHERE n.nspname = current_schema() AND NOT i.indisunique"
                " AND NOT i.indisprimary AND t.relname = ANY(%s)",
                (list(_LOADED_TABLES),),
            )
        )
        for name, ddl in found:
            conn.execute(
                "INSERT INTO bulk_load_dropped_index (name, ddl) VALUES (%s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, ddl),
            )
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [name for name, _ddl in found]


def _stored_resources(database_url: str) -> int:
    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute("SELECT count(*) FROM resource").fetchone()
    return int(row[0]) if row else 0


# -- worker processes: extract, COPY and commit their own batches ------------------------------
def _die_with_parent() -> None:
    """Workers must not outlive a killed loader (they would hold batches half done)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if os.getppid() != parent:  # pragma: no cover - the parent died before prctl
        os._exit(1)


@functools.lru_cache(maxsize=1)
def _connection(url: str) -> psycopg.Connection:
    """One connection per worker process, reused for every batch it loads."""
    return psycopg.connect(url)


@dataclass(frozen=True)
class _Job:
    factory: Callable[[], SearchRegistry]
    base_url: str | None
    url: str
    now: datetime
    load_key: str | None
    number: int
    batch: list[dict[str, Any]]


def _load_batch(job: _Job) -> int:
    """Extract, COPY and commit one batch (with its bookkeeping row, in the same transaction)."""
    extractor = _extractor(job.factory, job.base_url)
    stamped = [stamp(r, job.now) for r in job.batch]
    flat: Flat = {kind: [] for kind in (*_TABLES, "contained")}
    for resource in stamped:
        flat_rows(resource["resourceType"], resource["id"], extractor.extract(resource), flat)
    conn = _connection(job.url)
    try:
        with conn.cursor() as cur:
            _copy_flat(cur, stamped, flat, job.now)
            if job.load_key is not None:
                cur.execute(
                    "INSERT INTO bulk_load_batch (load_key, batch, resources, digest)"
                    " VALUES (%s, %s, %s, %s)",
                    (job.load_key, job.number, len(job.batch), batch_digest(job.batch)),
                )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return len(job.batch)


def bulk_load(
    database_url: str,
    resources: Iterable[dict[str, Any]],
    *,
    registry_factory: Callable[[], SearchRegistry] = server_registry,
    base_url: str | None = None,
    workers: int = 2,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    vacuum: bool = True,
    load_key: str | None = None,
    skip: Container[int] = (),
    now: datetime | None = None,
    drop: bool | None = None,
    expected: int | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> int:
    """Load `resources` (each with `resourceType` and `id`); returns how many were written.

    Batch `n` (0-based, `batch` resources each) is extracted, COPYed and committed by a worker
    process on its own connection.  With `load_key`, each committed batch is recorded in
    `bulk_load_batch` in the same transaction, and the batches numbered in `skip` are not
    loaded (a resume: `generator.output.copy_load`).  Secondary indexes: whatever an earlier,
    interrupted load dropped is recreated first; `drop` True (or None and the database holds no
    resources, or fewer than `expected`) drops them for the load and recreates them after.
    `on_phase` hears "indexes" and "statistics" as those steps after the load begin."""
    now = now or datetime.now(UTC)
    restore_indexes(database_url, workers)
    if load_key is not None:
        _begin_run(database_url, load_key, batch, now)
    if drop is None:
        stored = _stored_resources(database_url)
        drop = stored == 0 or (expected is not None and expected >= stored)
    if drop:
        drop_indexes(database_url)
    url = libpq(database_url)
    written = 0
    # no connection of this process is open here: the forked workers inherit none
    with ProcessPoolExecutor(workers, initializer=_die_with_parent) as pool:
        pending: deque[Future[int]] = deque()
        numbered = enumerate(_batches(resources, batch))

        def submit() -> bool:
            for number, chunk in numbered:
                if number in skip:
                    continue
                job = _Job(registry_factory, base_url, url, now, load_key, number, chunk)
                pending.append(pool.submit(_load_batch, job))
                return True
            return False

        while len(pending) < 2 * workers and submit():
            pass
        while pending:
            count = pending.popleft().result()
            submit()
            written += count
            if progress:
                progress(count)
    if drop:
        if on_phase:
            on_phase("indexes")
        restore_indexes(database_url, workers)
    if vacuum:
        if on_phase:
            on_phase("statistics")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    return written
