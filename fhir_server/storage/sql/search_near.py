"""Location `near`: distance-ordered pages (http://hl7.org/fhir/R4/location.html#positional).

The SQL condition (search_sql `_near`) keeps the candidates within the radius (a bounding box on
the `search_position` index, then the exact chord test); here the great-circle (haversine)
distance orders them, identically on SQLite and PostgreSQL.  The keyset cursor holds
(distance, type, id).  Only a plain `near` search is ordered by distance: an explicit `_sort` wins.
`src` is what the search iterates (`resource`, or the contained Locations of
`_containedType=contained`, search.py `source`): contained Locations are ordered by distance too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, and_, select
from sqlalchemy.sql import Select

from ...search import values as v
from ...search.paging import Cursor
from ...search.params import Clause, SearchRequest
from .search_sql import EARTH_KM
from .search_tables import search_position
from .tables import resource


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def near_clause(request: SearchRequest) -> Clause | None:
    for c in request.clauses:
        if (
            isinstance(c, Clause)
            and not c.path
            and c.param.type == "special"
            and c.modifier is None
        ):
            return c
    return None


def distances(points: list[tuple[float, float]], values: list[v.NearValue]) -> float | None:
    """The smallest distance from any position to any searched point within its radius."""
    best: float | None = None
    for lat, lon in points:
        for val in values:
            d = haversine_km(val.latitude, val.longitude, lat, lon)
            if d <= val.km and (best is None or d < best):
                best = d
    return best


def near_query(
    request: SearchRequest,
    filtered_select: Callable[..., Select[Any]],
    src: Any = resource,
) -> Select[Any] | None:
    """The candidates of a distance-ordered search with their positions (None: not one)."""
    clause = near_clause(request)
    if clause is None or request.sort:
        return None
    matches = filtered_select(request, [src.c.res_type, src.c.res_id], src).subquery()
    p = search_position
    return select(matches.c.res_type, matches.c.res_id, p.c.latitude, p.c.longitude).join(
        p,
        and_(
            p.c.res_type == matches.c.res_type,
            p.c.res_id == matches.c.res_id,
            p.c.param == clause.param.code,
        ),
    )


def near_page(
    conn: Connection,
    request: SearchRequest,
    filtered_select: Callable[..., Select[Any]],
    cursor: Cursor | None,
    limit: int,
    src: Any = resource,
) -> tuple[list[Any], list[tuple[Any, ...]], int] | None:
    """(rows, sort keys, total) of a distance-ordered page, or None when not a near search."""
    clause = near_clause(request)
    q = near_query(request, filtered_select, src)
    if clause is None or q is None:
        return None
    values = [x for x in clause.values if isinstance(x, v.NearValue)]
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for res_type, res_id, lat, lon in conn.execute(q):
        points.setdefault((res_type, res_id), []).append((lat, lon))
    ranked = sorted(
        (d, t, i) for (t, i), pts in points.items() if (d := distances(pts, values)) is not None
    )
    total = len(ranked)
    if cursor is not None:
        after = tuple(cursor.key)
        ranked = [r for r in ranked if r > after]
    page = ranked[:limit]
    rows = _load(conn, [(t, i) for _, t, i in page], src)
    return rows, [(d,) for d, _, _ in page], total


def _load(conn: Connection, keys: list[tuple[str, str]], src: Any = resource) -> list[Any]:
    found: dict[tuple[str, str], Any] = {}
    by_type: dict[str, list[str]] = {}
    for t, i in keys:
        by_type.setdefault(t, []).append(i)
    for t, ids in by_type.items():
        for row in conn.execute(select(src).where(src.c.res_type == t, src.c.res_id.in_(ids))):
            found[(row.res_type, row.res_id)] = row
    return [found[k] for k in keys if k in found]
