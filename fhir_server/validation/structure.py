"""Base structural validation of an R4 resource in JSON, driven by the R4 StructureDefinitions.

Spec: http://hl7.org/fhir/R4/json.html (property names, arrays for repeating elements, `_name`
primitive siblings with `null` alignment, no empty values), http://hl7.org/fhir/R4/datatypes.html
(primitive formats and ranges), http://hl7.org/fhir/R4/element.html (ele-1) and
http://hl7.org/fhir/R4/extensibility.html (ext-1), http://hl7.org/fhir/R4/elementdefinition.html
(min cardinality).

Issue codes: `structure` when the body cannot be read as the R4 resource (unknown element, wrong JSON
type, array-vs-single, malformed primitive, empty value; answered 400); `required` for a missing
mandatory element and `invariant` for ele-1/ext-1 (answered 422).  Expressions are FHIRPath with
indexes, e.g. `Patient.name[0].given[1]`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from fhir_server.conformance.r4 import (
    ELEMENT_NODE,
    RESOURCE,
    ElementDef,
    Node,
    PrimitiveType,
    R4Definitions,
)
from fhir_server.core.errors import Issue, error

_INT_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
}
_FREE_TEXT = frozenset({"string", "markdown", "xhtml"})  # no regex beyond "non-empty"
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # below U+0020 except tab, LF, CR
_DATE_PREFIX = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class _Walker:
    """One validation run: walks the resource, appending issues (not shared between runs)."""

    __slots__ = ("defs", "issues")

    def __init__(self, defs: R4Definitions) -> None:
        self.defs = defs
        self.issues: list[Issue] = []

    def report(self, code: str, diagnostics: str, expression: str) -> None:
        self.issues.append(error(code, diagnostics, expression))

    # -- resources -------------------------------------------------------------------------
    def resource(self, value: Any, expression: str | None) -> None:
        if not isinstance(value, dict):
            self.report("structure", "A resource must be a JSON object", expression or "")
            return
        rtype = value.get("resourceType")
        if not isinstance(rtype, str) or not self.defs.is_resource_type(rtype):
            what = (
                f"Unknown resourceType {rtype!r}" if rtype is not None else "Missing resourceType"
            )
            self.report("structure", f"{what}: not an R4 resource", expression or "")
            return
        node = self.defs.node(rtype)
        assert node is not None
        self.object(value, node, expression or rtype, is_resource=True)

    # -- complex elements ------------------------------------------------------------------
    def object(self, obj: dict[str, Any], node: Node, expr: str, is_resource: bool = False) -> None:
        if not obj:
            self.report("structure", "Empty objects are not allowed (ele-1)", expr)
            return
        children = node.children
        for key, value in obj.items():
            if key.startswith("_"):
                element = children.get(key[1:])
                if element is None or not element.primitive or element.xml_attr:
                    self.report("structure", f"Unknown element '{key}'", f"{expr}.{key}")
                else:
                    self.primitive_sibling(element, value, obj.get(key[1:]), f"{expr}.{key[1:]}")
                continue
            element = children.get(key)
            if element is None:
                if not (is_resource and key == "resourceType"):
                    self.report("structure", f"Unknown element '{key}'", f"{expr}.{key}")
                continue
            self.property(element, value, obj, f"{expr}.{key}")
        for req in node.required:
            if not any(n in obj or "_" + n in obj for n in req.names):
                self.report(
                    "required", f"Missing required element '{req.display}'", f"{expr}.{req.display}"
                )
        if not is_resource:
            if len(obj) == 1 and "id" in obj:
                self.report("invariant", "ele-1: element must have a value or children", expr)
            check = _NODE_CHECKS.get(node.key)
            if check is not None:
                check(self, obj, expr)

    def property(self, element: ElementDef, value: Any, parent: dict[str, Any], expr: str) -> None:
        if element.is_array:
            if not isinstance(value, list):
                self.report("structure", f"'{element.name}' repeats: it must be a JSON array", expr)
                return
            if not value:
                self.report("structure", "Empty arrays are not allowed", expr)
                return
            for i, item in enumerate(value):
                if item is None:
                    if not (element.primitive and _aligned(parent.get("_" + element.name), i)):
                        self.report(
                            "structure",
                            "null is only allowed to align with '_' extensions",
                            f"{expr}[{i}]",
                        )
                    continue
                self.item(element, item, f"{expr}[{i}]")
        elif isinstance(value, list):
            self.report(
                "structure", f"'{element.name}' does not repeat: it must not be an array", expr
            )
        elif value is None:
            self.report("structure", "null is not a valid value", expr)
        else:
            self.item(element, value, expr)

    def item(self, element: ElementDef, value: Any, expr: str) -> None:
        if element.ptype is not None:
            problem = primitive_problem(element.ptype, value)
            if problem is not None:
                self.report("structure", problem, expr)
        elif element.type == RESOURCE:
            self.resource(value, expr)
        elif not isinstance(value, dict):
            self.report(
                "structure", f"'{element.name}' is a {element.type}: it must be a JSON object", expr
            )
        else:
            node = self.defs.node(element.node or element.type)
            if node is None:  # pragma: no cover - compiled data is complete
                self.report("structure", f"No definition for type {element.type}", expr)
            else:
                self.object(value, node, expr)

    # -- primitives ------------------------------------------------------------------------
    def primitive_sibling(self, element: ElementDef, sibling: Any, value: Any, expr: str) -> None:
        """`_name`: the id/extension part of a primitive (an array aligned with `name` if it repeats)."""
        node = self.defs.node(ELEMENT_NODE)
        assert node is not None
        if not element.is_array:
            if isinstance(sibling, dict):
                self.object(sibling, node, expr)
            else:
                self.report("structure", f"'_{element.name}' must be a JSON object", expr)
            return
        if not isinstance(sibling, list) or not sibling:
            self.report("structure", f"'_{element.name}' must be a non-empty JSON array", expr)
            return
        if isinstance(value, list) and len(value) != len(sibling):
            self.report(
                "structure", f"'_{element.name}' must have as many items as '{element.name}'", expr
            )
        for i, item in enumerate(sibling):
            if item is None:
                if not _aligned(value, i):
                    self.report(
                        "structure", "null is only allowed to align with a value", f"{expr}[{i}]"
                    )
            elif isinstance(item, dict):
                self.object(item, node, f"{expr}[{i}]")
            else:
                self.report(
                    "structure", f"'_{element.name}' items must be JSON objects", f"{expr}[{i}]"
                )


def primitive_problem(ptype: PrimitiveType, value: Any) -> str | None:
    """Why `value` is not a valid JSON representation of primitive type `ptype` (None if it is)."""
    code, kind = ptype.code, ptype.json
    if kind == "boolean":
        return None if isinstance(value, bool) else "A boolean must be JSON true or false"
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"A {code} must be a JSON integer"
        low, high = _INT_RANGES[code]
        return None if low <= value <= high else f"{value} is out of range for {code}"
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return "A decimal must be a JSON number"
        return (
            None if isinstance(value, int) or math.isfinite(value) else "A decimal must be finite"
        )
    if not isinstance(value, str):
        return f"A {code} must be a JSON string"
    if not value:
        return "Empty strings are not allowed"
    if (bad := _CONTROL.search(value)) is not None:  # datatypes.html#string
        return f"A {code} must not contain the control character U+{ord(bad.group()):04X}"
    if ptype.max_length is not None and len(value) > ptype.max_length:
        return f"A {code} must not exceed {ptype.max_length} characters"
    if code in _FREE_TEXT:
        return None
    if code == "base64Binary":
        return None if _is_base64(value) else "Invalid base64Binary value"
    if ptype.regex is not None and ptype.regex.fullmatch(value) is None:
        return f"Invalid {code} value {_clip(value)!r}"
    if code in ("date", "dateTime", "instant") and not _is_calendar_date(value):
        return f"{_clip(value)!r} is not a valid calendar date"
    return None


def _aligned(other: Any, index: int) -> bool:
    """Whether the parallel array `other` holds a non-null item at `index`."""
    return isinstance(other, list) and index < len(other) and other[index] is not None


def _is_base64(value: str) -> bool:
    compact = _WHITESPACE.sub("", value) if not value.isalnum() else value
    return len(compact) % 4 == 0 and _BASE64.fullmatch(compact) is not None


def _is_calendar_date(value: str) -> bool:
    match = _DATE_PREFIX.match(value)
    if match is None:
        return True  # year or year-month only
    try:
        dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _ext_1(walker: _Walker, obj: dict[str, Any], expr: str) -> None:
    """ext-1: an extension has either nested extensions or a value[x], not both."""
    has_extensions = "extension" in obj
    has_value = any(k.startswith(("value", "_value")) for k in obj)
    if has_extensions == has_value:
        walker.report("invariant", "ext-1: must have either extensions or value[x], not both", expr)


# Checks on specific node types that every resource must meet, cheap enough for every write.
_NODE_CHECKS: Mapping[str, Callable[[_Walker, dict[str, Any], str], None]] = MappingProxyType(
    {"Extension": _ext_1}
)


def validate_structure(resource: dict[str, Any], defs: R4Definitions) -> list[Issue]:
    """Validate `resource` (parsed FHIR JSON) against the base R4 definitions."""
    walker = _Walker(defs)
    walker.resource(resource, None)
    return walker.issues
