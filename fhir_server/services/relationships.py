"""Care relationships behind the access policy: which residents a doctor's team, or an
institution, is responsible for (seed: 签约 — the contract is the relationship).

docs/DATA-MODEL.md: a contract is in force when `Contract.status = executed` and
`Contract.applies` covers the day; its residents are `Contract.subject` (every member of a family
contract).  A practitioner is responsible for them when the contract's team (the
`contract-care-team` extension) has the practitioner or one of their `PractitionerRole`s as a
participant, or when the practitioner or one of their roles signed it; an institution
administrator for the residents of contracts whose `authority` is one of their organisations.

The sets are resolved once per request (through `find`, which runs as the named system reader
`access-relationships`) and handed to the gate as ids, so the gate pushes them into SQL as an IN
restriction: pages stay full and `_total` stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

CARE_TEAM_EXTENSION = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"

#: (resource type, query) → every matching resource (all pages); runs as the system.
Finder = Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]]


def _refs(items: Iterable[Any]) -> set[str]:
    out = set()
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("reference"), str):
            out.add(item["reference"])
    return out


def contract_parties(contract: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(care-team refs, signer party refs, authority refs) of a Contract (pure)."""
    teams = {
        ext["valueReference"]["reference"]
        for ext in contract.get("extension", []) or []
        if ext.get("url") == CARE_TEAM_EXTENSION
        and isinstance(ext.get("valueReference"), Mapping)
        and isinstance(ext["valueReference"].get("reference"), str)
    }
    signers = _refs(
        s.get("party") for s in contract.get("signer", []) or [] if isinstance(s, Mapping)
    )
    return teams, signers, _refs(contract.get("authority", []) or [])


def contract_in_force(contract: Mapping[str, Any], day: date) -> bool:
    """`status = executed` and `applies` covers `day` (open bounds are open) (pure)."""
    if contract.get("status") != "executed":
        return False
    applies = contract.get("applies") or {}
    start = str(applies.get("start") or "")[:10]
    end = str(applies.get("end") or "")[:10]
    text = day.isoformat()
    return (not start or start <= text) and (not end or text <= end)


def contract_residents(contract: Mapping[str, Any]) -> set[str]:
    """Ids of the Patients a contract covers (pure)."""
    return {
        ref.split("/", 1)[1]
        for ref in _refs(contract.get("subject", []) or [])
        if ref.startswith("Patient/")
    }


class CareRelationships:
    """The principal's posts, teams, institutions and the residents they are responsible for."""

    def __init__(self, fhir_user: str | None, find: Finder, today: date) -> None:
        self._user = fhir_user if fhir_user and fhir_user.startswith("Practitioner/") else None
        self._find = find
        self._today = today
        self._roles: set[str] | None = None
        self._teams: set[str] = set()
        self._organizations: set[str] = set()
        self._patients: dict[str, frozenset[str]] = {}

    def _load(self) -> None:
        if self._roles is not None:
            return
        self._roles = set()
        if self._user is None:
            return
        for role in self._find("PractitionerRole", [("practitioner", self._user)]):
            self._roles.add(f"PractitionerRole/{role['id']}")
            org = (role.get("organization") or {}).get("reference")
            if isinstance(org, str):
                self._organizations.add(org)
        members = [self._user, *sorted(self._roles)]
        for team in self._find("CareTeam", [("participant", ",".join(members))]):
            self._teams.add(f"CareTeam/{team['id']}")

    @property
    def organizations(self) -> frozenset[str]:
        self._load()
        return frozenset(self._organizations)

    def actors(self) -> frozenset[str]:
        """References naming the practitioner (for Consent actors): self, posts, teams, orgs."""
        self._load()
        if self._user is None:
            return frozenset()
        return frozenset({self._user, *(self._roles or ()), *self._teams, *self._organizations})

    def patients(self, relationship: str) -> frozenset[str]:
        """Residents of the contracts in force that make the practitioner (care-team) or their
        institutions (institution) responsible for them."""
        if relationship not in self._patients:
            self._patients[relationship] = frozenset(self._resolve(relationship))
        return self._patients[relationship]

    def _team_contracts(self) -> list[dict[str, Any]]:
        """Executed contracts naming one of the practitioner's teams (the guide's `care-team`
        SearchParameter; where a database has not loaded it, by the extension itself)."""
        from ..core.errors import FhirError

        teams = ",".join(sorted(self._teams))
        try:
            return self._find("Contract", [("status", "executed"), ("care-team", teams)])
        except FhirError:
            every = self._find("Contract", [("status", "executed")])
            return [c for c in every if contract_parties(c)[0] & self._teams]

    def _resolve(self, relationship: str) -> set[str]:
        self._load()
        if self._user is None:
            return set()
        contracts: list[dict[str, Any]] = []
        if relationship == "care-team":
            signers = {self._user, *(self._roles or ())}
            if self._teams:
                contracts += self._team_contracts()
            contracts += self._find(
                "Contract", [("status", "executed"), ("signer", ",".join(sorted(signers)))]
            )
        elif relationship == "institution" and self._organizations:
            contracts += self._find(
                "Contract",
                [("status", "executed"), ("authority", ",".join(sorted(self._organizations)))],
            )
        out: set[str] = set()
        for contract in contracts:
            if contract_in_force(contract, self._today):
                out |= contract_residents(contract)
        return out
