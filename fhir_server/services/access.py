"""Access control inside the gate: the caller's SMART policy (scopes ∩ role ceiling), care
relationships and residents' Consents, applied to every read and write the repository performs.

Built once per request from `RequestContext.principal` (None: authorisation off, or the server
itself acting as a named system context).  Two ways of applying the same rules:

- **in SQL** (`rules(interaction)` → `search.access.AccessRules`): searches, includes, chains,
  `_has`, `_total`, paging, and visibility checks of stored current versions (read, the version
  an update/patch/delete replaces, what a write stored) — the grants become search terms: a
  patient compartment, the contracted residents as an IN list, SMART v2 query restrictions as
  search parameters, Consent denials as exclusions;
- **in memory** (`permits(interaction, content)`): old versions and history entries, with the
  search engine's own extractor (`auth.matching`), so a restriction means the same thing.

A resource outside the caller's reach answers 404, never 403, so nothing leaks; an interaction the
scopes or role do not grant answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ..auth.bearer import forbidden
from ..auth.compartments import PatientCompartment
from ..auth.matching import RestrictionMatcher
from ..auth.policy import AccessPolicy, Decision, grant_patients
from ..core.errors import FhirError
from ..search.access import Purpose, Terms, TypeAccess
from .consent import ConsentEvaluator, ConsentRequest
from .relationships import CareRelationships, Finder

#: SMART/role interaction used for each use a search makes of a type.
_PURPOSE_INTERACTION: dict[Purpose, str] = {"chain": "search-type", "include": "read"}
#: v3 PurposeOfUse codes (http://terminology.hl7.org/CodeSystem/v3-ActReason) a role acts for,
#: matched against `Consent.provision.purpose`.
ROLE_PURPOSES: dict[str, frozenset[str]] = {
    "doctor": frozenset({"TREAT"}),
    "nurse": frozenset({"TREAT"}),
    "institution-admin": frozenset({"HOPERAT"}),
    "admin": frozenset({"HOPERAT"}),
    "commission": frozenset({"PUBHLTH"}),
    "system": frozenset({"HOPERAT"}),
}
#: Types a Consent does not hide: the Consents themselves (a requester may learn it is refused)
#: and the audit trail (governed by the role ceiling alone).
CONSENT_EXEMPT = frozenset({"Consent", "AuditEvent"})


def compartment_terms(
    compartment: PatientCompartment, resource_type: str, patients: Iterable[str]
) -> list[Terms]:
    """OR-ed single-term groups selecting the compartments of `patients` for `resource_type`."""
    ids = sorted(set(patients))
    if not ids:
        return []
    refs = ",".join(f"Patient/{p}" for p in ids)
    return [
        ((code, ",".join(ids) if code == "_id" else refs),)
        for code in compartment.params(resource_type)
    ]


def recipient_request(
    principal: Any, at: datetime, action: str = "disclose"
) -> ConsentRequest | None:
    """Who a recipient of data sent out (a Subscription's subscriber, an export's client) is to
    a Consent: its user and Organization references and the purposes of its role; a recipient
    without a principal names no actor (only Consents denying everyone apply to it); None for a
    resident receiving their own record."""
    if principal is not None and principal.kind == "patient":
        return None
    if principal is None:
        return ConsentRequest(frozenset(), action, frozenset(), at)
    actors = {r for r in (principal.fhir_user, principal.organization_reference) if r}
    role = "system" if principal.kind == "system" else (principal.role or "")
    return ConsentRequest(frozenset(actors), action, ROLE_PURPOSES.get(role, frozenset()), at)


def compartment_contents(
    compartment: PatientCompartment, find: Finder
) -> Callable[[str, str], list[Mapping[str, Any]]]:
    """(patient, type) → the resources of the type in the patient's compartment (through `find`,
    as the system): what a Consent whose verdict depends on content is judged on."""

    def contents(patient: str, resource_type: str) -> list[Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for code in compartment.params(resource_type):
            value = patient if code == "_id" else f"Patient/{patient}"
            for item in find(resource_type, [(code, value)]):
                found.setdefault(str(item.get("id")), item)
        return list(found.values())

    return contents


class AccessControl:
    def __init__(
        self,
        principal: Any,
        compartment: PatientCompartment,
        find: Finder,
        matcher: RestrictionMatcher,
        now: Callable[[], datetime],
    ) -> None:
        self.principal = principal
        self.compartment = compartment
        self.matcher = matcher
        self.policy = AccessPolicy(principal)
        self._now = now
        self.relationships = CareRelationships(principal.fhir_user, find, now().date())
        self.consents = ConsentEvaluator(find, compartment_contents(compartment, find))
        self._decisions: dict[tuple[str, str], Decision | FhirError] = {}
        self._views: dict[tuple[str, str], TypeAccess] = {}
        self._consent_request: ConsentRequest | None | bool = False

    # -- decisions ----------------------------------------------------------------------------
    def require(self, interaction: str, resource_type: str) -> Decision:
        """The decision for `interaction` on `resource_type`; 403 when scopes/role say no."""
        key = (interaction, resource_type)
        if key not in self._decisions:
            decision = self.policy.decide(interaction, resource_type)
            self._decisions[key] = (
                decision if decision.allowed else forbidden(f"Access denied: {decision.reason}")
            )
        found = self._decisions[key]
        if isinstance(found, FhirError):
            raise found
        return found

    def may(self, interaction: str, resource_type: str) -> bool:
        try:
            self.require(interaction, resource_type)
        except FhirError:
            return False
        return True

    def related(self, relationship: str) -> frozenset[str]:
        return self.relationships.patients(relationship)

    # -- Consent --------------------------------------------------------------------------------
    def consent_request(self, action: str = "access") -> ConsentRequest | None:
        """Who the caller is to a Consent; None for a resident in their own record."""
        if self._consent_request is False:
            p = self.principal
            if p.kind == "patient":
                self._consent_request = None
            else:
                actors = set(self.relationships.actors())
                if p.fhir_user:
                    actors.add(p.fhir_user)
                if p.organization_reference:
                    actors.add(p.organization_reference)
                role = "system" if p.kind == "system" else (p.role or "")
                self._consent_request = ConsentRequest(
                    frozenset(actors), "access", ROLE_PURPOSES.get(role, frozenset()), self._now()
                )
        request = self._consent_request
        if request is None or isinstance(request, bool):
            return None
        if action != request.action:
            return ConsentRequest(request.actors, action, request.purposes, request.at)
        return request

    def _consent_terms(
        self, resource_type: str, patients: frozenset[str] | None, action: str
    ) -> tuple[tuple[Terms, ...], tuple[Terms, ...]]:
        """(exclude, reinclude) groups for what Consents deny the caller of `resource_type`."""
        request = self.consent_request(action)
        if request is None or resource_type in CONSENT_EXEMPT:
            return (), ()
        if not self.compartment.has_members(resource_type):
            return (), ()
        self.consents.preload(patients)
        candidates = (
            self.consents.patients_with_consents()
            if patients is None
            else [p for p in sorted(patients) if self.consents.consents(p)]
        )
        denied: list[str] = []
        reinclude: set[str] = set()
        hidden: set[str] = set()
        for patient in candidates:
            view = self.consents.view(patient, request, resource_type)
            if view.denied:
                denied.append(patient)
                reinclude |= view.exceptions
            else:
                hidden |= view.exceptions
        exclude = compartment_terms(self.compartment, resource_type, denied)
        if hidden:
            exclude.append((("_id", ",".join(sorted(hidden))),))
        again = [(("_id", ",".join(sorted(reinclude))),)] if reinclude and denied else []
        return tuple(exclude), tuple(again)

    # -- in SQL ---------------------------------------------------------------------------------
    def visibility(self, interaction: str, resource_type: str) -> TypeAccess:
        """What the caller may see of `resource_type` for `interaction`, as search terms."""
        key = (interaction, resource_type)
        if key in self._views:
            return self._views[key]
        decision = self.require(interaction, resource_type)
        groups: list[Terms] = []
        unrestricted = False
        scope: set[str] | None = set()
        for grant in decision.grants:
            patients = grant_patients(grant, self.related)
            if patients is None:
                scope = None
                if not grant.query:
                    unrestricted = True
                else:
                    groups.append(tuple(grant.query))
                continue
            if scope is not None:
                scope |= patients
            groups.extend(
                (*term, *grant.query)
                for term in compartment_terms(self.compartment, resource_type, patients)
            )
        action = (
            "access" if interaction in ("read", "vread") or "search" in interaction else ("correct")
        )
        exclude, reinclude = self._consent_terms(
            resource_type, None if scope is None else frozenset(scope), action
        )
        view = TypeAccess(None if unrestricted else tuple(groups), exclude, reinclude)
        self._views[key] = view
        return view

    def rules(self, interaction: str) -> _Rules:
        """`search.access.AccessRules` for a search (or a visibility check) as `interaction`."""
        return _Rules(self, interaction)

    # -- in memory ------------------------------------------------------------------------------
    def permits(self, interaction: str, content: Mapping[str, Any] | None) -> bool:
        """May the caller see this content (a version, a history entry) for `interaction`?"""
        if content is None:
            return False
        rtype = str(content.get("resourceType"))
        try:
            decision = self.require(interaction, rtype)
        except FhirError:
            return False
        if not decision.allows(content, self.compartment, self.related, self.matcher):
            return False
        request = self.consent_request()
        if request is None or rtype in CONSENT_EXEMPT:
            return True
        ref = f"{rtype}/{content.get('id')}"
        return all(
            self.consents.permits(p, request, rtype, ref, content)
            for p in self.compartment.patients(content)
        )


class _Rules:
    """The search engine's view of the caller (`search.access.AccessRules`)."""

    def __init__(self, control: AccessControl, interaction: str) -> None:
        self._control = control
        self._interaction = interaction

    def visibility(self, resource_type: str, purpose: Purpose) -> TypeAccess:
        interaction = _PURPOSE_INTERACTION.get(purpose, self._interaction)
        return self._control.visibility(interaction, resource_type)


AccessFactory = Callable[[Any, Finder], AccessControl]
