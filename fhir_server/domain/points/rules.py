"""Pure rules of the health-points ledger.

A ledger entry (`Basic` claiming `jiayi-health-points-entry`, or carrying the `points-ledger-account`
extension) is immutable once stored: the profile's description and profiles/README.md document the
ledger as append-only, and a correction is a new entry with negative points whose
`points-source.reverses` names the entry corrected (the balance is always the sum of the entries,
with a traceable reason for each).  Re-sending an entry unchanged (an idempotent import) is no change.
"""

from __future__ import annotations

from typing import Any

ENTRY_PROFILE = "https://jiayi.health/fhir/StructureDefinition/jiayi-health-points-entry"
LEDGER_ACCOUNT = "https://jiayi.health/fhir/StructureDefinition/points-ledger-account"


def is_ledger_entry(resource: dict[str, Any] | None) -> bool:
    """Whether `resource` is a health-points ledger entry."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Basic":
        return False
    profiles = (resource.get("meta") or {}).get("profile") or []
    if any(isinstance(p, str) and p.split("|", 1)[0] == ENTRY_PROFILE for p in profiles):
        return True
    return any(
        isinstance(e, dict) and e.get("url") == LEDGER_ACCOUNT
        for e in resource.get("extension") or []
    )


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def refusal(
    resource: dict[str, Any] | None, current: dict[str, Any] | None
) -> tuple[int, str] | None:
    """(status, reason) when the write would change the ledger's history; None when allowed.

    `resource` is what would be stored (None: delete), `current` what is stored (None: create)."""
    if current is None or not (is_ledger_entry(current) or is_ledger_entry(resource)):
        return None
    if resource is None:
        return 405, (
            "A health-points ledger entry cannot be deleted: the ledger is append-only; record a "
            "reversing entry (negative points, points-source.reverses) instead"
        )
    if not is_ledger_entry(current):
        return 422, (
            "An existing Basic cannot become a health-points ledger entry: create a new entry"
        )
    if _content(resource) == _content(current):
        return None
    return 422, (
        "A health-points ledger entry is immutable: record a reversing entry (negative points, "
        "points-source.reverses naming this entry) and, if needed, a new entry instead"
    )
