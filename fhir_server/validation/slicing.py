"""Assigning the values of a sliced element to its slices by discriminator.

Spec: http://hl7.org/fhir/R4/profiling.html#slicing and http://hl7.org/fhir/R4/
profiling.html#discriminator: `value` (fixed/pattern at the path), `pattern`, `type`, `profile`
(the value conforms to the slice's type profile), `exists`.  Paths are simple dotted element paths
(`url`, `system`, `code`, `coding.code`, `$this`); for an extension slice the `url` is the
canonical of its type profile.  When a discriminator cannot be read from the slice definition the
value is matched by validating it against the slice (a value belongs to the first slice it fits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .elements import ElementNode, Item, contains, navigate

if TYPE_CHECKING:
    from .profiles import CompiledProfile, ProfileValidator, _Run

_UNKNOWN = object()


def assign_slices(
    validator: ProfileValidator,
    profile: CompiledProfile,
    node: ElementNode,
    items: list[Item],
    run: _Run,
) -> tuple[list[tuple[ElementNode, list[Item]]], list[Item]]:
    """(slice, its values) for every slice in order, and the values that match no slice."""
    discriminators = (node.slicing or {}).get("discriminator", [])
    assigned: list[tuple[ElementNode, list[Item]]] = [(s, []) for s in node.slices]
    rest: list[Item] = []
    for item in items:
        for slice_node, bucket in assigned:
            if _matches(validator, profile, slice_node, discriminators, item, run):
                bucket.append(item)
                break
        else:
            rest.append(item)
    return assigned, rest


def _matches(
    validator: ProfileValidator,
    profile: CompiledProfile,
    slice_node: ElementNode,
    discriminators: list[dict[str, Any]],
    item: Item,
    run: _Run,
) -> bool:
    value, _, type_code = item
    for d in discriminators:
        kind, path = d.get("type"), d.get("path", "$this")
        found = _decide(validator, slice_node, kind, path, value, type_code, run)
        if found is _UNKNOWN:
            return _fits(validator, profile, slice_node, item, run)
        if not found:
            return False
    return bool(discriminators) or _fits(validator, profile, slice_node, item, run)


def _decide(
    validator: ProfileValidator,
    slice_node: ElementNode,
    kind: str | None,
    path: str,
    value: Any,
    type_code: str,
    run: _Run,
) -> object:
    target = _find(validator, slice_node, path)
    actual = navigate(value, path)
    if kind in ("value", "pattern"):
        expected = _expected(validator, slice_node, target, path)
        if expected is _UNKNOWN:
            return _UNKNOWN
        return any(contains(a, expected) for a in actual)
    if kind == "exists":
        if target is None:
            return _UNKNOWN
        if target.min >= 1:
            return bool(actual)
        if target.max == 0:
            return not actual
        return _UNKNOWN
    if kind == "type":
        if target is None:
            return _UNKNOWN
        codes = target.type_codes()
        if path in ("$this", ""):
            return type_code in codes if type_code else _UNKNOWN
        return _UNKNOWN
    if kind == "profile":
        if target is None or not any(t.profiles for t in target.types):
            return _UNKNOWN
        profiles = [p for t in target.types for p in t.profiles]
        code = target.types[0].code
        return any(
            all(validator.conforms(p, a, code, run) for p in profiles)
            for a in actual
            if isinstance(a, dict)
        )
    return _UNKNOWN


def _find(validator: ProfileValidator, node: ElementNode, path: str) -> ElementNode | None:
    """The element at a relative path below a slice (following its type profile when needed)."""
    if path in ("$this", ""):
        return node
    current: ElementNode | None = node
    for name in path.split("."):
        if current is None:
            return None
        nxt = current.child(name[:-3] if name.endswith("[x]") else name)
        if nxt is None:
            nxt = _profile_child(validator, current, name)
        current = nxt
    return current


def _profile_child(validator: ProfileValidator, node: ElementNode, name: str) -> ElementNode | None:
    for t in node.types:
        for url in t.profiles:
            profile = validator.profile(url)
            if profile is not None:
                found = profile.root.child(name[:-3] if name.endswith("[x]") else name)
                if found is not None:
                    return found
    return None


def _expected(
    validator: ProfileValidator, slice_node: ElementNode, target: ElementNode | None, path: str
) -> object:
    if target is not None:
        if target.fixed is not None:
            return target.fixed[1]
        if target.pattern is not None:
            return target.pattern[1]
    if path == "url" and slice_node.types and slice_node.types[0].profiles:
        return slice_node.types[0].profiles[0]  # an extension slice: url = its definition
    return _UNKNOWN


def _fits(
    validator: ProfileValidator,
    profile: CompiledProfile,
    slice_node: ElementNode,
    item: Item,
    run: _Run,
) -> bool:
    return not any(i.is_error for i in validator.probe(slice_node, profile, item, run))
