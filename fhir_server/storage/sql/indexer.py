"""`SqlSearchIndexer`: keeps the search-index rows of a resource in step with its current version.

Spec: http://hl7.org/fhir/R4/search.html.  Called by the store inside the writing transaction
(`SearchIndexer` protocol): the old rows go, the new version's rows come in with one bulk insert
per table; a deletion leaves no rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete

from ...search.extract import Extractor, IndexRows
from ...search.registry import SearchRegistry
from ..ports import StoredResource
from .search_tables import INDEX_TABLES, RESOURCE_TABLES, search_position, search_sort, search_text

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
    "position": (search_position, ("param", "latitude", "longitude")),
    "text": (search_text, ("param", "value")),
    "sort": (search_sort, ("param", "num_lo", "num_hi", "str_lo", "str_hi")),
}


class SqlSearchIndexer:
    def __init__(self, registry: SearchRegistry, base_url: str | None = None) -> None:
        self.registry = registry
        self.extractor = Extractor(registry, base_url)

    def index(self, conn: Connection, dialect: str, record: StoredResource) -> None:
        from .search_reindex import sync_registry

        sync_registry(conn, self.registry)  # a `$reindex` elsewhere may have changed parameters
        rows = None
        if not record.deleted and record.content is not None:
            rows = self.extractor.extract(record.content)
        # Version 1 is a resource's first appearance: it cannot have rows to remove yet.
        self.write_rows(conn, record.resource_type, record.id, rows, fresh=record.version_id == 1)

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
            for table in RESOURCE_TABLES:
                conn.execute(
                    delete(table).where(
                        table.c.res_type == resource_type, table.c.res_id == resource_id
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
    return INDEX_TABLES[kind] if kind in INDEX_TABLES else _EXTRA[kind][0]


def table_rows(
    resource_type: str, resource_id: str, rows: IndexRows
) -> dict[str, list[dict[str, Any]]]:
    """Row dicts per table kind (typed kinds include composite component rows with their `grp`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, names in _COLUMNS.items():
        out[kind] = [
            {**_row(resource_type, resource_id, names, v), "grp": None} for v in getattr(rows, kind)
        ]
    for kind, grp, value in rows.composite:
        out[kind].append({**_row(resource_type, resource_id, _COLUMNS[kind], value), "grp": grp})
    for kind, (_t, names) in _EXTRA.items():
        out[kind] = [_row(resource_type, resource_id, names, v) for v in getattr(rows, kind)]
    return out


def _row(
    resource_type: str, resource_id: str, names: tuple[str, ...], value: tuple[Any, ...]
) -> dict[str, Any]:
    row = dict(zip(names, value, strict=True))
    row["res_type"] = resource_type
    row["res_id"] = resource_id
    return row
