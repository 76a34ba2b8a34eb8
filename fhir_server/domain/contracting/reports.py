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
ROLE_CHUNK = 100
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
    return R.signing_report(contracts, _roles(repo, contracts), start, end)


def _roles(repo: FhirRepository, contracts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The signing doctors' PractitionerRoles by reference (`PractitionerRole?_id=a,b,…` per
    `ROLE_CHUNK`, not a read per doctor); a role not stored maps to {}."""
    wanted = sorted({ref for c in contracts if (ref := R.signer_role(c))})
    ids = [r.split("/", 1)[1] for r in wanted if r.startswith("PractitionerRole/")]
    roles: dict[str, dict[str, Any]] = {ref: {} for ref in wanted}
    for k in range(0, len(ids), ROLE_CHUNK):
        for found in search_all(
            repo, "PractitionerRole", [("_id", ",".join(ids[k : k + ROLE_CHUNK]))]
        ):
            roles[f"PractitionerRole/{found['id']}"] = found
    return roles
