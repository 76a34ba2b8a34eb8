"""Care relationships behind the access policy: which residents a doctor's team, or an
institution, is responsible for (seed: 签约 — the contract is the relationship).

A resource is related to a practitioner when one of its Patient-compartment patients has an active
contract (docs/DATA-MODEL.md: `Contract.status = executed`, `subject` the patient) whose team
(`contract-care-team` extension) has one of the practitioner's roles as a participant, or whose
signer is one of those roles or the practitioner; to an institution when the contract's
`authority` is one of the institution admin's organisations.  Lookups run as the named system
reader `access-relationships` and are cached for the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

CARE_TEAM_EXTENSION = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"

#: (resource types, query) → list of resource dicts; runs as the system, not as the caller.
Finder = Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]]


def _refs(items: Iterable[Any]) -> set[str]:
    out = set()
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("reference"), str):
            out.add(item["reference"])
    return out


def contract_parties(contract: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(care-team refs, signer party refs, authority refs) of a Contract."""
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


class CareRelationships:
    """Answers `related(relationship, resource)` for one principal during one request."""

    def __init__(
        self,
        fhir_user: str | None,
        find: Finder,
        patients_of: Callable[[Mapping[str, Any]], frozenset[str]],
    ) -> None:
        self._user = fhir_user
        self._find = find
        self._patients_of = patients_of
        self._roles: set[str] | None = None
        self._teams: set[str] | None = None
        self._organizations: set[str] | None = None
        self._verdicts: dict[tuple[str, str], bool] = {}

    # -- the practitioner's posts, teams and institutions ----------------------------------------
    def _load(self) -> None:
        if self._roles is not None:
            return
        self._roles, self._teams, self._organizations = set(), set(), set()
        if not self._user or not self._user.startswith("Practitioner/"):
            return
        for role in self._find(
            "PractitionerRole", [("practitioner", self._user), ("_count", "100")]
        ):
            self._roles.add(f"PractitionerRole/{role['id']}")
            org = (role.get("organization") or {}).get("reference")
            if isinstance(org, str):
                self._organizations.add(org)
        members = [self._user, *sorted(self._roles)]
        for team in self._find("CareTeam", [("participant", ",".join(members)), ("_count", "100")]):
            self._teams.add(f"CareTeam/{team['id']}")

    def _patient_related(self, relationship: str, patient: str) -> bool:
        key = (relationship, patient)
        if key not in self._verdicts:
            self._load()
            contracts = self._find(
                "Contract",
                [("subject", f"Patient/{patient}"), ("status", "executed"), ("_count", "20")],
            )
            verdict = False
            for contract in contracts:
                teams, signers, authorities = contract_parties(contract)
                if relationship == "care-team":
                    verdict = bool(teams & (self._teams or set())) or bool(
                        signers & ({self._user} | (self._roles or set()))
                    )
                else:
                    verdict = bool(authorities & (self._organizations or set()))
                if verdict:
                    break
            self._verdicts[key] = verdict
        return self._verdicts[key]

    def _parties(self) -> set[str]:
        self._load()
        return (
            {self._user or ""}
            | (self._roles or set())
            | (self._teams or set())
            | (self._organizations or set())
        )

    def _consent_denies(self, patient: str) -> bool:
        key = ("consent", patient)
        if key not in self._verdicts:
            consents = self._find(
                "Consent",
                [("patient", f"Patient/{patient}"), ("status", "active"), ("_count", "50")],
            )
            parties = self._parties()
            self._verdicts[key] = any(denied_actors(c) & parties for c in consents)
        return self._verdicts[key]

    def __call__(self, relationship: str, resource: Mapping[str, Any]) -> bool:
        if relationship not in ("care-team", "institution"):
            return False
        patients = self._patients_of(resource)
        return any(
            self._patient_related(relationship, p) and not self._consent_denies(p) for p in patients
        )


def denied_actors(consent: Mapping[str, Any]) -> set[str]:
    """References named as actors of `deny` provisions anywhere in a Consent (pure)."""
    out: set[str] = set()

    def walk(provision: Any) -> None:
        if not isinstance(provision, Mapping):
            return
        if provision.get("type") == "deny":
            out.update(
                _refs(
                    a.get("reference")
                    for a in provision.get("actor", []) or []
                    if isinstance(a, Mapping)
                )
            )
        for nested in provision.get("provision", []) or []:
            walk(nested)

    walk(consent.get("provision"))
    return out
