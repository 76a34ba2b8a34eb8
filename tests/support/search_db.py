"""What the storage-level search tests share: writing a resource version straight through the
unit of work (indexed as the write path indexes it) and running `execute_search` on it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fhir_server.storage.ports import StoredResource
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.search import SearchResult, execute_search

BASE = "http://localhost/fhir"
WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def stored(
    res: dict[str, Any], version: int = 1, when: datetime = WHEN, deleted: bool = False
) -> StoredResource:
    """`res` as version `version` (server meta set; None values dropped; no content if deleted)."""
    content = None
    if not deleted:
        content = {k: v for k, v in res.items() if v is not None}
        content["meta"] = {
            **res.get("meta", {}),
            "versionId": str(version),
            "lastUpdated": when.isoformat(),
        }
    return StoredResource(res["resourceType"], res["id"], version, when, deleted, content)


def write(
    db: SqlDatabase,
    res: dict[str, Any],
    version: int = 1,
    when: datetime = WHEN,
    deleted: bool = False,
) -> None:
    """Store one version of `res` in its own transaction."""
    with db.unit_of_work() as uow:
        uow.resources.write(stored(res, version, when, deleted), previous_version=version - 1)
        uow.commit()


def write_all(db: SqlDatabase, resources: Iterable[dict[str, Any]], when: datetime = WHEN) -> None:
    """Store version 1 of each resource, one transaction each."""
    for res in resources:
        write(db, res, 1, when)


def search(
    db: SqlDatabase, registry: Any, rtype: str | None, query: list[tuple[str, str]], **kw: Any
) -> SearchResult:
    """`execute_search` in a read-only unit of work with the tests' base URL."""
    with db.unit_of_work(write=False) as uow:
        return execute_search(
            uow.connection, db.dialect, registry, rtype, query, base_url=BASE, **kw
        )


def explain_at_scale(
    db: SqlDatabase, registry: Any, rtype: str, query: list[tuple[str, str]]
) -> list[str]:
    """The `_explain=true` plan of a search as PostgreSQL plans it for a large table.

    The test tables hold a few rows, where a sequential scan plus a sort is honestly the cheapest
    plan and which one the planner picks flips with autovacuum's statistics.  With sequential scans
    and sorts priced out (`enable_seqscan`/`enable_sort` off for this one query) the planner
    still has to sort if the query's shape needs it, so a plan without a Sort node shows that an
    ordered walk of the key index answers the query, as it does on millions of rows."""
    settings = ("enable_seqscan", "enable_sort") if db.dialect == "postgresql" else ()
    with db.unit_of_work(write=False) as uow:
        for name in settings:  # session level (a read unit may run outside a transaction block)
            uow.connection.exec_driver_sql(f"SET {name} = off")
        try:
            result = execute_search(
                uow.connection,
                db.dialect,
                registry,
                rtype,
                [*query, ("_explain", "true")],
                base_url=BASE,
                allow_explain=True,
            )
        finally:  # the pooled connection goes back as it came
            for name in settings:
                uow.connection.exec_driver_sql(f"RESET {name}")
    assert result.plan is not None
    return result.plan


def outer_walk(plan: list[str]) -> str:
    """The plan's lines above its first sub-plan: the walk over the candidates.

    That part must neither sort nor hash-aggregate the matches (which would read every match before
    the first page).  The correlated sub-plan below it checks one candidate at a time and may use
    any join strategy the statistics of the moment favour (CI saw a HashAggregate there once)."""
    lines: list[str] = []
    for line in plan:
        if line.strip().startswith("SubPlan"):
            break
        lines.append(line)
    return "\n".join(lines)


def assert_ordered_walk(dialect: str, plan: list[str]) -> None:
    """The plan walks the candidates by the primary key, each checked by a correlated sub-query
    (SQLite) or sub-plan (PostgreSQL), and nothing collects or sorts every match first."""
    text = "\n".join(plan)
    if dialect == "sqlite":  # no temporary B-tree sorting the matches
        assert "sqlite_autoindex_resource_1" in plan[0] and "CORRELATED" in text
        assert "TEMP B-TREE" not in text
        return
    assert "resource_pkey" in plan[1] and "SubPlan" in text
    assert "Sort" not in text and "HashAggregate" not in outer_walk(plan)
