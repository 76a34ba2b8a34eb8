"""Writing the demo's own resources (fixed ids) through the repository, only when absent: the
bulk path of the load, for what the story does not need a workflow for (the network, the
residents and their records, the services delivered, the satisfaction answers).

Resources are written in transactions of `BATCH`, each as an update-as-create under its fixed
id (`FhirRepository.put_new_many`: at once; one by one with `update` when one of them was
deleted since): write rules and the search index apply as to any client write.  Two things are
cheaper than a client write:

- which resources are stored already is asked once per type and batch (`<Type>?_id=a,b,…`), not
  read one by one (a resource deleted since is written again);
- the generated resources are not validated one by one: they are the demo generator's output,
  proven valid through the full validation pipeline by `tests/api/test_demo.py` (every `demo-`
  resource of a load), as the guide's packaged definitions are when seeding.  Anything else
  written in the same transaction (by a write rule) is validated as usual.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import Any

from ..core import errors as E
from ..services.repository import FhirRepository

BATCH = 200


class GeneratedResources:
    """A validator passing the resources of `keys` ((type, id) of the demo's own batch) and
    validating everything else with `inner`."""

    def __init__(self, inner: Any, keys: Collection[tuple[str, str]]) -> None:
        self.inner = inner
        self.profiles = getattr(inner, "profiles", None)
        self.keys = frozenset(keys)

    def validate(self, resource: dict[str, Any], *args: Any) -> list[E.Issue]:
        if (resource.get("resourceType"), resource.get("id")) in self.keys:
            return []
        return list(self.inner.validate(resource, *args))


def stored_ids(repo: FhirRepository, resources: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(type, id) of those of `resources` that are stored (one `_id` search per type)."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        by_type[resource["resourceType"]].append(resource["id"])
    found: set[tuple[str, str]] = set()
    for rtype, ids in by_type.items():
        page = repo.search([rtype], [("_id", ",".join(ids))], page_size=len(ids))
        found |= {(rtype, m.content["id"]) for m in page.matches if m.content is not None}
    return found


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
        present = stored_ids(repo, pending)
        todo = [r for r in pending if (r["resourceType"], r["id"]) not in present]
        if todo:
            keys = [(r["resourceType"], r["id"]) for r in todo]
            trusted = dataclasses.replace(
                repo.components, validator=GeneratedResources(repo.components.validator, keys)
            )
            with FhirRepository(repo.ctx, trusted).transaction() as tx:
                try:  # the check for existing rows comes before any write: on a 409 nothing
                    tx.put_new_many(todo)  # was written and the transaction goes on
                except E.FhirError as exc:  # one was deleted since (it has a row): one by one
                    if exc.status != 409:
                        raise
                    for resource in todo:
                        tx.update(resource["resourceType"], resource["id"], resource)
            written += len(todo)
        advance(len(pending))
        pending.clear()

    for resource in resources:
        pending.append(resource)
        if len(pending) >= BATCH:
            flush()
    flush()
    return written
