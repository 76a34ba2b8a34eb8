"""A fast path for the plain expressions most search parameters have (`Patient.name`,
`Observation.code`, `Condition.onset.as(Period)` …): read straight from the JSON instead of through
the FHIRPath engine, giving exactly the engine's items (type and value) or raising `Undecided` when
the data needs the engine (a primitive's extension, a choice with an underscore twin, `as` on many
items …).  `search.extract.Extractor` tries this first for every parameter and falls back to
fhirpathpy; tests/generator/test_copy_load.py compares both on generated and demo resources.
"""

from __future__ import annotations

import re
from typing import Any

from fhirpathpy.models import models

from .registry import split_union

#: one step: a field, `.where(field='literal')`, `.extension('url')`, `.as(T)` / `.ofType(T)`
_STEP = re.compile(
    r"\.(?:(?P<field>[a-z][A-Za-z0-9]*)(?![A-Za-z0-9(])"
    r"|where\((?P<wfield>[a-z][A-Za-z0-9]*)\s*=\s*'(?P<wvalue>[^'\\]*)'\)"
    r"|extension\('(?P<url>[^'\\]+)'\)"
    r"|(?:as|ofType)\((?P<type>[A-Za-z]+)\))"
)
_AS = re.compile(r"^\((?P<path>[^()]+) as (?P<type>[A-Za-z]+)\)$")
Step = tuple[str, str, str | None]  # (kind, name, value)


def plain_path(expression: str, resource_type: str) -> list[list[Step]] | None:
    """The steps of each `|` alternative of `expression` when every one is a plain path
    (`Type.a.b`, `.where(f='x')`, `.extension('url')`, `.as(T)`, `(Type.a as T)`); else None."""
    out: list[list[Step]] = []
    for part in (p.strip() for p in expression.split(" | ")):
        cast = None
        if (m := _AS.match(part)) is not None:
            part, cast = m["path"].strip(), m["type"]
        if not part.startswith(resource_type + "."):
            return None
        rest, steps = part[len(resource_type) :], list[Step]()
        while rest:
            m = _STEP.match(rest)
            if m is None:
                return None
            if m["field"]:
                steps.append(("field", m["field"], None))
            elif m["wfield"]:
                steps.append(("where", m["wfield"], m["wvalue"]))
            elif m["url"]:
                steps.append(("extension", m["url"], None))
            else:
                steps.append(("as", m["type"], None))
            rest = rest[m.end() :]
        if cast:
            steps.append(("as", cast, None))
        out.append(steps)
    return out


_PRESENCE = re.compile(r"^(?P<path>[A-Za-z][A-Za-z0-9.]*)\.exists\(\) and (?P=path) != false$")


def presence_path(expression: str, resource_type: str) -> list[list[Step]] | None:
    """The steps of `X.exists() and X != false` (R4's `deceased`, `multipleBirth`-like flags)
    when X is a plain path; else None.  `run_presence` evaluates it."""
    m = _PRESENCE.match(expression.strip())
    return plain_path(m["path"], resource_type) if m else None


def run_presence(
    paths: list[list[Step]], resource: dict[str, Any], resource_type: str
) -> list[tuple[str | None, Any]]:
    """`X.exists() and X != false` as the engine gives it: one boolean, true when X has items
    and is not the single boolean false (a dateTime is not equal to false)."""
    items = run_plain(paths, resource, resource_type)
    if len(items) > 1:
        raise Undecided  # the engine's `!=` on a collection decides
    return [(None, bool(items) and items[0][1] is not False)]  # the engine gives no type


#: functions that give nothing for no input, whatever their arguments
_EMPTY_PRESERVING = frozenset(
    {"where", "select", "ofType", "as", "resolve", "first", "last", "tail", "extension",
     "distinct", "single", "repeat", "children", "descendants", "skip", "take"}
)  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def root_fields(expression: str, resource_type: str) -> frozenset[str] | None:
    """The top-level fields every `|` alternative of `expression` starts from, when each is a
    navigation (`Type.field` then `.name` or empty-preserving calls such as `.ofType(T)`,
    `.where(…)`, `.select(…)`): with none of them in a resource, the expression gives nothing
    and the engine need not run.  None for anything else (`exists()`, operators …)."""
    roots: set[str] = set()
    for part in split_union(expression):
        if not part.startswith(resource_type + "."):
            return None
        rest = part[len(resource_type) :]
        first = True
        while rest:
            m = _IDENT.match(rest, 1) if rest[0] == "." else None
            if m is None:
                return None
            name, rest = m[0], rest[m.end() :]
            if rest.startswith("("):
                end = _closing(rest)
                if first or end is None or name not in _EMPTY_PRESERVING:
                    return None
                rest = rest[end + 1 :]
            elif first:
                roots.add(name)
            first = False
    return frozenset(roots) if roots else None


def _closing(text: str) -> int | None:
    """Index of the parenthesis closing the one `text` starts with (quotes respected)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def absent(roots: frozenset[str], resource: dict[str, Any]) -> bool:
    """No key of `resource` can be one of `roots` (a choice's `fieldType` or `_field` counts as
    present: an over-estimate only sends the resource to the engine)."""
    return not any(key.lstrip("_").startswith(root) for key in resource for root in roots)


class Undecided(Exception):
    """The data needs the FHIRPath engine (a primitive's extension, `as` on many items …)."""


_MODEL: dict[str, Any] = models["r4"]


def _child(path: str, item: Any, name: str) -> list[tuple[str, Any]]:
    """`item.name` as the FHIRPath engine reads it (its member invocation): the child's type
    from the model, a choice element resolved to the type present."""
    if not isinstance(item, dict):
        raise Undecided
    child = f"{path}.{name}"
    child = _MODEL["pathsDefinedElsewhere"].get(child, child)
    value = None
    choices = _MODEL["choiceTypePaths"].get(child)
    if choices:
        for actual in choices:
            if f"_{name}{actual}" in item:
                raise Undecided
            value = item.get(f"{name}{actual}")
            if value is not None:
                child += actual
                break
    else:
        if f"_{name}" in item:
            raise Undecided
        value = item.get(name)
        if name == "extension":
            child = "Extension"
    child = _MODEL["path2Type"].get(child, child)
    if value is None:
        return []
    if isinstance(value, list):
        if any(v is None for v in value):
            raise Undecided
        return [(child, v) for v in value]
    return [(child, value)]


def run_plain(
    paths: list[list[Step]], resource: dict[str, Any], resource_type: str
) -> list[tuple[str, Any]]:
    """(type, value) of a plain-path expression (raises Undecided when the engine must decide)."""
    out: list[tuple[str, Any]] = []
    for steps in paths:
        items: list[tuple[str, Any]] = [(resource_type, resource)]
        for kind, name, value in steps:
            if not items:
                break
            if kind == "field":
                items = [c for path, it in items for c in _child(path, it, name)]
            elif kind == "where":
                if any(not isinstance(it, dict) for _p, it in items):
                    raise Undecided
                items = [(p, it) for p, it in items if it.get(name) == value]
            elif kind == "extension":
                found = []
                for _path, it in items:
                    if not isinstance(it, dict):
                        raise Undecided
                    exts = [e for e in it.get("extension") or [] if e.get("url") == name]
                    if exts:  # the engine's extension(url) takes the first match
                        found.append(("Extension", exts[0]))
                items = found
            else:  # `as T`: a singleton of type T (the engine refuses more than one item)
                if len(items) > 1:
                    raise Undecided
                if any(p != name for p, _it in items):
                    raise Undecided  # a subtype or another type: the engine's type test decides

        out.extend(items)
    return out
