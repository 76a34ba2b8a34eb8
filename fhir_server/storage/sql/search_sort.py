"""`_sort` on one parameter, read in index order from `search_sort` (fast keyset pages).

Spec: http://hl7.org/fhir/R4/search.html#sort.  The indexer keeps one `search_sort` row per
(resource, parameter with values): the lowest value (ascending key) and the highest (descending
key).  A page walks the `(res_type, param, value, res_id)` index from the cursor and stops after
`limit` matches, instead of computing a sort value for every match; resources without a value
come last (a second walk over the rest, in id order).  The order and the cursors are exactly
those of the generic path in search.py (`sort_expression`), so either may serve any page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, and_, exists, literal, not_, or_, select
from sqlalchemy.sql import Select

from ...search.paging import Cursor
from ...search.params import SearchRequest
from .search_sql import _MISSING_LAST, collate_c
from .search_tables import search_sort
from .tables import resource

_NUMERIC = frozenset({"date", "number", "quantity"})


def applies(request: SearchRequest) -> bool:
    """One sort key on a plain parameter of one resource type: the index-ordered path."""
    if len(request.sort) != 1 or len(request.resource_types) != 1:
        return False
    key = request.sort[0]
    return not (key.param is None or key.path or key.param.type in ("special", "composite"))


def _parts(request: SearchRequest) -> tuple[Any, str, Any]:
    key = request.sort[0]
    assert key.param is not None
    kind = key.param.type
    column = ("num" if kind in _NUMERIC else "str") + ("_hi" if key.descending else "_lo")
    missing = _MISSING_LAST[kind][1 if key.descending else 0]
    return key, column, missing


def valued_query(
    dialect: str,
    request: SearchRequest,
    filtered_select: Callable[[SearchRequest, list[Any]], Select[Any]],
    cursor: Cursor | None,
    limit: int,
) -> Select[Any]:
    """The page's matches that have a sort value, in `search_sort` index order."""
    key, column, _missing = _parts(request)
    (rtype,) = request.resource_types
    s = search_sort.alias("s")
    value = s.c[column]
    r_id = collate_c(resource.c.res_id, dialect)
    q = filtered_select(request, [*resource.c, value.label("sort_0")]).join_from(
        resource,
        s,
        and_(s.c.res_type == resource.c.res_type, s.c.res_id == resource.c.res_id),
    )
    # IS NOT NULL: the condition of the column's partial index (migration 0013)
    q = q.where(s.c.res_type == rtype, s.c.param == key.code, value.is_not(None))
    if cursor is not None:
        after, _t, after_id = cursor.key
        beyond = value < after if key.descending else value > after
        q = q.where(or_(beyond, and_(value == after, r_id > after_id)))
    order = value.desc() if key.descending else value.asc()
    return q.order_by(order, r_id).limit(limit)


def sorted_page(
    conn: Connection,
    dialect: str,
    request: SearchRequest,
    filtered_select: Callable[[SearchRequest, list[Any]], Select[Any]],
    cursor: Cursor | None,
    limit: int,
) -> list[Any] | None:
    """The page's rows (with `sort_0`), or None when this path does not apply."""
    if not applies(request):
        return None
    key, column, missing = _parts(request)
    r_id = collate_c(resource.c.res_id, dialect)
    rows: list[Any] = []
    in_missing = cursor is not None and cursor.key[0] == missing
    if not in_missing:
        rows = list(conn.execute(valued_query(dialect, request, filtered_select, cursor, limit)))
    if len(rows) < limit:
        has_value = exists(
            select(literal(1)).where(
                search_sort.c.res_type == resource.c.res_type,
                search_sort.c.res_id == resource.c.res_id,
                search_sort.c.param == key.code,
                search_sort.c[column].is_not(None),
            )
        )
        q = filtered_select(request, [*resource.c, literal(missing).label("sort_0")]).where(
            not_(has_value)
        )
        if in_missing and cursor is not None:
            q = q.where(r_id > cursor.key[2])
        rows += list(conn.execute(q.order_by(r_id).limit(limit - len(rows))))
    return rows
