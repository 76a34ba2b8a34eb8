"""Placeholders (`urn:uuid:`, `urn:oid:` fullUrls) in a transaction, beyond `Reference.reference`.

R4 http.html#trules: the server replaces every matching link in the Bundle — resource references,
elements of type uri, url, oid and uuid, and `<a href="">` / `<img src="">` in the narrative;
elements of type canonical are left alone.  Which elements are uri/url/oid/uuid comes from the R4
definitions (an `Identifier.value` that happens to hold a `urn:uuid:` is a string, not a link).

And a `Reference.reference` that is still a placeholder after the rewrite names no entry of the
Bundle: the transaction must fail rather than store a link to nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..conformance.r4 import ELEMENT_NODE, RESOURCE, R4Definitions
from ..core.refs import is_placeholder, iter_reference_holders

#: Element types whose values are links the transaction rewrites (canonical is not among them).
LINK_TYPES = frozenset({"uri", "url", "oid", "uuid"})
_NARRATIVE_LINK = re.compile(r"""(\b(?:href|src)\s*=\s*)(["'])(urn:(?:uuid|oid):[^"'\s]+)\2""")


def rewrite_links(
    resource: dict[str, Any], mapping: Mapping[str, str], defs: R4Definitions
) -> dict[str, Any]:
    """A copy of `resource` with placeholder values of link-typed elements and narrative links
    replaced by their `Type/id` from `mapping` (placeholders only; others are left as they are)."""
    targets = {k: v for k, v in mapping.items() if is_placeholder(k)}
    rtype = resource.get("resourceType")
    if not targets or not isinstance(rtype, str) or defs.node(rtype) is None:
        return resource
    return _node(resource, rtype, targets, defs)


def _node(obj: Any, key: str, targets: Mapping[str, str], defs: R4Definitions) -> Any:
    node = defs.node(key)
    if node is None or not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if name.startswith("_"):  # a primitive's id/extensions
            out[name] = _each(value, lambda v: _node(v, ELEMENT_NODE, targets, defs))
            continue
        element = node.children.get(name)
        if element is None:
            out[name] = value
        elif element.type in LINK_TYPES:
            out[name] = _each(value, lambda v: targets.get(v, v) if isinstance(v, str) else v)
        elif element.type == "xhtml":
            out[name] = _each(value, lambda v: _narrative(v, targets))
        elif element.type == RESOURCE:
            out[name] = _each(value, lambda v: _contained(v, targets, defs))
        elif element.node is not None:
            out[name] = _each(
                value, functools.partial(_node, key=element.node, targets=targets, defs=defs)
            )
        else:
            out[name] = value
    return out


def _contained(value: Any, targets: Mapping[str, str], defs: R4Definitions) -> Any:
    rtype = value.get("resourceType") if isinstance(value, dict) else None
    return _node(value, rtype, targets, defs) if isinstance(rtype, str) else value


def _each(value: Any, fn: Any) -> Any:
    if isinstance(value, list):
        return [fn(v) if isinstance(v, dict | str) else v for v in value]
    return fn(value) if isinstance(value, dict | str) else value


def _narrative(div: Any, targets: Mapping[str, str]) -> Any:
    if not isinstance(div, str) or "urn:" not in div:
        return div

    def swap(m: re.Match[str]) -> str:
        new = targets.get(m[3])
        return m[0] if new is None else f"{m[1]}{m[2]}{new}{m[2]}"

    return _NARRATIVE_LINK.sub(swap, div)


def unresolved_placeholders(resource: Any) -> Iterator[tuple[str, str]]:
    """(FHIRPath of the `reference` element, the placeholder) for every Reference that still
    points at a `urn:uuid:`/`urn:oid:` placeholder."""
    rtype = resource.get("resourceType", "") if isinstance(resource, dict) else ""
    for holder, path in iter_reference_holders(resource):
        reference = holder["reference"]
        if is_placeholder(reference):
            where = ".".join(p for p in (rtype, path, "reference") if p)
            yield where, reference
