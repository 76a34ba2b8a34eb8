"""Search-registry convergence and `$reindex` over the SQL store.

Spec: http://hl7.org/fhir/R4/searchparameter.html (parameters defined at run time); the
operation is `fhir_server/operations/reindex.py`.

- `search_state['registry']` is a counter bumped by every `$reindex`.  `sync_registry(conn,
  registry)` compares it with the version the registry last loaded — one primary-key read, at most
  every `registry.sync_interval` seconds — and, when it moved, reloads every active SearchParameter
  resource stored in the database into the registry (`SearchRegistry.set_stored`).  The indexer
  and `execute_search` call it, so every worker process converges within that interval.
- `reindex(database, resource_types)` bumps the counter, syncs, then recomputes the index rows of
  every live resource of those types (all when None) in batches, one transaction per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from ...search.registry import SearchRegistry, stored_parameters
from ..ports import StoredResource
from .search_tables import search_state
from .tables import resource

STATE_KEY = "registry"


def registry_version(conn: Connection) -> int:
    value = conn.execute(
        select(search_state.c.value).where(search_state.c.name == STATE_KEY)
    ).scalar_one_or_none()
    return int(value or 0)


def bump_registry_version(conn: Connection) -> int:
    done = conn.execute(
        update(search_state)
        .where(search_state.c.name == STATE_KEY)
        .values(value=search_state.c.value + 1)
    )
    if done.rowcount == 0:
        conn.execute(search_state.insert().values(name=STATE_KEY, value=1))
    return registry_version(conn)


def stored_search_parameters(conn: Connection) -> list[dict[str, Any]]:
    q = select(resource.c.content).where(
        resource.c.res_type == "SearchParameter", resource.c.deleted.is_(False)
    )
    return [c for (c,) in conn.execute(q.order_by(resource.c.res_id)) if c]


def sync_registry(conn: Connection, registry: SearchRegistry, *, force: bool = False) -> bool:
    """Reload the stored SearchParameters when the database's registry version moved."""
    now = time.monotonic()
    if not force and now - registry.checked_at < registry.sync_interval:
        return False
    registry.checked_at = now
    version = registry_version(conn)
    if version == registry.db_version and not force:
        return False
    registry.set_stored(stored_parameters(stored_search_parameters(conn)))
    registry.db_version = version
    return True


@dataclass(frozen=True)
class ReindexReport:
    resources: int
    registry_version: int
    stored_parameters: int


def reindex(database: Any, resource_types: Sequence[str] | None, batch: int = 500) -> ReindexReport:
    """Bump the registry version, reload the registry, and re-extract every live resource."""
    indexer = database.indexer
    registry: SearchRegistry = indexer.registry
    with database.engine.begin() as conn:
        version = bump_registry_version(conn)
        sync_registry(conn, registry, force=True)
        stored = len(stored_search_parameters(conn))
    done, after = 0, ("", "")
    while True:
        with database.engine.begin() as conn:
            q = select(resource).where(resource.c.deleted.is_(False))
            if resource_types:
                q = q.where(resource.c.res_type.in_(list(resource_types)))
            q = q.where(
                (resource.c.res_type > after[0])
                | ((resource.c.res_type == after[0]) & (resource.c.res_id > after[1]))
            )
            rows = list(
                conn.execute(q.order_by(resource.c.res_type, resource.c.res_id).limit(batch))
            )
            for row in rows:
                record = StoredResource(
                    row.res_type, row.res_id, row.version_id, row.last_updated, False, row.content
                )
                indexer.write_rows(
                    conn, row.res_type, row.res_id, indexer.extractor.extract(record.content)
                )
        if not rows:
            break
        done += len(rows)
        after = (rows[-1].res_type, rows[-1].res_id)
    return ReindexReport(done, version, stored)
