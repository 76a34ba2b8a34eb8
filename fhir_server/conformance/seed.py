"""Seed the guide's definitions (code systems, value sets, profiles, service packages) into a database.

Runs after migrations (the composition root calls it).  Each resource is written with
`FhirRepository.update` under its own id, so it passes the same gate and validation as any write.
Idempotent: a resource whose stored content equals the file's (ignoring `meta`) is skipped, so
re-running creates no new versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .ig import load_ig_resources


class DefinitionWriter(Protocol):
    """The part of `fhir_server.services.repository.FhirRepository` the seeder uses."""

    def current_or_none(self, resource_type: str, resource_id: str) -> Any: ...

    def update(
        self, resource_type: str, resource_id: str, body: Any, if_match: str | None = None
    ) -> Any: ...


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def seed_definitions(
    repo: DefinitionWriter, resources: Iterable[dict[str, Any]] | None = None
) -> int:
    """Store the guide's resources through `repo`; returns how many were created or changed."""
    written = 0
    for resource in load_ig_resources() if resources is None else resources:
        resource_type, resource_id = resource["resourceType"], resource["id"]
        current = repo.current_or_none(resource_type, resource_id)
        unchanged = current is not None and not current.deleted
        if unchanged and _without_meta(current.content) == _without_meta(resource):
            continue
        repo.update(resource_type, resource_id, resource)
        written += 1
    return written
