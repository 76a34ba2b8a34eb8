"""`AccessPolicy`: a Principal's SMART scopes intersected with its role's ceiling; default deny.

Spec: SMART App Launch 2.x "Scopes and Launch Context" (patient/, user/, system/ scopes; v2 query
restrictions) and SMART Backend Services (system/ scopes).  The role ceiling is Jiayi's own: an
ordered rule table (`RULES`, first match wins, default deny), so the whole policy reads as data.

`decide(interaction, resource_type)` returns a `Decision`: denied, or allowed under one or more
`Grant`s (ORed).  A grant may restrict the caller to a patient's compartment, to v2 query
restrictions (ANDed within the grant), and/or to a relationship the gate resolves (care team or
institution).  `Decision.allows(resource, compartment)` checks one resource; search receives
`Decision.grants` and pushes them into SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .compartments import PatientCompartment
from .principal import Principal
from .scopes import INTERACTION_PERMISSION, ContextKind, Scope, matching

Relationship = Literal["any", "own", "care-team", "institution"]

#: Directory and definitional types: no patient data, readable outside any compartment.
SHARED_TYPES = frozenset(
    {
        "ActivityDefinition", "CapabilityStatement", "CodeSystem", "ConceptMap", "Endpoint",
        "HealthcareService", "Library", "Location", "Measure", "Medication", "NamingSystem",
        "OperationDefinition", "Organization", "PlanDefinition", "Practitioner",
        "PractitionerRole", "Questionnaire", "SearchParameter", "StructureDefinition",
        "Substance", "ValueSet",
    }
)  # fmt: skip
AGGREGATE_TYPES = frozenset({"Measure", "MeasureReport", "Library", "Organization", "Location"})
ADMIN_TYPES = frozenset(
    {"Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService",
     "Schedule", "Slot", "CareTeam"}
)  # fmt: skip
ANY = None


@dataclass(frozen=True)
class Rule:
    """One row of the role ceiling: who, which letters of `cruds`, which types → effect."""

    name: str
    effect: Literal["allow", "deny"]
    letters: str  # subset of "cruds"
    types: frozenset[str] | None = ANY
    roles: frozenset[str] | None = ANY  # role names; "system" matches back-end clients
    relationship: Relationship = "any"

    def matches(self, role: str, letter: str, resource_type: str) -> bool:
        return (
            letter in self.letters
            and (self.types is None or resource_type in self.types)
            and (self.roles is None or role in self.roles)
        )


def _r(
    name: str, effect: str, letters: str, types: Any = ANY, roles: Any = ANY, rel: str = "any"
) -> Rule:
    return Rule(
        name,
        effect,  # type: ignore[arg-type]
        letters,
        frozenset(types) if types is not None else None,
        frozenset(roles) if roles is not None else None,
        rel,  # type: ignore[arg-type]
    )


#: The role ceiling, first match wins; anything unmatched is denied.
RULES: tuple[Rule, ...] = (
    _r("audit trail is written by the server only", "deny", "cud", {"AuditEvent"}),
    _r("auditors read the audit trail", "allow", "rs", {"AuditEvent"}, {"auditor"}),
    _r(
        "residents see who accessed their record",
        "allow",
        "rs",
        {"AuditEvent"},
        {"resident"},
        "own",
    ),
    _r("nobody else reads the audit trail", "deny", "cruds", {"AuditEvent"}),
    _r("auditors read nothing else", "deny", "cruds", ANY, {"auditor"}),
    _r("administrators manage everything", "allow", "cruds", ANY, {"admin"}),
    _r("back-end services act within their system scopes", "allow", "cruds", ANY, {"system"}),
    _r("commission reads aggregated indicators", "allow", "rs", AGGREGATE_TYPES, {"commission"}),
    _r("commission sees no individual records", "deny", "cruds", ANY, {"commission"}),
    _r("directory and definitions are public to users", "allow", "rs", SHARED_TYPES),
    _r("residents use their own record", "allow", "cruds", ANY, {"resident"}, "own"),
    _r(
        "doctors care for their contracted residents",
        "allow",
        "cruds",
        ANY,
        {"doctor"},
        "care-team",
    ),
    _r("nurses care for their team's residents", "allow", "crus", ANY, {"nurse"}, "care-team"),
    _r(
        "institution admins manage staff",
        "allow",
        "cruds",
        ADMIN_TYPES,
        {"institution-admin"},
        "institution",
    ),
    _r(
        "institution admins read their residents",
        "allow",
        "rs",
        ANY,
        {"institution-admin"},
        "institution",
    ),
)


@dataclass(frozen=True)
class Grant:
    """One way an interaction is allowed; every field set restricts it further."""

    patient: str | None = None  # limited to this patient's compartment
    query: tuple[tuple[str, str], ...] = ()  # SMART v2 restrictions, all must hold
    relationship: Relationship = "any"  # "care-team" / "institution": resolved by the gate
    rule: str = ""

    @property
    def unrestricted(self) -> bool:
        return self.patient is None and not self.query and self.relationship == "any"


@dataclass(frozen=True)
class Decision:
    interaction: str
    resource_type: str
    grants: tuple[Grant, ...] = ()
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return bool(self.grants)

    @property
    def unrestricted(self) -> bool:
        return any(g.unrestricted for g in self.grants)

    @property
    def patients(self) -> frozenset[str]:
        """Patient compartments the grants are limited to (when every grant is so limited)."""
        return frozenset(g.patient for g in self.grants if g.patient is not None)

    def allows(
        self,
        resource: Mapping[str, Any],
        compartment: PatientCompartment,
        related: RelatedPatients | None = None,
        matcher: TermMatcher | None = None,
    ) -> bool:
        """Does some grant admit this resource (in memory: versions, content about to be
        written)?  Without `related`, relationship grants admit nothing; without `matcher`,
        grants with query restrictions admit nothing (default deny)."""
        return any(_admits(g, resource, compartment, related, matcher) for g in self.grants)


class RelatedPatients(Protocol):
    """Supplied by the gate: the residents the principal's care team / institution cares for."""

    def __call__(self, relationship: str) -> frozenset[str]: ...


