"""Bulk loader: many resources into PostgreSQL fast — `resource`, `resource_history` and every
search-index table written with `COPY … FROM STDIN` (psycopg 3), index rows computed by the same
`search.extract.Extractor` the write path uses (in worker processes).

Used by the search benchmark (`benchmarks/search.py`) and meant for the synthetic-population
generator.  It writes version 1 of new resources only (no version checks, no validation): load into
an empty or disjoint database, then `ANALYZE`.

    bulk_load(database_url, resources, registry_factory=r4_registry, workers=2, progress=cb) -> int
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import psycopg

from ..search.extract import Extractor
from ..search.registry import SearchRegistry, r4_registry
from ..storage.sql.indexer import table_rows

_TABLES = {
    "token": ("search_token", ("system", "code", "text")),
    "string": ("search_string", ("value", "exact")),
    "date": ("search_date", ("low", "high")),
    "number": ("search_number", ("value",)),
    "quantity": ("search_quantity", ("system", "code", "value")),
    "reference": ("search_reference", ("target_type", "target_id", "url")),
    "uri": ("search_uri", ("value",)),
    "position": ("search_position", ("latitude", "longitude")),
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
    with conn.cursor() as cur:
        with cur.copy(
            "COPY resource (res_type, res_id, version_id, last_updated, deleted, content) FROM STDIN"
        ) as cp:
            for res, _rows in done:
                cp.write_row(
                    (
                        res["resourceType"],
                        res["id"],
                        1,
                        now,
                        False,
                        json.dumps(res, ensure_ascii=False),
                    )
                )
        with cur.copy(
            "COPY resource_history (res_type, res_id, version_id, last_updated, method, deleted, content) FROM STDIN"
        ) as cp:
            for res, _rows in done:
                cp.write_row(
                    (
                        res["resourceType"],
                        res["id"],
                        1,
                        now,
                        "POST",
                        False,
                        json.dumps(res, ensure_ascii=False),
                    )
                )
        for kind, (table, columns) in _TABLES.items():
            names = (
                "res_type",
                "res_id",
                "param",
                *columns,
                *(("grp",) if kind in _GROUPED else ()),
            )
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp:
                for _res, rows in done:
                    for row in rows.get(kind, []):
                        cp.write_row(tuple(row.get(n) for n in names))


def stamp(resource: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **resource,
        "meta": {**resource.get("meta", {}), "versionId": "1", "lastUpdated": now.isoformat()},
    }


def bulk_load(
    database_url: str,
    resources: Iterable[dict[str, Any]],
    *,
    registry_factory: Callable[[], SearchRegistry] = r4_registry,
    base_url: str | None = None,
    workers: int = 2,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Load `resources` (each with `resourceType` and `id`); returns how many were written."""
    now = datetime.now(UTC)
    stamped = (stamp(r, now) for r in resources)
    written = 0
    with (
        psycopg.connect(libpq(database_url)) as conn,
        ProcessPoolExecutor(workers) as pool,
    ):
        jobs = ((registry_factory, base_url, b) for b in _batches(stamped, batch))
        for done in pool.map(_extract, jobs):
            _copy(conn, done, now)
            conn.commit()
            written += len(done)
            if progress:
                progress(len(done))
        conn.execute("ANALYZE")
        conn.commit()
    return written
