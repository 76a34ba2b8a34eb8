"""Conditional interactions, written once on the primitives (R4 http.html#ccreate, #cond-update,
#cond-patch, #cdelete, and conditional references in transactions, #trules).

Each runs in one transaction that first takes a lock on (type, criteria), so two concurrent
conditional creates with the same criteria cannot both create.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from ..core import errors as E
from ..storage.ports import StoredResource
from .repository import FhirRepository, WriteResult

#: Enough to tell "one" from "many" without loading a large result set.
_PROBE = 2


def criteria_query(criteria: str) -> list[tuple[str, str]]:
    query = criteria.split("?", 1)[1] if "?" in criteria else criteria
    pairs = [
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not k.startswith("_format")
    ]
    if not pairs:
        raise E.bad_request(
            "Conditional criteria must name at least one search parameter", "criteria"
        )
    return pairs


def matches(
    repo: FhirRepository, resource_type: str, criteria: str, limit: int = _PROBE
) -> list[StoredResource]:
    query = [*criteria_query(criteria), ("_count", str(limit))]
    result = repo.search([resource_type], query, strict=True, page_size=limit)
    return list(result.matches)


def _locked(repo: FhirRepository, resource_type: str, criteria: str) -> None:
    repo.lock(f"conditional:{resource_type}?{criteria}")


def conditional_create(
    repo: FhirRepository,
    resource_type: str,
    body: Any,
    criteria: str,
    assigned_id: str | None = None,
) -> tuple[WriteResult | None, StoredResource | None]:
    """(created, None) when nothing matched; (None, existing) for one match; 412 for several."""
    with repo.transaction() as tx:
        _locked(tx, resource_type, criteria)
        found = matches(tx, resource_type, criteria)
        if len(found) > 1:
            raise _many(resource_type, criteria)
        if found:
            return None, found[0]
        return tx.create(resource_type, body, assigned_id), None


def conditional_update(
    repo: FhirRepository, resource_type: str, body: Any, criteria: str, if_match: str | None
) -> WriteResult:
    with repo.transaction() as tx:
        _locked(tx, resource_type, criteria)
        found = matches(tx, resource_type, criteria)
        if len(found) > 1:
            raise _many(resource_type, criteria)
        body_id = body.get("id") if isinstance(body, dict) else None
        if found:
            target = found[0].id
            if body_id is not None and body_id != target:
                raise E.bad_request(
                    f"The body's id '{body_id}' differs from the matching resource {resource_type}/{target}",
                    "id",
                )
            return tx.update(resource_type, target, {**body, "id": target}, if_match)
        if body_id is not None:
            return tx.update(resource_type, str(body_id), body, if_match)
        return tx.create(resource_type, body)


def conditional_patch(
    repo: FhirRepository,
    resource_type: str,
    criteria: str,
    apply: Callable[[dict[str, Any]], dict[str, Any]],
    if_match: str | None,
) -> WriteResult:
    with repo.transaction() as tx:
        found = matches(tx, resource_type, criteria)
        if not found:
            raise E.FhirError(404, E.error("not-found", f"No {resource_type} matches {criteria}"))
        if len(found) > 1:
            raise _many(resource_type, criteria)
        return tx.patch(resource_type, found[0].id, apply, if_match)


def conditional_delete(
    repo: FhirRepository, resource_type: str, criteria: str, limit: int
) -> list[StoredResource]:
    """Delete every match (up to `limit`; more than that is refused with 412)."""
    with repo.transaction() as tx:
        found = matches(tx, resource_type, criteria, limit + 1)
        if len(found) > limit:
            raise E.conflict(
                f"More than {limit} {resource_type} resources match {criteria}; refine the criteria",
                status=412,
            )
        deleted = [tx.delete(resource_type, r.id) for r in found]
        return [d for d in deleted if d is not None]


def resolve_reference(repo: FhirRepository, reference: str) -> str:
    """A conditional reference (`Patient?identifier=…`) → `Patient/<id>`; 412 unless exactly one."""
    resource_type, _, criteria = reference.partition("?")
    repo.check_type(resource_type)
    found = matches(repo, resource_type, criteria)
    if len(found) != 1:
        raise E.conflict(
            f"Conditional reference '{reference}' matches {len(found) if found else 'no'} resources; it must match exactly one",
            status=412,
        )
    return f"{resource_type}/{found[0].id}"


def _many(resource_type: str, criteria: str) -> E.FhirError:
    return E.conflict(
        f"Several {resource_type} resources match '{criteria}'; the criteria must be more selective",
        status=412,
    )
