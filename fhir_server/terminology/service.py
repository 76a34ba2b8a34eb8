"""`TerminologyService`: the one entry point of the terminology engine.

Spec: http://hl7.org/fhir/R4/terminology-service.html — $expand, $lookup, $validate-code (ValueSet
and CodeSystem), $translate and $subsumes — plus what validation (bindings) and search (`:in`,
`:below`) need: `is_in`, `membership`, `descendants`, `token_terms`, `below_terms`.

One instance per request or per job: it caches compiled CodeSystems, ValueSets and expansions for its
lifetime and reads through the `TerminologySource` it is given (database first, then package data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..search.text import has_han, normalize
from .codesystem import ICD10, CodeSystemIndex, Concept, icd10_category
from .conceptmap import select_maps, translate
from .expansion import contains_code, expand_entries
from .matching import TextFilter
from .model import (
    ZH,
    Designation,
    ExpansionEntry,
    LookupResult,
    SubsumesOutcome,
    Translation,
    ValidationResult,
    ValueSetExpansion,
    display_for,
    too_costly,
    unknown_code,
    unknown_code_system,
    unknown_concept_map,
    unknown_value_set,
)
from .sources import TerminologySource, split_canonical

MAX_EXPANSION = 10_000
ValueSetRef = str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TokenTerm:
    """A search term for `:in`/`:below`: match `system` and `code` exactly, or — `prefix` — any code
    starting with `code` (ICD-10 categories: `I10` also finds `I10.x00`)."""

    system: str
    code: str
    prefix: bool = False


class TerminologyService:
    def __init__(self, source: TerminologySource, *, max_expansion: int = MAX_EXPANSION) -> None:
        self.source = source
        self.max_expansion = max_expansion
        self._code_systems: dict[tuple[str, str | None], CodeSystemIndex | None] = {}
        self._value_sets: dict[tuple[str, str | None], Mapping[str, Any] | None] = {}
        self._expansions: dict[str, list[ExpansionEntry]] = {}

    # -- resolution (also the `expansion.Resolver` protocol) -------------------------------------
    def code_system(self, url: str, version: str | None = None) -> CodeSystemIndex | None:
        key = split_canonical(url, version)
        if key not in self._code_systems:
            found = self.source.find("CodeSystem", *key)
            self._code_systems[key] = CodeSystemIndex(found) if found is not None else None
        return self._code_systems[key]

    def value_set(self, url: str, version: str | None = None) -> Mapping[str, Any] | None:
        key = split_canonical(url, version)
        if key not in self._value_sets:
            self._value_sets[key] = self.source.find("ValueSet", *key)
        return self._value_sets[key]

    def require_code_system(
        self, url: str, version: str | None = None, *, status: int = 404
    ) -> CodeSystemIndex:
        found = self.code_system(url, version)
        if found is None:
            raise unknown_code_system(url, status)
        return found

    def code_system_of(
        self, codesystem: str | Mapping[str, Any], version: str | None = None
    ) -> CodeSystemIndex:
        """A URL (404 when unknown) or a CodeSystem resource at hand (instance level, request body)."""
        if isinstance(codesystem, Mapping):
            return CodeSystemIndex(codesystem)
        return self.require_code_system(codesystem, version)

    def require_value_set(
        self, ref: ValueSetRef, version: str | None = None, *, status: int = 404
    ) -> Mapping[str, Any]:
        if isinstance(ref, Mapping):
            return ref
        found = self.value_set(ref, version)
        if found is None:
            raise unknown_value_set(ref, status)
        return found

    # -- $expand ---------------------------------------------------------------------------------
    def entries(self, valueset: ValueSetRef) -> list[ExpansionEntry]:
        """Every code of a value set (cached per URL), before filter and paging."""
        vs = self.require_value_set(valueset)
        key = f"{vs.get('url')}|{vs.get('version')}" if vs.get("url") else None
        if key is not None and key in self._expansions and not isinstance(valueset, Mapping):
            return self._expansions[key]
        entries = expand_entries(self, vs)
        if len(entries) > self.max_expansion:
            raise too_costly(str(vs.get("url") or "(inline)"), len(entries), self.max_expansion)
        if key is not None and not isinstance(valueset, Mapping):
            self._expansions[key] = entries
        return entries

    def expand(
        self,
        valueset: ValueSetRef,
        *,
        filter: str | None = None,
        offset: int = 0,
        count: int | None = None,
        display_language: str | None = None,
        active_only: bool = False,
        include_designations: bool = False,
    ) -> ValueSetExpansion:
        vs = self.require_value_set(valueset)
        entries = self.entries(valueset)
        if active_only:
            entries = [e for e in entries if not e.inactive]
        text = TextFilter(filter) if filter else None
        if text:
            entries = [
                e
                for e in entries
                if text.matches(e.code, e.display, (d.value for d in e.designations))
            ]
        offset = max(offset, 0)
        page = entries[offset:] if count is None else entries[offset : offset + max(count, 0)]
        params: list[tuple[str, Any]] = []
        for name, value in (
            ("filter", filter),
            ("offset", offset if (offset or count is not None) else None),
            ("count", count),
            ("displayLanguage", display_language),
            ("activeOnly", active_only or None),
            ("includeDesignations", include_designations or None),
        ):
            if value is not None:
                params.append((name, value))
        return ValueSetExpansion(
            vs.get("url"),
            vs.get("version"),
            tuple(page),
            len(entries),
            offset,
            tuple(params),
            dict(vs),
        )

    # -- membership (bindings, :in) ----------------------------------------------------------------
    def membership(self, valueset: ValueSetRef, system: str, code: str) -> bool | None:
        """True/False, or None when it depends on a code system not available here."""
        return contains_code(self, self.require_value_set(valueset), system, code)

    def is_in(self, valueset: ValueSetRef, system: str, code: str) -> bool:
        return self.membership(valueset, system, code) is True

    def token_terms(self, valueset: ValueSetRef) -> list[TokenTerm]:
        """The expansion as search terms; ICD-10 codes also match the codes below them."""
        return [TokenTerm(e.system, e.code, e.system == ICD10) for e in self.entries(valueset)]

    def descendants(self, system: str, code: str) -> list[str]:
        """Codes below `code` in `system`'s hierarchy (not `code` itself)."""
        cs = self.require_code_system(system)
        concept = cs.get(code)
        return cs.descendants(concept.code) if concept else []

    def below_terms(self, system: str, code: str) -> list[TokenTerm]:
        """Search terms for `system|code` with `:below`: the code, its descendants, and for ICD-10
        every code of the national edition that starts with it."""
        cs = self.code_system(system)
        codes = [code, *(self.descendants(system, code) if cs else [])]
        return [TokenTerm(system, c, system == ICD10) for c in codes]

    # -- $validate-code ----------------------------------------------------------------------------
    def validate_code(
        self,
        valueset: ValueSetRef,
        system: str | None,
        code: str,
        display: str | None = None,
        *,
        display_language: str | None = None,
    ) -> ValidationResult:
        vs = self.require_value_set(valueset)
        label = vs.get("url") or "(inline)"
        if not system:
            systems = {i.get("system") for i in (vs.get("compose") or {}).get("include", [])}
            systems.discard(None)
            if len(systems) != 1:
                return ValidationResult(False, f"Code '{code}' needs a system for '{label}'")
            system = str(systems.pop())
        member = self.membership(vs, system, code)
        if member is None:
            why = f"'{system}#{code}' could not be checked against '{label}': its code system is not available"
            return ValidationResult(False, why, checked=False, system=system, code=code)
        if not member:
            cs = self.code_system(system)
            known = cs is None or cs.resolve(code) is not None
            why = (
                f"Code '{system}#{code}' is not in the value set '{label}'"
                if known
                else f"Unknown code '{code}' in the code system '{system}'"
            )
            return ValidationResult(False, why, system=system, code=code)
        return self._check_display(system, code, display, display_language, vs)

    def validate_in_code_system(
        self,
        codesystem: str | Mapping[str, Any],
        code: str,
        display: str | None = None,
        *,
        version: str | None = None,
        display_language: str | None = None,
    ) -> ValidationResult:
        cs = self.code_system_of(codesystem, version)
        if cs.resolve(code) is None:
            why = f"Unknown code '{code}' in the code system '{cs.url}'"
            checked = cs.content in ("complete", "fragment")
            return ValidationResult(False, why, checked=checked, system=cs.url, code=code)
        return self._check_display(cs.url, code, display, display_language, None, cs)

    def _check_display(
        self,
        system: str,
        code: str,
        display: str | None,
        language: str | None,
        vs: Mapping[str, Any] | None,
        cs: CodeSystemIndex | None = None,
    ) -> ValidationResult:
        cs = cs or self.code_system(system)
        resolved = cs.resolve(code) if cs else None
        names: list[str] = []
        expected: str | None = None
        note = None
        if resolved is not None:
            concept, refined = resolved
            expected = display_for(concept.display, concept.designations, language)
            names = [n for n in (concept.display, *(d.value for d in concept.designations)) if n]
            if refined:  # a national-edition code: its own display cannot be checked here
                note = f"'{code}' matched by its ICD-10 category '{concept.code}'"
                return ValidationResult(True, note, expected, system=system, code=code)
        listed = _listed_names(vs, system, code) if vs else []
        names += listed
        expected = expected or (listed[0] if listed else None)
        if display and names and normalize(display) not in {normalize(n) for n in names}:
            note = (
                f"Display '{display}' for '{system}#{code}' does not match the expected "
                f"display '{expected}'"
            )
        return ValidationResult(True, note, expected, system=system, code=code)

    # -- $lookup -----------------------------------------------------------------------------------
    def lookup(
        self,
        system: str | Mapping[str, Any],
        code: str,
        *,
        version: str | None = None,
        display_language: str | None = None,
        properties: Sequence[str] = (),
    ) -> LookupResult:
        cs = self.code_system_of(system, version)
        resolved = cs.resolve(code)
        if resolved is None:
            raise unknown_code(cs.url, code)
        concept, refined = resolved
        props = _lookup_properties(cs, concept)
        if refined:  # a national-edition code sits below its ICD-10 category
            props = [("parent", {"valueCode": concept.code}), ("inactive", {"valueBoolean": False})]
        if properties:
            wanted = set(properties)
            props = [(c, v) for c, v in props if c in wanted]
        return LookupResult(
            name=cs.name,
            version=cs.version,
            code=code,
            display=display_for(concept.display, concept.designations, display_language),
            designations=_with_native(concept),
            properties=tuple(props),
            definition=concept.definition,
            matched_code=concept.code if refined else None,
        )

    # -- $subsumes ---------------------------------------------------------------------------------
    def subsumes(
        self,
        system: str | Mapping[str, Any],
        code_a: str,
        code_b: str,
        *,
        version: str | None = None,
    ) -> SubsumesOutcome:
        return self.code_system_of(system, version).subsumes(code_a, code_b)

    # -- $translate --------------------------------------------------------------------------------
    def concept_map(self, url: str, version: str | None = None) -> Mapping[str, Any]:
        found = self.source.find("ConceptMap", url, version)
        if found is None:
            raise unknown_concept_map(url)
        return found

    def translate(
        self,
        system: str,
        code: str,
        *,
        concept_map: ValueSetRef | None = None,
        source: str | None = None,
        target: str | None = None,
        target_system: str | None = None,
        reverse: bool = False,
    ) -> Translation:
        if concept_map is None:
            maps = select_maps(self.source.concept_maps(system), source, target, reverse)
        elif isinstance(concept_map, Mapping):
            maps = [concept_map]
        else:
            maps = [self.concept_map(concept_map)]
        return translate(
            maps,
            system,
            code,
            target_system=target_system,
            reverse=reverse,
            other_map=lambda url: self.source.find("ConceptMap", url),
        )