class TermMatcher(Protocol):
    """Do all these search terms hold for the resource (`auth.matching.RestrictionMatcher`)?"""

    def holds(self, resource: Mapping[str, Any], terms: Any) -> bool: ...


def grant_patients(grant: Grant, related: RelatedPatients | None) -> frozenset[str] | None:
    """The patients a grant confines the caller to; None when it does not confine to patients."""
    patients: frozenset[str] | None = (
        frozenset({grant.patient}) if grant.patient is not None else None
    )
    if grant.relationship in ("care-team", "institution"):
        cared = related(grant.relationship) if related is not None else frozenset()
        patients = cared if patients is None else patients & cared
    return patients


def _admits(
    grant: Grant,
    resource: Mapping[str, Any],
    compartment: PatientCompartment,
    related: RelatedPatients | None,
    matcher: TermMatcher | None,
) -> bool:
    patients = grant_patients(grant, related)
    if patients is not None and not (compartment.patients(resource) & patients):
        return False
    return not grant.query or (matcher is not None and matcher.holds(resource, grant.query))


class AccessPolicy:
    """Compiled once per request from a Principal: scopes ∩ role ceiling, default deny."""

    def __init__(self, principal: Principal, rules: tuple[Rule, ...] = RULES) -> None:
        self.principal = principal
        self._rules = rules
        self._role = "system" if principal.kind == "system" else (principal.role or "")

    def _ceiling(self, letter: str, resource_type: str) -> Rule | None:
        for rule in self._rules:
            if rule.matches(self._role, letter, resource_type):
                return rule if rule.effect == "allow" else None
        return None

    def decide(self, interaction: str, resource_type: str) -> Decision:
        """Allow/deny plus restrictions for `interaction` on `resource_type`."""
        letter = INTERACTION_PERMISSION.get(interaction)
        if letter is None:
            return Decision(
                interaction, resource_type, (), f"'{interaction}' is not scope-governed"
            )
        rule = self._ceiling(letter, resource_type)
        if rule is None:
            return Decision(
                interaction,
                resource_type,
                (),
                f"role '{self._role}' may not {interaction} {resource_type}",
            )
        grants: list[Grant] = []
        kinds: tuple[ContextKind, ...] = ("patient", "user", "system")
        for kind in kinds:
            for scope in matching(self.principal.scopes, kind, interaction, resource_type):
                grant = self._grant(scope, rule, letter, resource_type)
                if grant is not None:
                    grants.append(grant)
        if not grants:
            return Decision(
                interaction,
                resource_type,
                (),
                f"no granted scope permits {interaction} on {resource_type}",
            )
        return Decision(interaction, resource_type, tuple(dict.fromkeys(grants)), rule.name)

    def _grant(self, scope: Scope, rule: Rule, letter: str, resource_type: str) -> Grant | None:
        p = self.principal
        if scope.context == "system" and p.kind != "system":
            return None
        if scope.context == "user" and p.kind == "system":
            return None
        public = resource_type in SHARED_TYPES and letter in "rs"
        relationship = rule.relationship
        if scope.context == "patient":
            if not p.patient:
                return None  # a patient/ scope never works without a patient in context
            if public:
                return Grant(query=scope.query, rule=rule.name)
            extra = relationship if relationship in ("care-team", "institution") else "any"
            return Grant(patient=p.patient, query=scope.query, relationship=extra, rule=rule.name)
        if relationship == "own":
            own = _own_patient(p)
            if own is None:
                return None
            return Grant(patient=own, query=scope.query, rule=rule.name)
        return Grant(query=scope.query, relationship=relationship, rule=rule.name)


def _own_patient(principal: Principal) -> str | None:
    if principal.fhir_user and principal.fhir_user.startswith("Patient/"):
        return principal.fhir_user.split("/", 1)[1]
    return principal.patient
