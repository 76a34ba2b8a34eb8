"""Inputs of `FhirRepository.create_instances`: many new resources made from skeletons
(`search.templates.Skeleton`), for server jobs that write thousands of alike resources (the
health-push planner).  A `BatchCache` lives for one job run: what was learnt about a skeleton
(its validation issues, its index rows) is reused for every instance of it.

`PendingCreates`: the plain creates of a transaction Bundle checked and stamped but not yet
written (`FhirRepository.create(..., pending=)`); `FhirRepository.flush_creates` writes them in
one bulk write before anything reads or changes stored resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core.errors import FhirError, Issue
from ..search.templates import (
    RowTemplates,
    Skeleton,
    date_placeholder,
    instant_placeholder,
    token_placeholder,
)
from ..storage.ports import StoredResource

__all__ = [
    "LAST_UPDATED",
    "BatchCache",
    "Instance",
    "PendingCreateFailed",
    "PendingCreates",
    "Skeleton",
    "date_placeholder",
    "instant_placeholder",
    "token_placeholder",
]

#: the placeholder of `meta.lastUpdated` in a stamped skeleton (the others use 0..29)
LAST_UPDATED = instant_placeholder(30)


@dataclass(frozen=True)
class Instance:
    """One new resource: `skeleton` with `values` for its placeholders (its `id` among them)."""

    skeleton: Skeleton
    values: Mapping[str, str]


@dataclass
class BatchCache:
    stamped: dict[str, Skeleton] = field(default_factory=dict)  # skeleton key → with meta
    issues: dict[str, list[Issue]] = field(default_factory=dict)  # stamped key → validation
    rows: RowTemplates = field(default_factory=RowTemplates)

    def stamp(self, skeleton: Skeleton) -> Skeleton:
        found = self.stamped.get(skeleton.key)
        if found is None:
            content = dict(skeleton.content)
            meta = dict(content.pop("meta", None) or {})
            meta["versionId"] = "1"
            meta["lastUpdated"] = LAST_UPDATED
            found = Skeleton(
                {"resourceType": content.pop("resourceType"), "id": content.pop("id")}
                | {"meta": meta}
                | content
            )
            self.stamped[skeleton.key] = found
        return found


@dataclass
class PendingCreates:
    """Version 1 of new resources waiting for one bulk write, in the order they were created;
    `tags[i]` names who asked for `records[i]` (a Bundle entry's index)."""

    records: list[StoredResource] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)

    def add(self, record: StoredResource, tag: int) -> None:
        self.records.append(record)
        self.tags.append(tag)
        self.keys.add((record.resource_type, record.id))

    def take(self) -> tuple[list[StoredResource], list[int]]:
        records, tags = self.records, self.tags
        self.records, self.tags, self.keys = [], [], set()
        return records, tags


class PendingCreateFailed(Exception):
    """Writing the pending creates failed: `error` is about the one tagged `tag`."""

    def __init__(self, tag: int, error: FhirError) -> None:
        super().__init__(tag, error)
        self.tag = tag
        self.error = error