def _listed_names(vs: Mapping[str, Any], system: str, code: str) -> list[str]:
    names = []
    for include in (vs.get("compose") or {}).get("include") or []:
        if include.get("system") != system:
            continue
        for item in include.get("concept") or []:
            if item.get("code") == code:
                names += [item.get("display")] if item.get("display") else []
                names += [d["value"] for d in item.get("designation") or [] if "value" in d]
    return names


def _with_native(concept: Concept) -> tuple[Designation, ...]:
    """The concept's designations, plus its Chinese display as a `zh` designation."""
    out = list(concept.designations)
    native = concept.display
    if native and has_han(native) and not any(d.language == ZH for d in out):
        out.insert(0, Designation(ZH, native))
    return tuple(out)


def _lookup_properties(cs: CodeSystemIndex, concept: Concept) -> list[tuple[str, dict[str, Any]]]:
    props: list[tuple[str, dict[str, Any]]] = list(concept.properties)
    props += [("parent", {"valueCode": p}) for p in cs.parents.get(concept.code, [])]
    props += [("child", {"valueCode": c}) for c in cs.children.get(concept.code, [])]
    if concept.definition:
        props.append(("definition", {"valueString": concept.definition}))
    props.append(("inactive", {"valueBoolean": concept.inactive}))
    return props


__all__ = ["TerminologyService", "TokenTerm", "icd10_category"]
