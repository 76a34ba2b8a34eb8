"""Writing the demo's own resources (fixed ids) through the repository, only when absent.

Resources are written in transactions of `BATCH`, each with `update` (update-as-create under its
fixed id): validated, ruled and indexed like any client write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..services.repository import FhirRepository

BATCH = 200


def store_absent(
    repo: FhirRepository,
    resources: Iterable[dict[str, Any]],
    advance: Callable[[int], None] = lambda _n: None,
) -> int:
    """Write each resource that is not stored yet; returns how many were written."""
    written = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        if not pending:
            return
        with repo.transaction() as tx:
            for resource in pending:
                if tx.current_or_none(resource["resourceType"], resource["id"]) is None:
                    tx.update(resource["resourceType"], resource["id"], resource)
                    written += 1
        advance(len(pending))
        pending.clear()

    for resource in resources:
        pending.append(resource)
        if len(pending) >= BATCH:
            flush()
    flush()
    return written
