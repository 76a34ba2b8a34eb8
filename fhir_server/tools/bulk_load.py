"""Bulk loader: many resources into PostgreSQL fast — `resource`, `resource_history` and every
search-index table written with `COPY … FROM STDIN` (psycopg 3), index rows computed by the same
`search.extract.Extractor` the write path uses (in worker processes).

Used by the search benchmark (`benchmarks/search.py`) and meant for the synthetic-population
generator.  It writes version 1 of new resources only (no version checks, no validation): load into
an empty or disjoint database; it ends with `VACUUM ANALYZE` (planner statistics and the
visibility map for index-only scans).

    bulk_load(database_url, resources, registry_factory=server_registry, workers=2, progress=cb)
        -> int

The input is consumed lazily: at most `2 × workers` batches are in flight, so a stream of a
million resources never sits in memory.  The registry is the server's (R4, the guide's
SearchParameters, computed parameters), so the rows are those the API would write.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
import psycopg
from fhirpathpy.models import models

from ..search.extract import Extractor, _Node
from ..search.registry import SearchParam, SearchRegistry, narrow_expression, server_registry
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


# -- a fast path for the plain expressions most parameters have ----------------------------------
#: one step: a field, `.where(field='literal')`, `.extension('url')`, `.as(T)` / `.ofType(T)`
_STEP = re.compile(
    r"\.(?:(?P<field>[a-z][A-Za-z0-9]*)(?![A-Za-z0-9(])"
    r"|where\((?P<wfield>[a-z][A-Za-z0-9]*)\s*=\s*'(?P<wvalue>[^'\\]*)'\)"
    r"|extension\('(?P<url>[^'\\]+)'\)"
    r"|(?:as|ofType)\((?P<type>[A-Za-z]+)\))"
)
_AS = re.compile(r"^\((?P<path>[^()]+) as (?P<type>[A-Za-z]+)\)$")
Step = tuple[str, str, str | None]  # (kind, name, value)


def plain_path(expression: str, resource_type: str) -> list[list[Step]] | None:
    """The steps of each `|` alternative of `expression` when every one is a plain path
    (`Type.a.b`, `.where(f='x')`, `.extension('url')`, `.as(T)`, `(Type.a as T)`); else None."""
    out: list[list[Step]] = []
    for part in (p.strip() for p in expression.split(" | ")):
        cast = None
        if (m := _AS.match(part)) is not None:
            part, cast = m["path"].strip(), m["type"]
        if not part.startswith(resource_type + "."):
            return None
        rest, steps = part[len(resource_type) :], list[Step]()
        while rest:
            m = _STEP.match(rest)
            if m is None:
                return None
            if m["field"]:
                steps.append(("field", m["field"], None))
            elif m["wfield"]:
                steps.append(("where", m["wfield"], m["wvalue"]))
            elif m["url"]:
                steps.append(("extension", m["url"], None))
            else:
                steps.append(("as", m["type"], None))
            rest = rest[m.end() :]
        if cast:
            steps.append(("as", cast, None))
        out.append(steps)
    return out


class _Slow(Exception):
    """The data needs the FHIRPath engine (a primitive's extension, `as` on many items …)."""


_MODEL: dict[str, Any] = models["r4"]


def _child(path: str, item: Any, name: str) -> list[tuple[str, Any]]:
    """`item.name` as the FHIRPath engine reads it (its member invocation): the child's type
    from the model, a choice element resolved to the type present."""
    if not isinstance(item, dict):
        raise _Slow
    child = f"{path}.{name}"
    child = _MODEL["pathsDefinedElsewhere"].get(child, child)
    value = None
    choices = _MODEL["choiceTypePaths"].get(child)
    if choices:
        for actual in choices:
            if f"_{name}{actual}" in item:
                raise _Slow
            value = item.get(f"{name}{actual}")
            if value is not None:
                child += actual
                break
    else:
        if f"_{name}" in item:
            raise _Slow
        value = item.get(name)
        if name == "extension":
            child = "Extension"
    child = _MODEL["path2Type"].get(child, child)
    if value is None:
        return []
    if isinstance(value, list):
        if any(v is None for v in value):
            raise _Slow
        return [(child, v) for v in value]
    return [(child, value)]


def run_plain(
    paths: list[list[Step]], resource: dict[str, Any], resource_type: str
) -> list[tuple[str, Any]]:
    """(type, value) of a plain-path expression (raises _Slow when the engine must decide)."""
    out: list[tuple[str, Any]] = []
    for steps in paths:
        items: list[tuple[str, Any]] = [(resource_type, resource)]
        for kind, name, value in steps:
            if not items:
                break
            if kind == "field":
                items = [c for path, it in items for c in _child(path, it, name)]
            elif kind == "where":
                if any(not isinstance(it, dict) for _p, it in items):
                    raise _Slow
                items = [(p, it) for p, it in items if it.get(name) == value]
            elif kind == "extension":
                found = []
                for _path, it in items:
                    if not isinstance(it, dict):
                        raise _Slow
                    exts = [e for e in it.get("extension") or [] if e.get("url") == name]
                    if exts:  # the engine's extension(url) takes the first match
                        found.append(("Extension", exts[0]))
                items = found
            else:  # `as T`: a singleton of type T (the engine refuses more than one item)
                if len(items) > 1:
                    raise _Slow
                if any(p != name for p, _it in items):
                    raise _Slow  # a subtype or another type: the engine's type test decides

        out.extend(items)
    return out


class FastExtractor(Extractor):
    """`Extractor` that reads plain paths straight from the JSON and leaves every other
    expression, and any data the plain reading cannot decide, to the FHIRPath engine; the same
    rows either way (tests/generator/test_bulk_load.py compares them)."""

    def __init__(self, registry: SearchRegistry, base_url: str | None = None) -> None:
        super().__init__(registry, base_url)
        self._plain: dict[tuple[str, str], list[list[Step]] | None] = {}

    def values(self, resource: dict[str, Any], param: SearchParam) -> list[_Node]:
        key = (resource["resourceType"], param.code)
        if key not in self._plain:
            expression, required = narrow_expression(param.expression, key[0])
            self._plain[key] = plain_path(expression, key[0]) if expression else None
        paths = self._plain[key]
        if paths is not None:
            try:
                found = run_plain(paths, resource, key[0])
                return [_Node(t, v) for t, v in found if v is not None]
            except _Slow:
                pass
        return super().values(resource, param)


@functools.lru_cache(maxsize=1)
def _extractor(factory: Callable[[], SearchRegistry], base_url: str | None) -> Extractor:
    """One extractor per worker process (its compiled expressions are reused across batches)."""
    return FastExtractor(factory(), base_url)


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
    bodies = [orjson.dumps(res).decode() for res, _rows in done]  # once for both tables
    with conn.cursor() as cur:
        with cur.copy(
            "COPY resource (res_type, res_id, version_id, last_updated, deleted, content) FROM STDIN"
        ) as cp:
            for (res, _rows), body in zip(done, bodies, strict=True):
                cp.write_row((res["resourceType"], res["id"], 1, now, False, body))
        with cur.copy(
            "COPY resource_history (res_type, res_id, version_id, last_updated, method, deleted, content) FROM STDIN"
        ) as cp:
            for (res, _rows), body in zip(done, bodies, strict=True):
                cp.write_row((res["resourceType"], res["id"], 1, now, "POST", False, body))
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
    registry_factory: Callable[[], SearchRegistry] = server_registry,
    base_url: str | None = None,
    workers: int = 2,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    vacuum: bool = True,
) -> int:
    """Load `resources` (each with `resourceType` and `id`); returns how many were written."""
    now = datetime.now(UTC)
    stamped = (stamp(r, now) for r in resources)
    written = 0
    with (
        psycopg.connect(libpq(database_url)) as conn,
        ProcessPoolExecutor(workers) as pool,
    ):
        pending: deque[Future[Any]] = deque()
        chunks = _batches(stamped, batch)

        def submit() -> bool:
            chunk = next(chunks, None)
            if chunk is None:
                return False
            pending.append(pool.submit(_extract, (registry_factory, base_url, chunk)))
            return True

        while len(pending) < 2 * workers and submit():
            pass
        while pending:
            done = pending.popleft().result()
            submit()
            _copy(conn, done, now)
            conn.commit()
            written += len(done)
            if progress:
                progress(len(done))
    if vacuum:
        with psycopg.connect(libpq(database_url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    return written
