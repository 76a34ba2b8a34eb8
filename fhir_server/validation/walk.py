"""A walk over every element of a resource, typed by the base R4 definitions.

Spec: http://hl7.org/fhir/R4/json.html (JSON property names of elements and choice types) and
http://hl7.org/fhir/R4/references.html#contained (contained and nested resources).  The invariant and
binding stages consume the walk; it runs after the structure stage, so the JSON shape is known good
and anything unexpected is simply not visited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fhir_server.conformance.r4 import RESOURCE, ElementDef, R4Definitions


@dataclass(frozen=True, slots=True)
class Visit:
    """One element (or resource) value with what is known about it."""

    value: Any  # dict for complex values and resources, a scalar for primitives
    element: ElementDef | None  # None for a resource
    type: str  # the resource type, or the element's type code
    expression: str  # FHIRPath with indexes, e.g. "Patient.contact[0]"
    resource: dict[str, Any]  # the nearest enclosing resource (FHIRPath %resource)
    root: dict[str, Any]  # the outermost resource (FHIRPath %rootResource)

    @property
    def node_key(self) -> str:
        """Key of the R4Definitions node describing the value's children (a type or a path)."""
        if self.element is None:
            return self.type
        return self.element.node or self.element.type


def walk(resource: dict[str, Any], defs: R4Definitions) -> Iterator[Visit]:
    yield from _resource(resource, resource["resourceType"], defs, resource)


def _resource(
    res: dict[str, Any], expr: str, defs: R4Definitions, root: dict[str, Any]
) -> Iterator[Visit]:
    rtype = res.get("resourceType")
    if not isinstance(rtype, str) or defs.node(rtype) is None:
        return
    yield Visit(res, None, rtype, expr, res, root)
    yield from _children(res, rtype, expr, defs, res, root)


def _children(
    obj: dict[str, Any],
    node_key: str,
    expr: str,
    defs: R4Definitions,
    res: dict[str, Any],
    root: dict[str, Any],
) -> Iterator[Visit]:
    node = defs.node(node_key)
    if node is None:
        return
    for key, value in obj.items():
        element = node.children.get(key)
        if element is None:
            continue
        where = f"{expr}.{key}"
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is not None:
                    yield from _item(element, item, f"{where}[{i}]", defs, res, root)
        elif value is not None:
            yield from _item(element, value, where, defs, res, root)


def _item(
    element: ElementDef,
    value: Any,
    expr: str,
    defs: R4Definitions,
    res: dict[str, Any],
    root: dict[str, Any],
) -> Iterator[Visit]:
    if element.type == RESOURCE:
        if isinstance(value, dict):
            # A contained resource's %rootResource is its container; a Bundle entry or a
            # Parameters resource is a root of its own.
            yield from _resource(value, expr, defs, root if element.name == "contained" else value)
        return
    yield Visit(value, element, element.type, expr, res, root)
    if not element.primitive and isinstance(value, dict):
        yield from _children(value, element.node or element.type, expr, defs, res, root)
