"""A compiled CodeSystem: concepts by code, the hierarchy, property filters and subsumption.

Spec: http://hl7.org/fhir/R4/codesystem.html (concept hierarchy by nesting or by the `parent`/`child`
/`subsumedBy` properties, `caseSensitive`, `hierarchyMeaning`), http://hl7.org/fhir/R4/valueset.html
#filters (the filter operators), http://hl7.org/fhir/R4/codesystem-operation-subsumes.html.

ICD-10 (`http://hl7.org/fhir/sid/icd-10`) gets the category-prefix rule of INTERFACE.md: a code of the
Chinese national clinical edition that the fragment does not list (`I10.x00`) resolves to its ICD-10
category (`I10`), is subsumed by it, and is in every value set that holds the category.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import errors as E
from .model import Designation, SubsumesOutcome, unknown_code

ICD10 = "http://hl7.org/fhir/sid/icd-10"
_ICD10_CATEGORY = re.compile(r"^([A-Z][0-9]{2})(?:[.\-]?[0-9A-Za-z].*)?$")
_INACTIVE_STATUS = frozenset({"retired", "inactive"})
_PARENT_PROPS = frozenset({"parent", "subsumedBy"})


def icd10_category(code: str) -> str | None:
    """`I10.x00` → `I10`; None when `code` does not start with an ICD-10 category."""
    match = _ICD10_CATEGORY.match(code.strip().upper())
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class ConceptFilter:
    """One `compose.include.filter`: property, op, value."""

    property: str
    op: str
    value: str

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ConceptFilter:
        return cls(str(raw.get("property", "")), str(raw.get("op", "")), str(raw.get("value", "")))


@dataclass(frozen=True, slots=True)
class Concept:
    code: str
    display: str | None
    definition: str | None
    designations: tuple[Designation, ...]
    properties: tuple[tuple[str, dict[str, Any]], ...]  # (code, {"valueX": v})
    abstract: bool
    inactive: bool

    def property_values(self, name: str) -> list[str]:
        return [_as_text(v) for c, v in self.properties if c == name]


def _as_text(value: Mapping[str, Any]) -> str:
    for key, item in value.items():
        if key.startswith("value"):
            if isinstance(item, bool):
                return "true" if item else "false"
            if isinstance(item, dict):
                return str(item.get("code", ""))
            return str(item)
    return ""


def _concept(raw: Mapping[str, Any]) -> Concept:
    designations = tuple(
        Designation(d.get("language"), d["value"], d.get("use"))
        for d in raw.get("designation") or []
        if isinstance(d, dict) and isinstance(d.get("value"), str)
    )
    properties = tuple(
        (p["code"], {k: v for k, v in p.items() if k.startswith("value")})
        for p in raw.get("property") or []
        if isinstance(p, dict) and isinstance(p.get("code"), str)
    )
    flags = {c: _as_text(v) for c, v in properties}
    return Concept(
        code=str(raw["code"]),
        display=raw.get("display"),
        definition=raw.get("definition"),
        designations=designations,
        properties=properties,
        abstract=flags.get("notSelectable") == "true" or flags.get("abstract") == "true",
        inactive=flags.get("inactive") == "true" or flags.get("status") in _INACTIVE_STATUS,
    )


class CodeSystemIndex:
    """Read-only view of one CodeSystem resource (built once per `TerminologyService` instance)."""

    def __init__(self, resource: Mapping[str, Any]) -> None:
        self.resource = resource
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("name") or resource.get("title") or self.url
        self.content: str = resource.get("content", "complete")
        self.case_sensitive: bool = resource.get("caseSensitive", True) is not False
        self.is_icd10 = self.url == ICD10
        self.concepts: dict[str, Concept] = {}
        self.parents: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}
        self._folded: dict[str, str] = {}
        self._add(resource.get("concept") or [], None)
        for concept in self.concepts.values():  # hierarchy declared as properties
            for prop, value in concept.properties:
                if prop in _PARENT_PROPS:
                    self._link(_as_text(value), concept.code)
                elif prop == "child":
                    self._link(concept.code, _as_text(value))

    def _add(self, raws: Iterable[Any], parent: str | None) -> None:
        for raw in raws:
            if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
                continue
            concept = _concept(raw)
            self.concepts.setdefault(concept.code, concept)
            self._folded.setdefault(concept.code.casefold(), concept.code)
            if parent is not None:
                self._link(parent, concept.code)
            self._add(raw.get("concept") or [], concept.code)

    def _link(self, parent: str, child: str) -> None:
        if not parent or parent == child:
            return
        if parent not in self.children.setdefault(child, []) and child not in self.parents.get(
            parent, []
        ):
            self.parents.setdefault(child, []).append(parent)
            self.children.setdefault(parent, []).append(child)

    # -- finding concepts ------------------------------------------------------------------------
    def get(self, code: str) -> Concept | None:
        """The concept with exactly this code (case-insensitively when the system says so)."""
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            canonical = self._folded.get(code.casefold())
            found = self.concepts.get(canonical) if canonical else None
        return found

    def resolve(self, code: str) -> tuple[Concept, bool] | None:
        """(concept, refined): refined is True when an ICD-10 code matched by its category prefix."""
        found = self.get(code)
        if found is not None:
            return found, False
        if self.is_icd10 and (category := icd10_category(code)) and category != code:
            parent = self.get(category)
            if parent is not None:
                return parent, True
        return None

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    # -- hierarchy -------------------------------------------------------------------------------
    def ancestors(self, code: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.parents.get(code, []))
        while stack:
            item = stack.pop()
            if item not in seen:
                seen.add(item)
                stack.extend(self.parents.get(item, []))
        return seen

    def descendants(self, code: str) -> list[str]:
        """Every code below `code`, in breadth-first order (not `code` itself)."""
        out: list[str] = []
        seen = {code}
        queue = list(self.children.get(code, []))
        while queue:
            item = queue.pop(0)
            if item in seen:
                continue
            seen.add(item)
            out.append(item)
            queue.extend(self.children.get(item, []))
        return out

    def _is_a(self, code: str, ancestor: str, *, strict: bool) -> bool:
        """Whether `code` is `ancestor` or below it; honours the ICD-10 category prefix."""
        resolved = self.resolve(code)
        target = self.get(ancestor)
        target_code = target.code if target else ancestor
        if resolved is None:
            return False
        concept, refined = resolved
        if self.is_icd10 and icd10_nests(target_code, code):
            return True
        if concept.code == target_code:
            return refined or not strict
        return target_code in self.ancestors(concept.code)

    def subsumes(self, code_a: str, code_b: str) -> SubsumesOutcome:
        for code in (code_a, code_b):
            if self.resolve(code) is None:
                raise unknown_code(self.url, code, status=400)
        a = self.get(code_a)
        b = self.get(code_b)
        same = a is not None and b is not None and a.code == b.code
        if code_a == code_b or same:
            return SubsumesOutcome.EQUIVALENT
        if self._is_a(code_b, code_a, strict=True):
            return SubsumesOutcome.SUBSUMES
        if self._is_a(code_a, code_b, strict=True):
            return SubsumesOutcome.SUBSUMED_BY
        return SubsumesOutcome.NOT_SUBSUMED

    # -- filters (compose.include.filter) ------------------------------------------------------
    def matches(self, code: str, filters: Sequence[ConceptFilter]) -> bool:
        return all(self._matches(code, f) for f in filters)

    def filtered(self, filters: Sequence[ConceptFilter]) -> list[Concept]:
        if len(filters) >= 1 and filters[0].property in ("concept", "code"):
            first = filters[0]
            if first.op in ("is-a", "descendent-of") and self.get(first.value):
                root = self.get(first.value)
                assert root is not None
                codes = self.descendants(root.code)
                if first.op == "is-a":
                    codes = [root.code, *codes]
                return [self.concepts[c] for c in codes if self.matches(c, filters[1:])]
        return [c for c in self if self.matches(c.code, filters)]

    def _matches(self, code: str, f: ConceptFilter) -> bool:
        op, value = f.op, f.value
        if f.property in ("concept", "code"):
            return self._concept_filter(code, op, value)
        resolved = self.resolve(code)
        if resolved is None:
            return False
        concept = resolved[0]
        if f.property == "display":
            values = [concept.display or ""]
        elif f.property == "parent":
            values = self.parents.get(concept.code, [])
        elif f.property == "child":
            values = self.children.get(concept.code, [])
        else:
            values = concept.property_values(f.property)
        return _compare(values, op, value, f.property)

    def _concept_filter(self, code: str, op: str, value: str) -> bool:
        if op == "is-a":
            return self._is_a(code, value, strict=False)
        if op == "descendent-of":
            return self._is_a(code, value, strict=True)
        if op == "is-not-a":
            return not self._is_a(code, value, strict=False)
        if op == "generalizes":
            return self._is_a(value, code, strict=False)
        return _compare([code], op, value, "concept")


def icd10_nests(general: str, specific: str) -> bool:
    """ICD-10 code strings nest by prefix: `I10` ⊃ `I10.x00`, `E11.9` ⊃ `E11.900`."""
    g, s = general.upper(), specific.upper()
    return len(s) > len(g) and s.startswith(g) and icd10_category(s) is not None


def _compare(values: Sequence[str], op: str, value: str, prop: str) -> bool:
    if op == "=":
        return value in values
    if op == "in":
        wanted = {v.strip() for v in value.split(",")}
        return any(v in wanted for v in values)
    if op == "not-in":
        wanted = {v.strip() for v in value.split(",")}
        return not any(v in wanted for v in values)
    if op == "regex":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise E.bad_request(f"Invalid regex filter on '{prop}': {exc}") from exc
        return any(pattern.fullmatch(v) for v in values)
    if op == "exists":
        return bool(values) == (value.lower() == "true")
    raise E.bad_request(f"Filter operator '{op}' is not supported on property '{prop}'")
