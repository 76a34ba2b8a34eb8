"""A StructureDefinition snapshot compiled into a tree of element nodes, plus JSON helpers.

Spec: http://hl7.org/fhir/R4/elementdefinition.html (id, path, sliceName, min/max, type with profile
and targetProfile, fixed[x], pattern[x], binding, constraint, slicing, contentReference) and
http://hl7.org/fhir/R4/json.html#choice (choice elements `value[x]` → `valueQuantity`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .library import Constraint
from .snapshot import element_id

Item = tuple[Any, str, str]  # (JSON value, FHIRPath expression, type code)


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(slots=True)
class ElementNode:
    id: str
    path: str
    name: str  # last path segment, e.g. "identifier" or "value[x]"
    min: int
    max: int | None  # None: unbounded
    types: tuple[TypeRef, ...]
    fixed: tuple[str, Any] | None = None  # ("fixedUri", value)
    pattern: tuple[str, Any] | None = None
    binding: tuple[str, str] | None = None
    constraints: tuple[Constraint, ...] = ()
    slicing: dict[str, Any] | None = None
    slice_name: str | None = None
    content_ref: str | None = None
    children: list[ElementNode] = field(default_factory=list)
    slices: list[ElementNode] = field(default_factory=list)

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    def child(self, name: str) -> ElementNode | None:
        for c in self.children:
            if c.name == name or (c.is_choice and name == c.name[:-3]):
                return c
        return None

    def type_codes(self) -> set[str]:
        return {t.code for t in self.types}

    def label(self) -> str:
        return f"{self.path}:{self.slice_name}" if self.slice_name else self.path


def _node(e: dict[str, Any]) -> ElementNode:
    max_ = e.get("max", "*")
    fixed = next(((k, v) for k, v in e.items() if k.startswith("fixed")), None)
    pattern = next(((k, v) for k, v in e.items() if k.startswith("pattern")), None)
    binding = e.get("binding") or {}
    return ElementNode(
        id=element_id(e),
        path=e["path"],
        name=e["path"].rsplit(".", 1)[-1],
        min=int(e.get("min", 0)),
        max=None if max_ == "*" else int(max_),
        types=tuple(
            TypeRef(
                t["code"],
                tuple(t.get("profile", ())),
                tuple(t.get("targetProfile", ())),
            )
            for t in e.get("type", [])
        ),
        fixed=fixed,
        pattern=pattern,
        binding=(binding["strength"], binding["valueSet"]) if binding.get("valueSet") else None,
        constraints=tuple(
            (c["key"], c.get("severity", "error"), c["expression"], c.get("human", ""))
            for c in e.get("constraint", [])
            if c.get("expression")
        ),
        slicing=e.get("slicing"),
        slice_name=e.get("sliceName"),
        content_ref=e["contentReference"].lstrip("#") if e.get("contentReference") else None,
    )


def compile_tree(snapshot: list[dict[str, Any]]) -> tuple[ElementNode, dict[str, ElementNode]]:
    """The root node and every node by id (contentReference targets are looked up by id/path)."""
    nodes: dict[str, ElementNode] = {}
    root = _node(snapshot[0])
    nodes[root.id] = root
    for e in snapshot[1:]:
        node = _node(e)
        nodes[node.id] = node
        parent_id, _, last = node.id.rpartition(".")
        if ":" in last:
            sliced = nodes.get(f"{parent_id}.{last.split(':', 1)[0]}")
            if sliced is not None and "/" not in last:
                sliced.slices.append(node)
            continue
        parent = nodes.get(parent_id)
        if parent is not None:
            parent.children.append(node)
    return root, nodes


# -- JSON access ---------------------------------------------------------------------------------
def _type_of_suffix(suffix: str) -> str:
    """`Quantity` → `Quantity`, `String` → `string`, `DateTime` → `dateTime`."""
    if suffix in _LOWER:
        return suffix[0].lower() + suffix[1:]
    return suffix


_LOWER = frozenset(
    {
        "Base64Binary",
        "Boolean",
        "Canonical",
        "Code",
        "Date",
        "DateTime",
        "Decimal",
        "Id",
        "Instant",
        "Integer",
        "Markdown",
        "Oid",
        "PositiveInt",
        "String",
        "Time",
        "UnsignedInt",
        "Uri",
        "Url",
        "Uuid",
    }
)


def items_of(obj: dict[str, Any], node: ElementNode, expr: str) -> Iterator[Item]:
    """The instance values of child `node` in `obj`, with expressions and type codes."""
    if node.is_choice:
        base = node.name[:-3]
        keys = [k for k in obj if k.startswith(base) and k[len(base) : len(base) + 1].isupper()]
        for key in keys:
            yield from _values(obj, key, expr, _type_of_suffix(key[len(base) :]))
        return
    code = node.types[0].code if len(node.types) == 1 else ""
    yield from _values(obj, node.name, expr, code)


def _values(obj: dict[str, Any], key: str, expr: str, code: str) -> Iterator[Item]:
    value = obj.get(key)
    sibling = obj.get("_" + key)
    if isinstance(value, list) or isinstance(sibling, list):
        values = value if isinstance(value, list) else []
        siblings = sibling if isinstance(sibling, list) else []
        for i in range(max(len(values), len(siblings))):
            v = values[i] if i < len(values) else None
            yield (v if v is not None else siblings[i], f"{expr}.{key}[{i}]", code)
    elif value is not None or sibling is not None:
        yield (value if value is not None else sibling, f"{expr}.{key}", code)


def navigate(value: Any, path: str) -> list[Any]:
    """Values at a simple dotted discriminator path (`system`, `coding.code`, `$this`, `value[x]`)."""
    current = [value]
    if path in ("$this", ""):
        return current
    for raw in path.split("."):
        name = raw[:-3] if raw.endswith("[x]") else raw
        nxt: list[Any] = []
        for v in current:
            if not isinstance(v, dict):
                continue
            keys = [name] if name in v else [k for k in v if k.startswith(name) and raw != name]
            for key in keys:
                got = v[key]
                nxt.extend(got if isinstance(got, list) else [got])
        current = nxt
    return current


def contains(actual: Any, pattern: Any) -> bool:
    """pattern[x] semantics: every element of `pattern` is present in `actual`."""
    if isinstance(pattern, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        items = actual if isinstance(actual, list) else [actual]
        return all(any(contains(a, p) for a in items) for p in pattern)
    return bool(actual == pattern)
