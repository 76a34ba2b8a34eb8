"""Consent evaluation: does a resident's `Consent` let this requester see or use this data?

Spec: FHIR R4 consent.html ("Privacy Consent Directive", §"Provisions": a base policy in
`Consent.provision` with nested provisions as exceptions; `actor`, `action`, `purpose`,
`class`, `code`, `data`, `period`).  Seeds: a resident may refuse to share with a given
institution and may withdraw from health pushes (国卫办基层发〔2025〕21号 — services on the resident's
terms).

One evaluator serves the access gate (reads, searches, includes, history, Bundle entries; pushed
into SQL by `services.access`) and the workflows (pushes, outbox adapters, Subscriptions, bulk
export).  The rules, as implemented:

- A Consent counts when `status` is `active`, its `scope` is `patient-privacy`, `treatment` or
  absent (research and advance-directive consents do not govern access), and it names
  `Consent.patient`.
- A provision *applies* to a request when every criterion it states holds: `period` covers the
  moment, an `actor.reference` is one of the requester's references, an `action` code is the
  request's action, a `purpose` code is one of the request's purposes, a `class` (resource-types
  code system) is the resource's type, a `data.reference` is the resource.  A criterion the
  evaluator cannot decide (a `class` in another code system, `code`, `securityLabel`,
  `dataPeriod`, a purpose when the requester states none) counts as holding for a `deny` and not
  holding for a `permit`: uncertainty never widens access.
- An applying provision's `type` is its verdict (for the root, a missing type falls back to
  `policyRule` OPTIN → permit / OPTOUT → deny); an applying nested provision overrides its
  parent (nested provisions are exceptions), `deny` winning among siblings.  A provision that
  does not apply says nothing, and neither do its children.
- Across a patient's Consents any `deny` wins; without any verdict the default is permit (the
  access policy alone decides).

Use from a workflow (actions: `access` reads, `correct` writes, `use`, `disclose` to outside
systems — code system http://terminology.hl7.org/CodeSystem/consentaction):

    consents = ConsentEvaluator.for_repository(repo)      # reads Consents as the system
    request = ConsentRequest(frozenset({"Organization/chc-1"}), action="disclose")
    if consents.permits("p1", request, "Communication"): ...

Withdrawing from health pushes is a Consent with a `deny` provision whose `class` is
`Communication` and `action` is `disclose`: reads of past Communications stay allowed, new pushes
are not sent.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .every_match import search_all

Verdict = Literal["permit", "deny"]
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
GOVERNING_SCOPES = frozenset({"patient-privacy", "treatment"})
#: Finder: (resource type, search query) → resources, run as the system (not as the caller).
Finder = Callable[[str, list[tuple[str, str]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ConsentRequest:
    """Who asks, to do what, for which purposes, when."""

    actors: frozenset[str]  # references naming the requester (Practitioner/…, Organization/…)
    action: str = "access"
    purposes: frozenset[str] = frozenset()  # v3 PurposeOfUse codes (TREAT, HOPERAT, PUBHLTH …)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _codes(items: Any, *, concept: bool) -> set[tuple[str | None, str | None]]:
    out: set[tuple[str | None, str | None]] = set()
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        codings = item.get("coding", []) if concept else [item]
        for c in codings or []:
            if isinstance(c, Mapping):
                out.add((c.get("system"), c.get("code")))
    return out


def _instant(value: Any, end: bool) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value
    if len(text) == 4:
        text += "-12-31" if end else "-01-01"
    elif len(text) == 7:
        try:
            last = calendar.monthrange(int(text[:4]), int(text[5:7]))[1]
        except ValueError:
            return None
        text += f"-{last:02d}" if end else "-01"
    if len(text) == 10:
        text += "T23:59:59+00:00" if end else "T00:00:00+00:00"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def period_covers(period: Any, at: datetime) -> bool:
    """Does a FHIR Period (missing bounds open) cover the moment `at`?"""
    if not isinstance(period, Mapping):
        return True
    start, end = _instant(period.get("start"), False), _instant(period.get("end"), True)
    return (start is None or start <= at) and (end is None or at <= end)


def governs(consent: Mapping[str, Any], at: datetime) -> bool:
    """Is this a privacy Consent in force at `at`?"""
    if consent.get("resourceType") != "Consent" or consent.get("status") != "active":
        return False
    scopes = {code for _s, code in _codes([consent.get("scope")], concept=True)}
    if scopes and not scopes & GOVERNING_SCOPES:
        return False
    root = consent.get("provision")
    return not isinstance(root, Mapping) or period_covers(root.get("period"), at)


def consent_patient(consent: Mapping[str, Any]) -> str | None:
    ref = (consent.get("patient") or {}).get("reference")
    if isinstance(ref, str) and ref.startswith("Patient/"):
        return ref.split("/", 1)[1]
    return None


def _applies(
    provision: Mapping[str, Any],
    request: ConsentRequest,
    resource_type: str,
    resource_ref: str | None,
    verdict: Verdict | None,
) -> bool:
    deny = verdict == "deny"
    if not period_covers(provision.get("period"), request.at):
        return False
    actors = {
        (a.get("reference") or {}).get("reference")
        for a in provision.get("actor", []) or []
        if isinstance(a, Mapping)
    }
    if actors and not actors & request.actors:
        return False
    actions = {code for _s, code in _codes(provision.get("action"), concept=True)}
    if actions and request.action not in actions:
        return False
    purposes = {code for _s, code in _codes(provision.get("purpose"), concept=False)}
    if purposes and not (purposes & request.purposes if request.purposes else deny):
        return False
    classes = _codes(provision.get("class"), concept=False)
    if classes:
        known = {code for system, code in classes if system in (None, RESOURCE_TYPES_SYSTEM)}
        unknown = len(known) < len(classes)
        if resource_type not in known and not (unknown and deny):
            return False
    for uncertain in ("code", "securityLabel", "dataPeriod"):
        if provision.get(uncertain) and not deny:
            return False
    data = {
        (d.get("reference") or {}).get("reference")
        for d in provision.get("data", []) or []
        if isinstance(d, Mapping)
    }
    data.discard(None)
    return not data or resource_ref in data


def _node(
    provision: Any,
    request: ConsentRequest,
    resource_type: str,
    resource_ref: str | None,
    fallback: Verdict | None = None,
) -> Verdict | None:
    if not isinstance(provision, Mapping):
        return fallback
    kind = provision.get("type")
    verdict: Verdict | None = kind if kind in ("permit", "deny") else fallback
    if not _applies(provision, request, resource_type, resource_ref, verdict):
        return None
    children = [
        _node(child, request, resource_type, resource_ref)
        for child in provision.get("provision", []) or []
    ]
    if "deny" in children:
        return "deny"
    if "permit" in children:
        return "permit"
    return verdict


def evaluate(
    consent: Mapping[str, Any],
    request: ConsentRequest,
    resource_type: str,
    resource_ref: str | None = None,
) -> Verdict | None:
    """One Consent's verdict on `resource_type` (and, when given, the resource `Type/id`)."""
    if not governs(consent, request.at):
        return None
    rules = {code for _s, code in _codes([consent.get("policyRule")], concept=True)}
    fallback: Verdict | None = (
        "deny" if "OPTOUT" in rules else "permit" if "OPTIN" in rules else None
    )
    root = consent.get("provision")
    if root is None:
        return fallback
    return _node(root, request, resource_type, resource_ref, fallback)


