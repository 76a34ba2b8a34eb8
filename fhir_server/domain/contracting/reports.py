"""Doctor reports through the repository gate (`$signing-report`; rules in `rules.signing_report`):
the contracts of an institution (`Contract?authority=`), a team (`Contract?care-team=`) or a
doctor (`Contract?signer=`), every status that may count (in force, renewed, terminated), paged."""

from __future__ import annotations

from datetime import date
from typing import Any

from ...core import errors as E
from ...services.repository import FhirRepository
from . import rules as R
from .service import search_all

COUNTED = ("executed", "renewed", "terminated")
SCOPES = {"Organization": "authority", "CareTeam": "care-team", "PractitionerRole": "signer"}


def _in_scope(contract: dict[str, Any], resource_type: str, ref: str) -> bool:
    """The parameter's meaning checked again on the content (right even where it is not indexed)."""
    if resource_type == "Organization":
        return any(a.get("reference") == ref for a in contract.get("authority") or [])
    if resource_type == "CareTeam":
        return any(
            e.get("url") == R.EXT_CARE_TEAM
            and (e.get("valueReference") or {}).get("reference") == ref
            for e in contract.get("extension") or []
        )
    return R.signer_role(contract) == ref


def signing_report(
    repo: FhirRepository, resource_type: str, rid: str, start: date, end: date
) -> R.SigningReport:
    if resource_type not in SCOPES:
        raise E.bad_request(f"$signing-report is not defined for {resource_type}")
    if end < start:
        raise E.unprocessable(
            [
                E.error(
                    "invalid", "periodEnd is before periodStart", "periodEnd", message_id="JY-6200"
                )
            ]
        )
    repo.read(resource_type, rid)  # 404 for an unknown institution, team or doctor
    ref = f"{resource_type}/{rid}"
    contracts = [
        c
        for c in search_all(
            repo, "Contract", [(SCOPES[resource_type], ref), ("status", ",".join(COUNTED))]
        )
        if _in_scope(c, resource_type, ref)
    ]
    roles: dict[str, dict[str, Any]] = {}
    for c in contracts:
        role = R.signer_role(c)
        if role and role not in roles:
            record = repo.current_or_none("PractitionerRole", role.split("/", 1)[1])
            roles[role] = (record.content if record and record.content else None) or {}
    return R.signing_report(contracts, roles, start, end)
