"""`AccessGate`: what the repository gate calls, per request, to enforce an `AccessPolicy`.

Spec: SMART App Launch 2.x "Scopes and Launch Context" (403 for an interaction the scopes do not
grant; patient/ tokens confined to the patient's compartment) and RFC 6750 §3.1
(`insufficient_scope`).  A resource outside the caller's reach is reported as not found, so error
messages never reveal that it exists.

Usage in `services.repository` (one gate per request, built from the Principal):

    decision = gate.require(interaction, resource_type)     # 403 when the scopes/role say no
    gate.check_resource(decision, record.content)           # reads, and writes before/after
    restriction = gate.search_restriction(decision, resource_type)  # None = unrestricted
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core import errors as E
from .bearer import forbidden
from .compartments import PatientCompartment
from .policy import AccessPolicy, Decision, RelationshipCheck
from .principal import Principal


@dataclass(frozen=True)
class SearchRestriction:
    """One grant as search criteria: any one of `compartment` (ORed) and all of `query` (ANDed).

    `relationship` ("care-team" / "institution") must additionally be enforced by the caller.
    An empty `compartment` with `patient` set means no resource of the type can match.
    """

    patient: str | None
    compartment: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    relationship: str = "any"


@dataclass(frozen=True)
class AccessGate:
    policy: AccessPolicy
    compartment: PatientCompartment
    related: RelationshipCheck | None = None

    @classmethod
    def for_principal(
        cls,
        principal: Principal,
        compartment: PatientCompartment,
        related: RelationshipCheck | None = None,
    ) -> AccessGate:
        return cls(AccessPolicy(principal), compartment, related)

    def require(self, interaction: str, resource_type: str) -> Decision:
        decision = self.policy.decide(interaction, resource_type)
        if not decision.allowed:
            raise forbidden(f"Access denied: {decision.reason}")
        return decision

    def permits(self, decision: Decision, resource: Mapping[str, Any]) -> bool:
        return decision.unrestricted or decision.allows(resource, self.compartment, self.related)

    def check_resource(self, decision: Decision, resource: Mapping[str, Any]) -> None:
        """404 (not 403) for a resource outside the caller's reach, so nothing leaks."""
        if not self.permits(decision, resource):
            rtype = str(resource.get("resourceType", decision.resource_type))
            raise E.not_found(rtype, str(resource.get("id", "")))

    def filter(self, decision: Decision, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep what the decision admits (e.g. `_include`d resources, Bundle entries)."""
        return [r for r in resources if self.permits(decision, r)]

    def search_restriction(
        self, decision: Decision, resource_type: str
    ) -> tuple[SearchRestriction, ...] | None:
        """The grants as ORed search restrictions; None when some grant is unrestricted."""
        if decision.unrestricted:
            return None
        out = []
        for grant in decision.grants:
            compartment: tuple[tuple[str, str], ...] = ()
            if grant.patient is not None:
                compartment = tuple(
                    self.compartment.search_restriction(resource_type, grant.patient)
                )
            out.append(
                SearchRestriction(grant.patient, compartment, grant.query, grant.relationship)
            )
        return tuple(out)
