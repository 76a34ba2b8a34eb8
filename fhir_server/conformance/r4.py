"""The base FHIR R4 (4.0.1) definitions, compiled by `scripts/build_r4_definitions.py`.

Spec: http://hl7.org/fhir/R4/elementdefinition.html (paths, cardinality, isSummary, isModifier,
contentReference, choice types `[x]`), http://hl7.org/fhir/R4/json.html (JSON property names of choice
elements and `_name` primitive siblings), http://hl7.org/fhir/R4/datatypes.html (primitive formats).

`R4Definitions` is read-only: the composition root loads one and passes it to validation, the
`_summary`/`_elements` filters and (later) profile validation.  Lookups the validator needs on every
write are precomputed here: for each *node* (a type, or a backbone element / contentReference target
inside a type) a map JSON property name → `ElementDef`, plus its required elements.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "data" / "r4-structure.json.gz"

RESOURCE = (
    "Resource"  # type code of elements holding a whole resource (contained, entry.resource …)
)
ELEMENT_NODE = "Element"  # node of a `_name` primitive sibling: only `id` and `extension`


@dataclass(frozen=True, slots=True)
class PrimitiveType:
    """A primitive datatype: its JSON representation (`string`, `boolean`, `integer`, `decimal`)."""

    code: str
    json: str
    regex: re.Pattern[str] | None
    max_length: int | None


@dataclass(frozen=True, slots=True)
class ElementDef:
    """One JSON property of a node; a choice element yields one `ElementDef` per allowed type."""

    path: str  # definition path, e.g. "Observation.value[x]"
    name: str  # JSON property name, e.g. "valueQuantity"
    type: str  # the type of this property, e.g. "Quantity", "string", "BackboneElement", "Resource"
    min: int
    max: str  # "1", "*" or a number
    summary: bool
    modifier: bool
    primitive: bool
    node: str | None  # key of the node describing its children (complex types only)
    is_array: bool  # max != "1": always a JSON array
    ptype: PrimitiveType | None = None  # set for primitive types
    xml_attr: bool = False  # `Element.id`, `Extension.url`: no `_name` sibling
    target_profiles: tuple[str, ...] = ()
    binding: tuple[str, str] | None = None  # (strength, valueSet)

    @property
    def is_choice(self) -> bool:
        return self.path.endswith("[x]")

    @property
    def base_name(self) -> str:
        """The element name without `[x]`: `value` for `valueQuantity`."""
        last = self.path.rsplit(".", 1)[-1]
        return last[:-3] if last.endswith("[x]") else last


@dataclass(frozen=True, slots=True)
class Required:
    """A required element of a node: satisfied by any of `names` (or their `_name` sibling)."""

    path: str
    display: str  # element name for expressions, e.g. "status" or "value[x]"
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Node:
    """The children of a type or backbone element, keyed by JSON property name."""

    key: str
    children: Mapping[str, ElementDef]
    required: tuple[Required, ...]


class R4Definitions:
    """Read-only index of the R4 structure definitions (build with `R4Definitions.load()`)."""

    __slots__ = (
        "_elements",
        "_nodes",
        "_primitives",
        "complex_types",
        "fhir_version",
        "primitive_types",
        "resource_types",
    )

    def __init__(self, document: Mapping[str, Any], resource_types: frozenset[str]) -> None:
        self.fhir_version: str = document["fhirVersion"]
        self._primitives: Mapping[str, PrimitiveType] = MappingProxyType(
            {code: _primitive(code, info) for code, info in document["primitives"].items()}
        )
        primitives = dict(self._primitives)
        types: Mapping[str, Any] = document["types"]
        self.primitive_types: frozenset[str] = frozenset(self._primitives)
        self.resource_types: frozenset[str] = resource_types
        self.complex_types: frozenset[str] = frozenset(
            name for name, t in types.items() if t["kind"] == "complex-type"
        )
        elements: dict[str, tuple[ElementDef, ...]] = {}
        nodes: dict[str, Node] = {}
        for name, spec in types.items():
            _index_type(name, spec["elements"], primitives, elements, nodes)
        self._elements: Mapping[str, tuple[ElementDef, ...]] = MappingProxyType(elements)
        self._nodes: Mapping[str, Node] = MappingProxyType(nodes)

    @classmethod
    def load(cls, path: Path | None = None) -> R4Definitions:
        """The definitions from package data (cached: loading twice returns the same object)."""
        return _load(path or DATA_FILE)

    def is_resource_type(self, name: str) -> bool:
        return name in self.resource_types

    def node(self, key: str) -> Node | None:
        """Children of a type (`"Patient"`, `"HumanName"`) or backbone path (`"Patient.contact"`)."""
        return self._nodes.get(key)

    def element(self, path: str) -> tuple[ElementDef, ...]:
        """The definition(s) at `path` (`"Observation.value[x]"` yields one per type); () if none."""
        return self._elements.get(path, ())

    def child(self, node_key: str, name: str) -> ElementDef | None:
        """The element behind JSON property `name` (e.g. `valueQuantity`) of a node."""
        node = self._nodes.get(node_key)
        return node.children.get(name) if node else None

    def primitive(self, code: str) -> PrimitiveType | None:
        return self._primitives.get(code)

    def is_summary(self, path: str) -> bool:
        return any(e.summary for e in self.element(path))

    def summary_names(self, node_key: str) -> frozenset[str]:
        """JSON property names kept by `_summary=true` on a node (isSummary or mandatory)."""
        node = self._nodes.get(node_key)
        if node is None:
            return frozenset()
        return frozenset(n for n, e in node.children.items() if e.summary or e.min > 0)

    def mandatory_names(self, node_key: str) -> frozenset[str]:
        """JSON property names of the elements with min ≥ 1 on a node."""
        node = self._nodes.get(node_key)
        if node is None:
            return frozenset()
        return frozenset(n for r in node.required for n in r.names)


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> R4Definitions:
    with gzip.open(path, "rb") as fh:
        document = json.loads(fh.read())
    types_file = path.parent / "resource-types.json"
    resource_types = frozenset(json.loads(types_file.read_text(encoding="utf-8")))
    return R4Definitions(document, resource_types)


def _primitive(code: str, info: Mapping[str, Any]) -> PrimitiveType:
    regex = info.get("regex")
    return PrimitiveType(
        code=code,
        json=info["json"],
        regex=re.compile(regex, re.ASCII) if regex else None,
        max_length=info.get("maxLength"),
    )


def _json_name(base: str, type_code: str) -> str:
    return base + type_code[0].upper() + type_code[1:]


def _index_type(
    type_name: str,
    records: list[dict[str, Any]],
    primitives: Mapping[str, PrimitiveType],
    elements: dict[str, tuple[ElementDef, ...]],
    nodes: dict[str, Node],
) -> None:
    """Add the elements of one type to `elements` (by path) and its nodes to `nodes`."""
    parents = {r["p"].rsplit(".", 1)[0] for r in records}
    children: dict[str, dict[str, ElementDef]] = {type_name: {}}
    required: dict[str, list[Required]] = {type_name: []}
    for record in records:
        path: str = record["p"]
        parent, last = path.rsplit(".", 1)
        defs = _element_defs(record, path in parents, primitives)
        elements[path] = defs
        children.setdefault(parent, {}).update((d.name, d) for d in defs)
        if path in parents:
            children.setdefault(path, {})
        if defs and defs[0].min > 0:
            names = tuple(d.name for d in defs)
            required.setdefault(parent, []).append(Required(path, last, names))
    for key, props in children.items():
        # A plain dict (typed read-only): mappingproxy lookups cost ~2x on the validation hot path.
        nodes[key] = Node(key, props, tuple(required.get(key, ())))


def _element_defs(
    record: dict[str, Any], has_children: bool, primitives: Mapping[str, PrimitiveType]
) -> tuple[ElementDef, ...]:
    path: str = record["p"]
    last = path.rsplit(".", 1)[1]
    codes: list[str] = record.get("t", [])
    ref: str | None = record.get("r")
    if ref is not None:  # contentReference: same type as the target, children at the target
        codes = ["BackboneElement"]
    choice = last.endswith("[x]")
    base = last[:-3] if choice else last
    binding = record.get("b")
    out = []
    for code in codes:
        ptype = primitives.get(code)
        primitive = ptype is not None
        node: str | None
        if ref is not None:
            node = ref
        elif has_children:
            node = path
        elif primitive or code == RESOURCE:
            node = None
        else:
            node = code
        out.append(
            ElementDef(
                path=path,
                name=_json_name(base, code) if choice else base,
                type=code,
                min=record.get("min", 0),
                max=record.get("max", "1"),
                is_array=record.get("max", "1") != "1",
                ptype=ptype,
                summary=bool(record.get("s")),
                modifier=bool(record.get("m")),
                primitive=primitive,
                node=node,
                xml_attr=bool(record.get("a")),
                target_profiles=tuple(record.get("tp", ())),
                binding=(binding[0], binding[1]) if binding else None,
            )
        )
    return tuple(out)