def combine(verdicts: Iterable[Verdict | None]) -> Verdict | None:
    found = set(verdicts)
    return "deny" if "deny" in found else "permit" if "permit" in found else None


def data_references(consent: Mapping[str, Any]) -> set[str]:
    """Every `provision.data.reference` anywhere in a Consent."""
    out: set[str] = set()

    def walk(provision: Any) -> None:
        if not isinstance(provision, Mapping):
            return
        for d in provision.get("data", []) or []:
            ref = (d.get("reference") or {}).get("reference") if isinstance(d, Mapping) else None
            if isinstance(ref, str):
                out.add(ref)
        for child in provision.get("provision", []) or []:
            walk(child)

    walk(consent.get("provision"))
    return out


@dataclass(frozen=True)
class TypeView:
    """What one patient's Consents decide for one requester and resource type.

    `denied`: the type as a whole is denied; `exceptions`: ids of resources of the type whose
    verdict differs from the type's (permitted despite a type-level deny, or denied by a
    resource-level provision)."""

    denied: bool
    exceptions: frozenset[str] = frozenset()


def type_view(
    consents: Iterable[Mapping[str, Any]], request: ConsentRequest, resource_type: str
) -> TypeView:
    items = [c for c in consents if governs(c, request.at)]
    denied = combine(evaluate(c, request, resource_type) for c in items) == "deny"
    exceptions = set()
    for ref in {r for c in items for r in data_references(c)}:
        rtype, _, rid = ref.partition("/")
        if rtype != resource_type or not rid:
            continue
        verdict = combine(evaluate(c, request, resource_type, ref) for c in items)
        if (verdict == "deny") != denied:
            exceptions.add(rid)
    return TypeView(denied, frozenset(exceptions))


class ConsentEvaluator:
    """Consents per patient, loaded once (through `find`, as the system) and evaluated."""

    def __init__(self, find: Finder) -> None:
        self._find = find
        self._by_patient: dict[str, list[dict[str, Any]]] = {}
        self._all: bool = False

    @classmethod
    def for_repository(cls, repo: Any) -> ConsentEvaluator:
        """An evaluator reading Consents through `repo` acting as the system (any caller)."""
        system = repo.as_system("consent")

        def find(resource_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
            return search_all(system, resource_type, query)

        return cls(find)

    def consents(self, patient: str) -> list[dict[str, Any]]:
        if patient not in self._by_patient:
            if self._all:
                return []
            found = self._find("Consent", [("patient", f"Patient/{patient}"), ("status", "active")])
            self._by_patient[patient] = found
        return self._by_patient[patient]

    def preload(self, patients: Iterable[str] | None) -> None:
        """Load the Consents of `patients` (None: every active Consent) in one pass."""
        wanted = None if patients is None else sorted(set(patients) - set(self._by_patient))
        if wanted == []:
            return
        query = [("status", "active")]
        if wanted is not None:
            query.append(("patient", ",".join(f"Patient/{p}" for p in wanted)))
        found: dict[str, list[dict[str, Any]]] = {p: [] for p in wanted or []}
        for consent in self._find("Consent", query):
            patient = consent_patient(consent)
            if patient is not None:
                found.setdefault(patient, []).append(consent)
        self._by_patient.update(found)
        if wanted is None:
            self._all = True

    def patients_with_consents(self) -> list[str]:
        return sorted(p for p, items in self._by_patient.items() if items)

    def verdict(
        self,
        patient: str,
        request: ConsentRequest,
        resource_type: str,
        resource_ref: str | None = None,
    ) -> Verdict | None:
        return combine(
            evaluate(c, request, resource_type, resource_ref) for c in self.consents(patient)
        )

    def permits(
        self,
        patient: str,
        request: ConsentRequest,
        resource_type: str,
        resource_ref: str | None = None,
    ) -> bool:
        """False when the patient's Consents deny this request (default: permitted)."""
        return self.verdict(patient, request, resource_type, resource_ref) != "deny"

    def view(self, patient: str, request: ConsentRequest, resource_type: str) -> TypeView:
        return type_view(self.consents(patient), request, resource_type)
