"""Many new resources in one statement per table, inside the caller's transaction.

The approach of `fhir_server/tools/bulk_load.py` (COPY on PostgreSQL) for the write path: version 1
of each resource into `resource` and `resource_history` (history `seq` numbers drawn from the
table's own sequence first, so the outbox can name them), the search-index rows the indexer would
write (`indexer.table_rows`, computed by the caller), and the outbox event of each resource through
the store's `OutboxHook`, exactly as `SqlResourceStore.write` records them one by one.  SQLite gets
multi-row inserts (`executemany`) with the same rows.

A resource that exists already (any version, deleted too) makes the whole call fail with
`VersionConflict`; the transaction must then be rolled back (PostgreSQL aborts it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, func, select, text, tuple_
from sqlalchemy.exc import IntegrityError

from ..ports import StoredResource, VersionConflict
from .indexer import _EXTRA
from .search_tables import INDEX_TABLES, search_contained
from .tables import resource, resource_history

#: table kind → (table, columns after res_type/res_id), as `indexer.table_rows` yields them
_KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "token": (INDEX_TABLES["token"], ("param", "system", "code", "text", "grp")),
    "string": (INDEX_TABLES["string"], ("param", "value", "exact", "grp")),
    "date": (INDEX_TABLES["date"], ("param", "low", "high", "grp")),
    "number": (INDEX_TABLES["number"], ("param", "value", "grp")),
    "quantity": (INDEX_TABLES["quantity"], ("param", "system", "code", "value", "grp")),
    "reference": (INDEX_TABLES["reference"], ("param", "target_type", "target_id", "url", "grp")),
    "uri": (INDEX_TABLES["uri"], ("param", "value", "grp")),
    **{kind: (table, names) for kind, (table, names) in _EXTRA.items()},
    "contained": (search_contained, ("container_type", "container_id", "local_id", "content")),
}


def _json(content: Mapping[str, Any] | None) -> str | None:
    return None if content is None else orjson.dumps(content).decode()


def _cell(value: Any) -> Any:
    return _json(value) if isinstance(value, dict) else value


def _history_seqs(conn: Connection, dialect: str, n: int) -> list[int]:
    if dialect == "postgresql":
        rows = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('resource_history', 'seq')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": n},
        )
        return [int(r[0]) for r in rows]
    # SQLite: writers hold the database lock (BEGIN IMMEDIATE), so the next numbers are ours.
    top = conn.execute(select(func.coalesce(func.max(resource_history.c.seq), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + n))


def _check_new(conn: Connection, records: Sequence[StoredResource]) -> None:
    keys = [(r.resource_type, r.id) for r in records]
    if len(set(keys)) != len(keys):
        raise VersionConflict("the batch names one resource twice")
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        clash = conn.execute(
            select(resource.c.res_type, resource.c.res_id)
            .where(tuple_(resource.c.res_type, resource.c.res_id).in_(chunk))
            .limit(1)
        ).first()
        if clash is not None:
            raise VersionConflict(f"{clash[0]}/{clash[1]} exists already")


def write_new(
    conn: Connection,
    dialect: str,
    records: Sequence[StoredResource],
    index_rows: Sequence[Mapping[str, list[dict[str, Any]]] | None],
) -> list[StoredResource]:
    """Store version 1 of every record with its index rows (`indexer.table_rows` shape; None:
    none).  Returns the records with their history `seq`."""
    if not records:
        return []
    _check_new(conn, records)
    seqs = _history_seqs(conn, dialect, len(records))
    stored = [
        StoredResource(**{**r.__dict__, "seq": s}) for r, s in zip(records, seqs, strict=True)
    ]
    try:
        if dialect == "postgresql":
            _copy(conn, stored, index_rows)
        else:
            _insert(conn, stored, index_rows)
    except IntegrityError as exc:  # a concurrent writer created one of them meanwhile
        raise VersionConflict(str(exc.orig)) from exc
    return stored


def _insert(
    conn: Connection,
    stored: Sequence[StoredResource],
    index_rows: Sequence[Mapping[str, list[dict[str, Any]]] | None],
) -> None:
    conn.execute(
        resource.insert(),
        [
            {
                "res_type": r.resource_type,
                "res_id": r.id,
                "version_id": r.version_id,
                "last_updated": r.last_updated,
                "deleted": r.deleted,
                "content": r.content,
            }
            for r in stored
        ],
    )
    conn.execute(
        resource_history.insert(),
        [
            {
                "seq": r.seq,
                "res_type": r.resource_type,
                "res_id": r.id,
                "version_id": r.version_id,
                "last_updated": r.last_updated,
                "method": r.method,
                "deleted": r.deleted,
                "content": r.content,
            }
            for r in stored
        ],
    )
    for kind, (table, _names) in _KINDS.items():
        batch = [row for rows in index_rows if rows for row in rows.get(kind, [])]
        if batch:
            conn.execute(table.insert(), batch)


def _copy(
    conn: Connection,
    stored: Sequence[StoredResource],
    index_rows: Sequence[Mapping[str, list[dict[str, Any]]] | None],
) -> None:
    import psycopg

    raw = conn.connection.driver_connection  # the psycopg 3 connection of this transaction
    contents = [_json(r.content) for r in stored]
    try:
        with raw.cursor() as cur:  # type: ignore[union-attr]
            _copy_rows(cur, stored, contents, index_rows)
    except psycopg.errors.UniqueViolation as exc:
        raise VersionConflict(str(exc)) from exc


def _copy_rows(
    cur: Any,
    stored: Sequence[StoredResource],
    contents: Sequence[str | None],
    index_rows: Sequence[Mapping[str, list[dict[str, Any]]] | None],
) -> None:
    with cur.copy(
        "COPY resource (res_type, res_id, version_id, last_updated, deleted, content) FROM STDIN"
    ) as cp:
        for r, content in zip(stored, contents, strict=True):
            cp.write_row((r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, content))
    with cur.copy(
        "COPY resource_history (seq, res_type, res_id, version_id, last_updated, method, "
        "deleted, content) FROM STDIN"
    ) as cp:
        for r, content in zip(stored, contents, strict=True):
            cp.write_row(
                (r.seq, r.resource_type, r.id, r.version_id, r.last_updated, r.method)
                + (r.deleted, content)
            )
    for kind, (table, names) in _KINDS.items():
        batch = [row for rows in index_rows if rows for row in rows.get(kind, [])]
        if not batch:
            continue
        columns = ("res_type", "res_id", *names)
        with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in batch:  # a contained resource's content is JSON
                cp.write_row(tuple(_cell(row.get(c)) for c in columns))
