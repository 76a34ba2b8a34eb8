"""Search-index tables, one per parameter type, on the shared `metadata` (migration 0002).

Spec: http://hl7.org/fhir/R4/search.html.  Every row is keyed by (res_type, res_id, param) and
belongs to the current version of a live resource; the indexer replaces a resource's rows in the
same transaction as the write.  Strings and the resource keys use the byte-wise "C" collation on
PostgreSQL (keys since migration 0008) so that ordering and prefix ranges behave as SQLite's
BINARY collation does.  Dates are epoch
milliseconds (inclusive [low, high]) so both databases compare plain integers.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text, text

from .tables import JsonDocument, Key, metadata

#: byte-wise comparison on both databases (SQLite's default BINARY collation).
CString = String(255).with_variant(String(255, collation="C"), "postgresql")


def _key_columns(grouped: bool = True) -> list[Column]:
    """(res_type, res_id, param) and, for typed tables, `grp`: the composite value a component
    row belongs to (migration 0004; NULL for ordinary rows)."""
    columns = [
        Column("res_type", Key, nullable=False),
        Column("res_id", Key, nullable=False),
        Column("param", String(100), nullable=False),
    ]
    return [*columns, Column("grp", Integer, nullable=True)] if grouped else columns


search_token = Table(
    "search_token",
    metadata,
    *_key_columns(),
    Column("system", CString, nullable=True),
    Column("code", CString, nullable=True),
    Column("text", CString, nullable=True),
    Index("ix_search_token_value", "res_type", "param", "code", "system"),
    Index("ix_search_token_res", "res_type", "res_id"),
)

search_string = Table(
    "search_string",
    metadata,
    *_key_columns(),
    Column("value", CString, nullable=False),
    Column("exact", Text, nullable=False),
    Index("ix_search_string_value", "res_type", "param", "value"),
    Index("ix_search_string_res", "res_type", "res_id"),
)

search_date = Table(
    "search_date",
    metadata,
    *_key_columns(),
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    Index("ix_search_date_low", "res_type", "param", "low"),
    Index("ix_search_date_high", "res_type", "param", "high"),
    Index("ix_search_date_res", "res_type", "res_id"),
)

search_number = Table(
    "search_number",
    metadata,
    *_key_columns(),
    Column("value", Float(precision=53), nullable=False),
    Index("ix_search_number_value", "res_type", "param", "value"),
    Index("ix_search_number_res", "res_type", "res_id"),
)

search_quantity = Table(
    "search_quantity",
    metadata,
    *_key_columns(),
    Column("system", CString, nullable=True),
    Column("code", CString, nullable=True),
    Column("value", Float(precision=53), nullable=False),
    Index("ix_search_quantity_value", "res_type", "param", "code", "value"),
    Index("ix_search_quantity_res", "res_type", "res_id"),
)

search_reference = Table(
    "search_reference",
    metadata,
    *_key_columns(),
    Column("target_type", Key, nullable=True),
    Column("target_id", Key, nullable=True),
    Column("url", CString, nullable=True),
    Index("ix_search_reference_target", "target_id", "target_type", "param", "res_type"),
    Index("ix_search_reference_url", "url"),
    Index("ix_search_reference_res", "res_type", "res_id"),
)

search_uri = Table(
    "search_uri",
    metadata,
    *_key_columns(),
    Column("value", CString, nullable=False),
    Index("ix_search_uri_value", "res_type", "param", "value"),
    Index("ix_search_uri_res", "res_type", "res_id"),
)

# -- migration 0004 -------------------------------------------------------------------------------
search_position = Table(
    "search_position",
    metadata,
    *_key_columns(grouped=False),
    Column("latitude", Float(precision=53), nullable=False),
    Column("longitude", Float(precision=53), nullable=False),
    # the point on the unit sphere (migration 0012): exact radius tests by chord length
    Column("x", Float(precision=53), nullable=True),
    Column("y", Float(precision=53), nullable=True),
    Column("z", Float(precision=53), nullable=True),
    Index("ix_search_position_value", "res_type", "param", "latitude", "longitude"),
    Index("ix_search_position_res", "res_type", "res_id"),
)

#: `_text` (narrative) and `_content` (every string of the resource), normalised (text.normalize).
search_text = Table(
    "search_text",
    metadata,
    *_key_columns(grouped=False),
    Column("value", Text, nullable=False),
    Index("ix_search_text_res", "res_type", "res_id"),
)

#: One row per (resource, sortable parameter with a value): the lowest and highest sort value,
#: numeric (dates as epoch ms, numbers, quantities) or textual, so `_sort` reads an index in order.
#: A resource has a value for the sort when its row's column is not NULL (`search_sort`).
search_sort = Table(
    "search_sort",
    metadata,
    *_key_columns(grouped=False),
    Column("num_lo", Float(precision=53), nullable=True),
    Column("num_hi", Float(precision=53), nullable=True),
    Column("str_lo", CString, nullable=True),
    Column("str_hi", CString, nullable=True),
    # partial (migration 0013): a row is numeric or textual, so each index skips the other half
    *(
        Index(
            f"ix_search_sort_{c}",
            "res_type",
            "param",
            c,
            "res_id",
            postgresql_where=text(f"{c} IS NOT NULL"),
            sqlite_where=text(f"{c} IS NOT NULL"),
        )
        for c in ("num_lo", "num_hi", "str_lo", "str_hi")
    ),
    Index("ix_search_sort_res", "res_type", "res_id"),
)

#: Contained resources (migration 0012): (type, key) names the contained resource in the index
#: tables; the key holds '#', so it never equals a resource id.  Written and removed with the
#: container's rows.
search_contained = Table(
    "search_contained",
    metadata,
    Column("res_type", Key, primary_key=True),
    Column("res_id", Key, primary_key=True),
    Column("container_type", Key, nullable=False),
    Column("container_id", Key, nullable=False),
    Column("local_id", String(64), nullable=False),
    Column("content", JsonDocument, nullable=False),
    Index("ix_search_contained_container", "container_type", "container_id"),
)

#: named counters, e.g. `registry` (bumped by `$reindex`; workers reload when it moves).
search_state = Table(
    "search_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

#: parameter type → its index table
INDEX_TABLES = {
    "token": search_token,
    "string": search_string,
    "date": search_date,
    "number": search_number,
    "quantity": search_quantity,
    "reference": search_reference,
    "uri": search_uri,
}

#: every per-resource table the indexer maintains
RESOURCE_TABLES = (*INDEX_TABLES.values(), search_position, search_text, search_sort)
