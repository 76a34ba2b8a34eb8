"""Concept sets for token `:in`/`:not-in`/`:above`/`:below` (pure; the caller fetches resources).

Spec: http://hl7.org/fhir/R4/search.html#token (modifiers), http://hl7.org/fhir/R4/valueset.html
(`compose.include` concept lists, whole-system includes, `valueSet` imports, `is-a` /
`descendent-of` / `=` filters, `exclude`, `expansion.contains`) and
http://hl7.org/fhir/R4/codesystem.html#hierachy (nested `concept`, `parent` properties).

ICD-10 codes (INTERFACE.md) form their hierarchy by prefix: `I10.x00` is below `I10`, so `:below`
is a prefix match and `:above` matches every stored code that is a prefix of the value.

This is a minimal, private expander; when `fhir_server.terminology` offers `expand`, the SQL layer
may pass that instead (see `Fetch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .values import CodeSetValue, ConceptValue

ICD10_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10",
        "http://hl7.org/fhir/sid/icd-10-cn",
        "urn:oid:2.16.840.1.113883.6.3",
    }
)
#: canonical URL (optionally `|version`) → the stored resource of that type, or None.
Fetch = Callable[[str, str], dict[str, Any] | None]
MAX_NESTING = 10


def _concepts(
    concepts: list[dict[str, Any]], parent: str | None
) -> Iterator[tuple[str, str | None]]:
    for c in concepts:
        code = c.get("code")
        if not isinstance(code, str):
            continue
        yield code, parent
        for prop in c.get("property") or []:
            if prop.get("code") in ("parent", "subsumedBy") and isinstance(
                prop.get("valueCode"), str
            ):
                yield code, prop["valueCode"]
        yield from _concepts(c.get("concept") or [], code)


def parent_map(code_system: dict[str, Any]) -> dict[str, set[str]]:
    """code → its parents, from nesting and `parent`/`subsumedBy` properties."""
    parents: dict[str, set[str]] = {}
    for code, parent in _concepts(code_system.get("concept") or [], None):
        parents.setdefault(code, set())
        if parent:
            parents[code].add(parent)
    return parents


def descendants(code_system: dict[str, Any], code: str) -> set[str]:
    """`code` and everything below it."""
    children: dict[str, set[str]] = {}
    for child, parents in parent_map(code_system).items():
        for p in parents:
            children.setdefault(p, set()).add(child)
    out, todo = {code}, [code]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def ancestors(code_system: dict[str, Any], code: str) -> set[str]:
    """`code` and everything above it."""
    parents = parent_map(code_system)
    out, todo = {code}, [code]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out


def hierarchy_set(value: ConceptValue, fetch: Fetch) -> CodeSetValue:
    """`:below` / `:above` of one system|code as a concept set."""
    assert value.code is not None
    system, code = value.system, value.code
    if system in ICD10_SYSTEMS or (system is None and _looks_icd10(code)):
        systems = [system] if system else sorted(ICD10_SYSTEMS)
        if value.op == "below":
            return CodeSetValue(prefixes=frozenset((s, code) for s in systems))
        return CodeSetValue(above=frozenset((s, code) for s in systems))
    code_system = fetch("CodeSystem", system) if system else None
    if code_system is None:  # no hierarchy known: the code itself
        return CodeSetValue(codes=frozenset({(system, code)}))
    related = (
        descendants(code_system, code) if value.op == "below" else ancestors(code_system, code)
    )
    return CodeSetValue(codes=frozenset((system, c) for c in related))


def _looks_icd10(code: str) -> bool:
    return len(code) >= 3 and code[0].isalpha() and code[1:3].isdigit()


def expand(value_set: dict[str, Any], fetch: Fetch, depth: int = 0) -> CodeSetValue:
    """The concepts of a ValueSet: `expansion.contains` when present, else its `compose`."""
    if depth > MAX_NESTING:
        return CodeSetValue()
    contains = (value_set.get("expansion") or {}).get("contains")
    if contains:
        return CodeSetValue(codes=frozenset(_contains(contains)))
    compose = value_set.get("compose") or {}
    included = [_include(inc, fetch, depth) for inc in compose.get("include") or []]
    excluded = [_include(exc, fetch, depth) for exc in compose.get("exclude") or []]
    codes = frozenset().union(*(s.codes for s in included)) if included else frozenset()
    systems = frozenset().union(*(s.systems for s in included)) if included else frozenset()
    prefixes = frozenset().union(*(s.prefixes for s in included)) if included else frozenset()
    for ex in excluded:
        codes, prefixes = codes - ex.codes, prefixes - ex.prefixes
    return CodeSetValue(codes=codes, systems=systems, prefixes=prefixes)


def _contains(items: list[dict[str, Any]]) -> Iterator[tuple[str | None, str]]:
    for item in items:
        if isinstance(item.get("code"), str):
            yield item.get("system"), item["code"]
        yield from _contains(item.get("contains") or [])


def _intersect(a: CodeSetValue, b: CodeSetValue) -> CodeSetValue:
    """Concepts in both (imports of several value sets AND together)."""

    def member(s: CodeSetValue, sc: tuple[str | None, str]) -> bool:
        system, code = sc
        return (
            sc in s.codes
            or (system is not None and system in s.systems)
            or any(system == ps and code.startswith(p) for ps, p in s.prefixes)
        )

    codes = {c for c in a.codes if member(b, c)} | {c for c in b.codes if member(a, c)}
    prefixes = {p for p in a.prefixes if member(b, p)} | {p for p in b.prefixes if member(a, p)}
    return CodeSetValue(
        codes=frozenset(codes), systems=a.systems & b.systems, prefixes=frozenset(prefixes)
    )


def _include(inc: dict[str, Any], fetch: Fetch, depth: int) -> CodeSetValue:
    system = inc.get("system")
    result: CodeSetValue | None = None
    if system:
        result = _system_part(system, inc, fetch)
    for url in inc.get("valueSet") or []:
        imported = fetch("ValueSet", url)
        part = expand(imported, fetch, depth + 1) if imported else CodeSetValue()
        result = part if result is None else _intersect(result, part)
    return result or CodeSetValue()


def _system_part(system: str, inc: dict[str, Any], fetch: Fetch) -> CodeSetValue:
    if inc.get("concept"):
        listed = [c["code"] for c in inc["concept"] if isinstance(c.get("code"), str)]
        if system in ICD10_SYSTEMS:  # a listed category takes the national edition's codes below it
            return CodeSetValue(prefixes=frozenset((system, c) for c in listed))
        return CodeSetValue(codes=frozenset((system, c) for c in listed))
    filters = inc.get("filter") or []
    if not filters:
        return CodeSetValue(systems=frozenset({system}))
    code_system = fetch("CodeSystem", system)
    result: set[str] | None = None
    prefixes: set[tuple[str, str]] = set()
    for f in filters:
        op, value = f.get("op"), f.get("value", "")
        if (
            system in ICD10_SYSTEMS
            and f.get("property") in ("concept", "code")
            and op in ("is-a", "descendent-of")
        ):
            prefixes.add((system, value))
            continue
        if code_system is None:
            continue
        if op == "is-a":
            found = descendants(code_system, value)
        elif op == "descendent-of":
            found = descendants(code_system, value) - {value}
        elif op == "=" and f.get("property") in ("concept", "code"):
            found = {value}
        elif op == "in":
            found = set(value.split(","))
        else:
            found = set()
        result = found if result is None else result & found
    return CodeSetValue(
        codes=frozenset((system, c) for c in (result or set())), prefixes=frozenset(prefixes)
    )
