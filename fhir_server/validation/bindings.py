"""Terminology bindings: coded values checked against locally expandable ValueSets.

Spec: http://hl7.org/fhir/R4/terminologies.html#strength (required: the code SHALL be from the
ValueSet; extensible: SHALL be from it when a suitable code exists — reported as a warning here,
since suitability cannot be decided by a machine) and http://hl7.org/fhir/R4/
terminologies.html#4.1 (which datatypes carry a binding: code, Coding, CodeableConcept, Quantity,
string, uri).

A ValueSet that cannot be expanded locally (`DefinitionLibrary.members()` returns None: e.g. SNOMED
CT, UCUM, BCP-47 languages, MIME types) is not checked: no false errors from terminology we do not
hold.  A CodeableConcept with text only is accepted (nothing coded to check).

`GuideCodeStage` checks every Coding (and coded Quantity) anywhere in a resource, bound or not,
whose `system` is one of the guide's CodeSystems: a code that CodeSystem does not define is an error
(`JY-CODE-UNKNOWN`), whatever the binding strength — the guide is the authority of its own code
systems, so an unknown code there is a mistake, never "a suitable code from elsewhere".  A `system`
under the guide's CodeSystem base that the guide does not define is a warning (a newer guide
version may define it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue

from .library import DefinitionLibrary
from .walk import Visit, walk

GUIDE_CODESYSTEMS = "https://jiayi.health/fhir/CodeSystem/"
_CODED = frozenset({"Coding", "Quantity"})


class Bindings:
    """Membership checks over the library's ValueSets (bare-code sets cached on the instance)."""

    def __init__(self, library: DefinitionLibrary) -> None:
        self.library = library
        self._codes: dict[str, frozenset[str]] = {}

    def issue(
        self, strength: str, valueset: str, type_code: str, value: Any, expression: str
    ) -> Issue | None:
        """The issue when `value` (of `type_code`) is not in `valueset` (None when fine/unknown)."""
        if strength not in ("required", "extensible"):
            return None
        members = self.library.members(valueset)
        if members is None:
            return None
        found = self._contains(members, valueset, type_code, value)
        if found is None or found:
            return None
        shown = _shown(type_code, value)
        vs = valueset.split("|", 1)[0]
        if strength == "required":
            return Issue(
                "error",
                "code-invalid",
                f"{shown} is not in the required value set {vs}",
                (expression,),
                "JY-BIND-REQUIRED",
            )
        return Issue(
            "warning",
            "code-invalid",
            f"{shown} is not in the extensible value set {vs}",
            (expression,),
            "JY-BIND-EXTENSIBLE",
        )

    def _contains(
        self, members: frozenset[str], valueset: str, type_code: str, value: Any
    ) -> bool | None:
        """True/False when decidable; None when there is nothing coded to check."""
        if isinstance(value, str):
            if type_code in ("code", "string", "uri"):
                return value in self._bare(valueset, members)
            return None
        if not isinstance(value, dict):
            return None
        if type_code == "Coding":
            return self._coding(members, valueset, value)
        if type_code == "CodeableConcept":
            codings = [c for c in value.get("coding", []) if isinstance(c, dict) and "code" in c]
            if not codings:
                return None
            return any(self._coding(members, valueset, c) for c in codings)
        if type_code == "Quantity" and "code" in value:
            return self._coding(members, valueset, value)
        return None

    def _coding(self, members: frozenset[str], valueset: str, coding: dict[str, Any]) -> bool:
        code = coding.get("code")
        if not isinstance(code, str):
            return True
        system = coding.get("system")
        if isinstance(system, str):
            return f"{system}|{code}" in members
        return code in self._bare(valueset, members)

    def _bare(self, valueset: str, members: frozenset[str]) -> frozenset[str]:
        codes = self._codes.get(valueset)
        if codes is None:
            codes = frozenset(m.rsplit("|", 1)[1] for m in members)
            self._codes[valueset] = codes
        return codes


def _shown(type_code: str, value: Any) -> str:
    if isinstance(value, str):
        return f"Code '{value}'"
    if type_code == "CodeableConcept":
        codes = [f"{c.get('system', '')}|{c.get('code')}" for c in value.get("coding", [])]
        return "CodeableConcept (" + ", ".join(repr(c) for c in codes) + ")"
    return f"Code '{value.get('system', '')}|{value.get('code')}'"


class BaseBindingStage:
    """Validation stage: the required bindings of the base R4 definitions on every element."""

    def __init__(self, defs: R4Definitions, bindings: Bindings) -> None:
        self.defs = defs
        self.bindings = bindings

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        return self.examine(list(walk(resource, self.defs)))

    def examine(self, visits: Sequence[Visit]) -> list[Issue]:
        """The issues of a walk of the resource (`Validator` walks once for every stage)."""
        issues: list[Issue] = []
        for visit in visits:
            element = visit.element
            if element is None or element.binding is None or element.binding[0] != "required":
                continue
            issue = self.bindings.issue(
                "required", element.binding[1], element.type, visit.value, visit.expression
            )
            if issue is not None:
                issues.append(issue)
        return issues


class GuideCodeStage:
    """Validation stage: codes of the guide's own CodeSystems, in every element (bound or not)."""

    def __init__(self, defs: R4Definitions, library: DefinitionLibrary) -> None:
        self.defs = defs
        self.library = library
        self._codes: dict[str, frozenset[str] | None] = {}

    def codes(self, system: str) -> frozenset[str] | None:
        if system not in self._codes:
            self._codes[system] = self.library.codesystem_codes(system)
        return self._codes[system]

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        return self.examine(list(walk(resource, self.defs)))

    def examine(self, visits: Sequence[Visit]) -> list[Issue]:
        """The issues of a walk of the resource (`Validator` walks once for every stage)."""
        issues: list[Issue] = []
        for visit in visits:
            value = visit.value
            if visit.type not in _CODED or not isinstance(value, dict):
                continue
            system, code = value.get("system"), value.get("code")
            if not isinstance(system, str) or not system.startswith(GUIDE_CODESYSTEMS):
                continue
            if not self.library.is_guide_codesystem(system):
                issues.append(
                    Issue(
                        "warning",
                        "code-invalid",
                        f"Code system {system} is not defined by this guide",
                        (f"{visit.expression}.system",),
                        "JY-CODE-SYSTEM-UNKNOWN",
                    )
                )
                continue
            known = self.codes(system)
            if isinstance(code, str) and known is not None and code not in known:
                issues.append(
                    Issue(
                        "error",
                        "code-invalid",
                        f"Code '{code}' is not defined in the code system {system}",
                        (f"{visit.expression}.code",),
                        "JY-CODE-UNKNOWN",
                    )
                )
        return issues
