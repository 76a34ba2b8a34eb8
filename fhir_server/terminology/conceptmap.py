"""`$translate` over R4 ConceptMaps.

Spec: http://hl7.org/fhir/R4/conceptmap-operation-translate.html and
http://hl7.org/fhir/R4/conceptmap.html (group.source/target, element.target.equivalence,
group.unmapped with mode provided | fixed | other-map).  Equivalence reads as "the target is … the
source" (http://hl7.org/fhir/concept-map-equivalence); `reverse` inverts it.

ICD-10: a code of the Chinese clinical edition that a map does not list (`I10.x00`) is mapped through
its category (`I10`); being narrower than the category, an `equal`/`equivalent` mapping then
becomes `wider`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .codesystem import ICD10, icd10_category, icd10_nests
from .model import Translation, TranslationMatch

_NO_MATCH = frozenset({"unmatched", "disjoint"})
_INVERSE = {
    "wider": "narrower",
    "narrower": "wider",
    "subsumes": "specializes",
    "specializes": "subsumes",
}
_MAX_DEPTH = 5


def _scope(cm: Mapping[str, Any], side: str) -> str | None:
    value = cm.get(f"{side}Uri") or cm.get(f"{side}Canonical")
    return value.split("|")[0] if isinstance(value, str) else None


def select_maps(
    maps: Sequence[Mapping[str, Any]], source_vs: str | None, target_vs: str | None, reverse: bool
) -> list[Mapping[str, Any]]:
    """The maps whose source/target value sets fit the request (swapped for `reverse`)."""
    src, tgt = ("target", "source") if reverse else ("source", "target")
    return [
        cm
        for cm in maps
        if (source_vs is None or _scope(cm, src) == source_vs)
        and (target_vs is None or _scope(cm, tgt) == target_vs)
    ]


def translate(
    maps: Sequence[Mapping[str, Any]],
    system: str,
    code: str,
    *,
    target_system: str | None = None,
    reverse: bool = False,
    other_map: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> Translation:
    matches: list[TranslationMatch] = []
    for cm in maps:
        if reverse:
            matches.extend(_backward(cm, system, code, target_system))
        else:
            matches.extend(_forward(cm, system, code, target_system, other_map, 0))
    result = any(m.equivalence not in _NO_MATCH for m in matches)
    message = None if result else f"No mapping for '{system}#{code}' in the concept maps consulted"
    return Translation(result, message, tuple(matches))


def _element(group: Mapping[str, Any], system: str, code: str) -> tuple[Mapping | None, bool]:
    elements = [e for e in group.get("element") or [] if isinstance(e, Mapping)]
    for element in elements:
        if element.get("code") == code:
            return element, False
    if system == ICD10 and icd10_category(code):
        nesting = [e for e in elements if icd10_nests(str(e.get("code", "")), code)]
        if nesting:  # the most specific listed code that holds `code`
            return max(nesting, key=lambda e: len(str(e.get("code")))), True
    return None, False


def _forward(
    cm: Mapping[str, Any],
    system: str,
    code: str,
    target_system: str | None,
    other_map: Callable[[str], Mapping[str, Any] | None] | None,
    depth: int,
) -> list[TranslationMatch]:
    out: list[TranslationMatch] = []
    url = cm.get("url")
    for group in cm.get("group") or []:
        if group.get("source") not in (None, system):
            continue
        if target_system and group.get("target") != target_system:
            continue
        element, refined = _element(group, system, code)
        if element is not None:
            for target in element.get("target") or []:
                equivalence = target.get("equivalence", "equivalent")
                if refined and equivalence in ("equal", "equivalent"):
                    equivalence = "wider"
                out.append(
                    TranslationMatch(
                        equivalence,
                        group.get("target"),
                        target.get("code"),
                        target.get("display"),
                        url,
                        target.get("comment"),
                    )
                )
            continue
        out.extend(_unmapped(group, system, code, url, other_map, depth))
    return out


def _unmapped(
    group: Mapping[str, Any],
    system: str,
    code: str,
    url: str | None,
    other_map: Callable[[str], Mapping[str, Any] | None] | None,
    depth: int,
) -> list[TranslationMatch]:
    unmapped = group.get("unmapped") or {}
    mode = unmapped.get("mode")
    if mode == "provided":
        return [TranslationMatch("equal", group.get("target") or system, code, None, url)]
    if mode == "fixed":
        return [
            TranslationMatch(
                "inexact", group.get("target"), unmapped.get("code"), unmapped.get("display"), url
            )
        ]
    if mode == "other-map" and other_map and depth < _MAX_DEPTH and unmapped.get("url"):
        other = other_map(unmapped["url"])
        if other is not None:
            return _forward(other, system, code, None, other_map, depth + 1)
    return []


def _backward(
    cm: Mapping[str, Any], system: str, code: str, source_system: str | None
) -> list[TranslationMatch]:
    out: list[TranslationMatch] = []
    for group in cm.get("group") or []:
        if group.get("target") not in (None, system):
            continue
        if source_system and group.get("source") != source_system:
            continue
        for element in group.get("element") or []:
            for target in element.get("target") or []:
                if target.get("code") != code:
                    continue
                equivalence = target.get("equivalence", "equivalent")
                out.append(
                    TranslationMatch(
                        _INVERSE.get(equivalence, equivalence),
                        group.get("source"),
                        element.get("code"),
                        element.get("display"),
                        cm.get("url"),
                        target.get("comment"),
                    )
                )
    return out
