"""`_explain=true`: the database's plan for a search page query (EXPLAIN on both databases).

Blaze-style query plans for administrators: PostgreSQL `EXPLAIN`, SQLite `EXPLAIN QUERY PLAN`.
The query is rendered with literal values so the plan is the one the real parameters get.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Select


def render_sql(conn: Connection, query: Select[Any]) -> str:
    return str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def explain_plan(
    conn: Connection, dialect: str, query: Select[Any], analyze: bool = False
) -> list[str]:
    """The plan as text lines (`analyze`: PostgreSQL runs the query and reports timings)."""
    sql = render_sql(conn, query)
    if dialect == "postgresql":
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
        return [row[0] for row in conn.exec_driver_sql(prefix + sql.replace("%", "%%"))]
    # SQLite's `OFFSET` without a `LIMIT` (the walk's fence) compiles to `LIMIT ? OFFSET 0` even
    # with literal binds: pass what stays a parameter positionally
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    values = compiled.construct_params()
    args = tuple(values[name] for name in compiled.positiontup or ())
    rows = list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args))
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        depth[node_id] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node_id] + str(detail))
    return lines
