"""Evaluating `ValueSet.compose`: full expansion and (three-valued) membership of one code.

Spec: http://hl7.org/fhir/R4/valueset.html#compositions — an include selects codes of one system by
concept list, by filters (ANDed), or whole; `valueSet` imports intersect with it; excludes remove;
`compose.inactive = false` drops inactive codes.  A ValueSet without `compose` is read from its
`expansion.contains` (nested entries flattened).

Membership does not expand: it tests the code against each include, so an enumerated include of a
system this server does not hold (SNOMED CT, LOINC …) still answers.  The answer is None where it
depends on a code system that is not available.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from .codesystem import ICD10, CodeSystemIndex, ConceptFilter, icd10_nests
from .model import Designation, ExpansionEntry, invalid_value_set, unknown_value_set

Key = tuple[str, str]


class Resolver(Protocol):
    def code_system(self, url: str, version: str | None = None) -> CodeSystemIndex | None: ...

    def value_set(self, url: str, version: str | None = None) -> Mapping[str, Any] | None: ...


def _label(vs: Mapping[str, Any]) -> str:
    return str(vs.get("url") or vs.get("id") or "(inline)")


def _imported(resolver: Resolver, ref: str) -> Mapping[str, Any]:
    found = resolver.value_set(ref)
    if found is None:
        raise unknown_value_set(ref, status=400)
    return found


def _flatten(contains: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for item in contains:
        yield item
        yield from _flatten(item.get("contains") or [])


def _code_system(resolver: Resolver, system: str, version: str | None) -> CodeSystemIndex | None:
    """The include's code system; a version this server does not hold falls back to the one it
    has (R4's own value sets name versions such as 3.6.0 of systems published as 4.0.1)."""
    found = resolver.code_system(system, version)
    return found if found is not None or version is None else resolver.code_system(system)


# -- expansion ---------------------------------------------------------------------------------
def expand_entries(
    resolver: Resolver, vs: Mapping[str, Any], stack: tuple[str, ...] = ()
) -> list[ExpansionEntry]:
    """Every code of `vs`, in compose order, without duplicates."""
    label = _label(vs)
    if label in stack:
        raise invalid_value_set(label, "it imports itself")
    compose = vs.get("compose")
    if not isinstance(compose, Mapping):
        expansion = vs.get("expansion") or {}
        if "contains" not in expansion:
            raise invalid_value_set(label, "it has neither compose nor expansion")
        return [_from_contains(c) for c in _flatten(expansion["contains"]) if c.get("code")]
    inner = (*stack, label)
    found: dict[Key, ExpansionEntry] = {}
    for include in compose.get("include") or []:
        for entry in _include(resolver, include, inner, label):
            found.setdefault((entry.system, entry.code), entry)
    for exclude in compose.get("exclude") or []:
        for entry in _include(resolver, exclude, inner, label):
            found.pop((entry.system, entry.code), None)
    entries = list(found.values())
    if compose.get("inactive") is False:
        entries = [e for e in entries if not e.inactive]
    return entries


def _from_contains(item: Mapping[str, Any]) -> ExpansionEntry:
    return ExpansionEntry(
        system=str(item.get("system", "")),
        code=str(item["code"]),
        display=item.get("display"),
        version=item.get("version"),
        designations=_designations(item.get("designation")),
        abstract=bool(item.get("abstract")),
        inactive=bool(item.get("inactive")),
    )


def _designations(raw: Any) -> tuple[Designation, ...]:
    return tuple(
        Designation(d.get("language"), d["value"], d.get("use"))
        for d in raw or []
        if isinstance(d, Mapping) and isinstance(d.get("value"), str)
    )


def _include(
    resolver: Resolver, include: Mapping[str, Any], stack: tuple[str, ...], label: str
) -> list[ExpansionEntry]:
    system = include.get("system")
    imports = [
        {(e.system, e.code) for e in expand_entries(resolver, _imported(resolver, ref), stack)}
        for ref in include.get("valueSet") or []
    ]
    if not system:
        if not imports:
            return []
        first_ref = include["valueSet"][0]
        first = expand_entries(resolver, _imported(resolver, first_ref), stack)
        return [e for e in first if all((e.system, e.code) in keys for keys in imports)]
    cs = _code_system(resolver, system, include.get("version"))
    if include.get("concept"):
        entries = _listed(cs, system, include["concept"])
    else:
        if cs is None:
            raise invalid_value_set(label, f"code system '{system}' is not available here")
        filters = [ConceptFilter.of(f) for f in include.get("filter") or []]
        concepts = cs.filtered(filters) if filters else list(cs)
        entries = [
            ExpansionEntry(
                system,
                c.code,
                c.display,
                cs.version,
                c.designations,
                c.abstract,
                c.inactive,
            )
            for c in concepts
        ]
    if imports:
        entries = [e for e in entries if all((e.system, e.code) in keys for keys in imports)]
    return entries


def _listed(
    cs: CodeSystemIndex | None, system: str, listed: Sequence[Mapping[str, Any]]
) -> list[ExpansionEntry]:
    out = []
    for item in listed:
        code = str(item.get("code", ""))
        concept = cs.get(code) if cs else None
        if cs is not None and concept is None and cs.content == "complete":
            continue  # not a code of the system: the spec makes this an error; we leave it out
        own = _designations(item.get("designation"))
        theirs = concept.designations if concept else ()
        extra = tuple(d for d in theirs if d not in own)
        out.append(
            ExpansionEntry(
                system,
                concept.code if concept else code,
                item.get("display") or (concept.display if concept else None),
                cs.version if cs else None,
                own + extra,
                concept.abstract if concept else False,
                concept.inactive if concept else False,
            )
        )
    return out


# -- membership --------------------------------------------------------------------------------
def contains_code(
    resolver: Resolver,
    vs: Mapping[str, Any],
    system: str,
    code: str,
    stack: tuple[str, ...] = (),
) -> bool | None:
    """Whether `system#code` is in `vs`: True, False, or None (not determinable here)."""
    label = _label(vs)
    if label in stack:
        raise invalid_value_set(label, "it imports itself")
    compose = vs.get("compose")
    if not isinstance(compose, Mapping):
        return any(
            (e.system, e.code) == (system, code) for e in expand_entries(resolver, vs, stack)
        )
    inner = (*stack, label)
    hit: bool | None = False
    for include in compose.get("include") or []:
        answer = _in_include(resolver, include, system, code, inner)
        if answer:
            hit = True
            break
        if answer is None:
            hit = None
    if not hit:
        return hit
    for exclude in compose.get("exclude") or []:
        answer = _in_include(resolver, exclude, system, code, inner)
        if answer is None or answer:
            return None if answer is None else False
    if compose.get("inactive") is False:
        cs = resolver.code_system(system)
        resolved = cs.resolve(code) if cs else None
        if resolved and resolved[0].inactive:
            return False
    return True


def _in_include(
    resolver: Resolver,
    include: Mapping[str, Any],
    system: str,
    code: str,
    stack: tuple[str, ...],
) -> bool | None:
    inc_system = include.get("system")
    refs = include.get("valueSet") or []
    if inc_system and inc_system != system:
        return False
    if not inc_system and not refs:
        return False
    answer: bool | None = True
    if inc_system:
        answer = _in_system_part(resolver, include, system, code)
        if answer is False:
            return False
    for ref in refs:
        imported = contains_code(resolver, _imported(resolver, ref), system, code, stack)
        if imported is False:
            return False
        if imported is None:
            answer = None
    return answer


def _in_system_part(
    resolver: Resolver, include: Mapping[str, Any], system: str, code: str
) -> bool | None:
    cs = _code_system(resolver, system, include.get("version"))
    listed = include.get("concept")
    if listed:
        codes = [str(c.get("code", "")) for c in listed]
        if code in codes:
            return True
        if cs is not None and not cs.case_sensitive:
            folded = code.casefold()
            if any(c.casefold() == folded for c in codes):
                return True
        return system == ICD10 and any(icd10_nests(c, code) for c in codes)
    if cs is None:
        return None
    if cs.resolve(code) is None:
        return False if cs.content in ("complete", "fragment") else None
    filters = [ConceptFilter.of(f) for f in include.get("filter") or []]
    return cs.matches(code, filters)
