"""One resource write in one PostgreSQL statement (one round trip).

`SqlResourceStore.write` on PostgreSQL: the current row (INSERT … ON CONFLICT DO NOTHING for a
new resource, UPDATE … WHERE version_id = previous for a new version), its history row, the
search-index rows of the new version (the old ones deleted), and the outbox event with its delivery
rows, as data-modifying CTEs of one statement.  Every part but the first runs only when the first
wrote its row (`FROM r` / `EXISTS (SELECT 1 FROM r)`), so a lost race (no row returned) changes
nothing and the caller raises `VersionConflict` — as the statement-by-statement path does.

The index rows travel as one JSON document (`{"token": [row, …], …}`, the `indexer.table_rows`
shape) unpacked by `jsonb_to_recordset`, so the statement text is the same for every write of
a kind and psycopg can prepare it.  The sub-statements of one statement do not see each other's
changes: the DELETEs remove the old version's rows only, the INSERTs add the new ones.  A new
version with contained resources keeps the statement-by-statement path (their `search_contained`
keys may be the same as the old version's, a primary key the DELETE and INSERT of one statement
must not both touch); `can_write_at_once` says when this path applies.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Column, Connection, Float, Integer

from ...outbox.writer import LIVE_SUBSCRIPTION_WHERE, subscription_live
from ..ports import StoredResource
from .bulk_write import _KINDS
from .search_tables import RESOURCE_TABLES, search_contained, search_token

IndexTableRows = Mapping[str, list[dict[str, Any]]]

#: kinds whose rows hold floats (a non-finite one cannot travel as JSON)
_FLOAT_KINDS = ("number", "quantity", "position", "sort")


def _pg_type(column: Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, JSON):
        return "jsonb"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Float):
        return "double precision"
    return "text"


def _index_insert(kind: str, table: Any, names: tuple[str, ...]) -> str:
    columns = ("res_type", "res_id", *names)
    quoted = ", ".join(f'"{c}"' for c in columns)
    record = ", ".join(f'"{c}" {_pg_type(table.c[c])}' for c in columns)
    return (
        f"i_{kind} AS (INSERT INTO {table.name} ({quoted}) SELECT {quoted} "
        f"FROM jsonb_to_recordset(%(rows)s::jsonb -> '{kind}') AS x({record}) "
        "WHERE EXISTS (SELECT 1 FROM r))"
    )


def _index_deletes(contained: bool) -> list[str]:
    """The DELETEs of the old version's rows; `contained`: its contained resources' too."""
    c = search_contained.name
    inner = (
        f"SELECT res_type, res_id FROM {c} "
        "WHERE container_type = %(res_type)s AND container_id = %(res_id)s"
    )
    parts = []
    for table in RESOURCE_TABLES:
        parts.append(
            f"d_{table.name} AS (DELETE FROM {table.name} WHERE EXISTS (SELECT 1 FROM r) AND "
            "res_type = %(res_type)s AND res_id = %(res_id)s)"
        )
        if contained:
            parts.append(
                f"dc_{table.name} AS (DELETE FROM {table.name} WHERE EXISTS (SELECT 1 FROM r) "
                f"AND (res_type, res_id) IN ({inner}))"
            )
    if contained:
        parts.append(
            f"d_{c} AS (DELETE FROM {c} WHERE EXISTS (SELECT 1 FROM r) AND "
            "container_type = %(res_type)s AND container_id = %(res_id)s)"
        )
    return parts


_CREATE_ROW = (
    "r AS (INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content) "
    "VALUES (%(res_type)s, %(res_id)s, %(version_id)s, %(last_updated)s, %(deleted)s, "
    "%(content)s::jsonb) ON CONFLICT DO NOTHING RETURNING 1)"
)
_UPDATE_ROW = (
    "r AS (UPDATE resource SET version_id = %(version_id)s, last_updated = %(last_updated)s, "
    "deleted = %(deleted)s, content = %(content)s::jsonb WHERE res_type = %(res_type)s AND "
    "res_id = %(res_id)s AND version_id = %(previous)s RETURNING 1)"
)
_HISTORY = (
    "h AS (INSERT INTO resource_history (res_type, res_id, version_id, last_updated, method, "
    "deleted, content) SELECT %(res_type)s, %(res_id)s, %(version_id)s, %(last_updated)s, "
    "%(method)s, %(deleted)s, %(content)s::jsonb FROM r RETURNING seq)"
)
#: the event, its consumers' delivery rows and those of the gated consumers while a Subscription
#: is live (`outbox.writer.LIVE_SUBSCRIPTION_WHERE`) after this write: the statement's snapshot
#: holds the index rows of before it, so a Subscription being written counts by its new status
#: (`self_live`) instead; no event when nobody takes it
_EVENT = (
    "g AS (SELECT cardinality(%(consumers)s::text[]) > 0 AS always, "
    "cardinality(%(gated)s::text[]) > 0 AND (%(self_live)s OR EXISTS (SELECT 1 FROM "
    f"{search_token.name} WHERE {LIVE_SUBSCRIPTION_WHERE} "
    "AND NOT (%(res_type)s = 'Subscription' AND res_id = %(res_id)s))) AS live)",
    "e AS (INSERT INTO outbox_event (res_type, res_id, version_id, history_seq, method, "
    "occurred_at, topics) SELECT %(res_type)s, %(res_id)s, %(version_id)s, h.seq, %(method)s, "
    "%(last_updated)s, %(topics)s::jsonb FROM h, g WHERE g.always OR g.live RETURNING seq)",
    "o AS (INSERT INTO outbox_delivery (consumer, event_seq, status, attempts) "
    "SELECT name, e.seq, 'pending', 0 FROM e, g, unnest(%(consumers)s::text[] || "
    "CASE WHEN g.live THEN %(gated)s::text[] ELSE '{}'::text[] END) AS name)",
)


@functools.lru_cache(maxsize=512)
def statement(
    update: bool, index: bool, kinds: tuple[str, ...], event: bool, contained: bool
) -> str:
    """The statement of a write: a new version (`update`) or a new resource; with the index
    (`index`: the old rows deleted, `contained`: those of the old version's contained resources
    too) and the INSERTs of the table `kinds` that have rows; with an outbox `event`.  Only the
    parts a write needs, so PostgreSQL plans no more than that (a pure function, memoised)."""
    parts = [_UPDATE_ROW if update else _CREATE_ROW, _HISTORY]
    if index and update:
        parts.extend(_index_deletes(contained))
    for kind in kinds:
        table, names = _KINDS[kind]
        parts.append(_index_insert(kind, table, names))
    if event:
        parts.extend(_EVENT)
        tail = "SELECT h.seq, (SELECT seq FROM e) FROM h"
    else:
        tail = "SELECT h.seq, NULL FROM h"
    return "WITH " + ",\n".join(parts) + "\n" + tail


def can_write_at_once(rows: IndexTableRows | None, fresh: bool) -> bool:
    """Whether `write_at_once` can store these index rows: no contained resources in a new
    version (see the module's docstring) and only finite floats."""
    if rows is None:
        return True
    if rows.get("contained") and not fresh:
        return False
    for kind in _FLOAT_KINDS:
        for row in rows.get(kind, ()):
            for value in row.values():
                if isinstance(value, float) and not math.isfinite(value):
                    return False
    return True


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def write_at_once(
    conn: Connection,
    record: StoredResource,
    previous_version: int,
    rows: IndexTableRows | None,
    index: bool,
    event: tuple[Sequence[str], Sequence[str], Sequence[str]] | None,
    old_contained: bool = True,
) -> tuple[int, int | None] | None:
    """Store `record` (version `previous_version` + 1; 0: a new resource) with its index rows
    (`index`: replace the resource's rows; `rows` None: none) and its outbox event (`event`:
    (topics, consumer names, names of consumers gated on a live Subscription); None: no event).
    Returns (history seq, event seq or None), or None when the row was not written (exists
    already / changed concurrently).
    `old_contained` False: the previous version had no contained resources (fewer DELETEs)."""
    params: dict[str, Any] = {
        "res_type": record.resource_type,
        "res_id": record.id,
        "version_id": record.version_id,
        "last_updated": record.last_updated,
        "deleted": record.deleted,
        "method": record.method,
        "content": None if record.content is None else _json(record.content),
        "previous": previous_version,
    }
    kinds: tuple[str, ...] = ()
    if index and rows:
        kinds = tuple(kind for kind in _KINDS if rows.get(kind))
        params["rows"] = _json({kind: rows[kind] for kind in kinds})
    if event is not None:
        params["topics"] = _json(list(event[0]))
        params["consumers"] = list(event[1])
        params["gated"] = list(event[2])
        params["self_live"] = subscription_live(record)
    sql = statement(previous_version != 0, index, kinds, event is not None, old_contained)
    found = conn.exec_driver_sql(sql, params).first()
    if found is None:
        return None
    return int(found[0]), None if found[1] is None else int(found[1])
