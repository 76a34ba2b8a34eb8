"""`SqlSearchIndexer`: keeps the search-index rows of a resource in step with its current version.

Spec: http://hl7.org/fhir/R4/search.html.  Called by the store inside the writing transaction
(`SearchIndexer` protocol): the old rows go, the new version's rows come in with one bulk insert
per table; a deletion leaves no rows.  Contained resources are indexed under their
`contained_key` (`search_contained` lists them) and replaced with their container.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from ...search.extract import Extractor, IndexRows, contained_key
from ...search.registry import SearchRegistry
from ..ports import StoredResource
from .search_tables import (
    INDEX_TABLES,
    RESOURCE_TABLES,
    search_contained,
    search_position,
    search_sort,
    search_text,
)

_COLUMNS = {
    "token": ("param", "system", "code", "text"),
    "string": ("param", "value", "exact"),
    "date": ("param", "low", "high"),
    "number": ("param", "value"),
    "quantity": ("param", "system", "code", "value"),
    "reference": ("param", "target_type", "target_id", "url"),
    "uri": ("param", "value"),
}
_EXTRA = {
    "position": (search_position, ("param", "latitude", "longitude", "x", "y", "z")),
    "text": (search_text, ("param", "value")),
    "sort": (search_sort, ("param", "num_lo", "num_hi", "str_lo", "str_hi")),
}


class SqlSearchIndexer:
    def __init__(self, registry: SearchRegistry, base_url: str | None = None) -> None:
        self.registry = registry
        self.extractor = Extractor(registry, base_url)

    def index(self, conn: Connection, dialect: str, record: StoredResource) -> None:
        rows = self.extract(conn, record)
        # Version 1 is a resource's first appearance: it cannot have rows to remove yet.
        self.write_rows(conn, record.resource_type, record.id, rows, fresh=record.version_id == 1)

    def extract(self, conn: Connection, record: StoredResource) -> IndexRows | None:
        """The index rows of `record`'s version (None: a deletion, no rows)."""
        from .search_reindex import sync_registry

        sync_registry(conn, self.registry)  # a `$reindex` elsewhere may have changed parameters
        if record.deleted or record.content is None:
            return None
        return self.extractor.extract(record.content)

    def write_rows(
        self,
        conn: Connection,
        resource_type: str,
        resource_id: str,
        rows: IndexRows | None,
        fresh: bool = False,
    ) -> None:
        """Replace the index rows of one resource (`rows` None: remove them)."""
        if not fresh:
            c = search_contained
            inner = conn.execute(
                select(c.c.res_type, c.c.res_id).where(
                    c.c.container_type == resource_type, c.c.container_id == resource_id
                )
            ).all()
            for table in RESOURCE_TABLES:
                conn.execute(
                    delete(table).where(
                        table.c.res_type == resource_type, table.c.res_id == resource_id
                    )
                )
                for key_type, key in inner:
                    conn.execute(
                        delete(table).where(table.c.res_type == key_type, table.c.res_id == key)
                    )
            if inner:
                conn.execute(
                    delete(c).where(
                        c.c.container_type == resource_type, c.c.container_id == resource_id
                    )
                )
        if rows is None:
            return
        for kind, batch in table_rows(resource_type, resource_id, rows).items():
            if batch:
                conn.execute(_table(kind).insert(), batch)

    def reindex(self, conn: Connection, record: StoredResource) -> None:
        """Recompute one resource's rows (for `$reindex` after a SearchParameter change)."""
        self.index(conn, conn.dialect.name, record)


def _table(kind: str) -> Any:
    if kind == "contained":
        return search_contained
    return INDEX_TABLES[kind] if kind in INDEX_TABLES else _EXTRA[kind][0]


def table_rows(
    resource_type: str, resource_id: str, rows: IndexRows
) -> dict[str, list[dict[str, Any]]]:
    """Row dicts per table kind (typed kinds include composite component rows with their `grp`;
    contained resources add their own rows under their key, and a `contained` kind)."""
    out: dict[str, list[dict[str, Any]]] = {"contained": []}
    for kind, names in _COLUMNS.items():
        out[kind] = [
            {**_row(resource_type, resource_id, names, v), "grp": None} for v in getattr(rows, kind)
        ]
    for kind, grp, value in rows.composite:
        out[kind].append({**_row(resource_type, resource_id, _COLUMNS[kind], value), "grp": grp})
    for kind, (_t, names) in _EXTRA.items():
        out[kind] = [_row(resource_type, resource_id, names, v) for v in getattr(rows, kind)]
    for inner_type, local_id, content, inner_rows in rows.contained:
        key = contained_key(resource_type, resource_id, local_id)
        out["contained"].append(
            {
                "res_type": inner_type,
                "res_id": key,
                "container_type": resource_type,
                "container_id": resource_id,
                "local_id": local_id,
                "content": content,
            }
        )
        for kind, batch in table_rows(inner_type, key, inner_rows).items():
            out.setdefault(kind, []).extend(batch)
    return out


def _row(
    resource_type: str, resource_id: str, names: tuple[str, ...], value: tuple[Any, ...]
) -> dict[str, Any]:
    row = dict(zip(names, value, strict=True))
    row["res_type"] = resource_type
    row["res_id"] = resource_id
    return row
