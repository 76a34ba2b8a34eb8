"""Snapshot generation: a StructureDefinition's differential applied to its base snapshot.

Spec: http://hl7.org/fhir/R4/profiling.html#snapshot and http://hl7.org/fhir/R4/
elementdefinition.html#id (element ids `Path.child:sliceName.grandchild`).  The guide's extensions
are authored differential-only; validation needs snapshots.

The algorithm is id-driven and covers what profiles in this guide (and SUSHI output) use:

* a differential element whose id is in the snapshot is merged into it (the differential's keys win;
  `constraint` lists are appended);
* an id naming a new slice (`Extension.extension:foo`) copies the sliced element, sets `sliceName`,
  and is inserted after the sliced element's group (its existing slices and children);
* an id below an element the snapshot does not expand (a slice, or a complex-typed element such as
  `Patient.identifier.system`) expands that element's children from its type's snapshot first;
* a renamed choice (`Observation.valueQuantity`) constrains `value[x]` to that type;
* as the HL7 snapshot generator does, the `url` of an extension is fixed in the snapshot: in an
  Extension definition `Extension.url` = its canonical, and a slice of `extension` /
  `modifierExtension` typed with one extension profile gets the Extension children with `url` fixed
  to that profile (validators that discriminate slices on `url` from the slice's own elements —
  medplum's `validateResource` — need it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Element = dict[str, Any]
# Canonical URL → StructureDefinition with a snapshot (or None).
Resolver = Callable[[str], dict[str, Any] | None]

_TYPE_SD = "http://hl7.org/fhir/StructureDefinition/"
_MERGE_SKIP = frozenset({"id", "path", "sliceName"})


class SnapshotError(ValueError):
    """The differential cannot be applied to the base (unknown base, unknown element)."""


def element_id(element: Element) -> str:
    if element.get("id"):
        return str(element["id"])
    path = str(element["path"])
    return f"{path}:{element['sliceName']}" if element.get("sliceName") else path


def _parent_id(eid: str) -> str | None:
    # Split on the last '.' that is not inside a slice name (slice names here contain no '.').
    head, sep, _ = eid.rpartition(".")
    return head if sep else None


def _path_of(eid: str) -> str:
    return ".".join(part.split(":", 1)[0] for part in eid.split("."))


def generate_snapshot(sd: dict[str, Any], resolve: Resolver) -> list[Element]:
    """The snapshot elements of `sd` (its own snapshot when present)."""
    if sd.get("snapshot", {}).get("element"):
        return list(sd["snapshot"]["element"])
    base_url = sd.get("baseDefinition")
    base = resolve(base_url) if base_url else None
    if base is None:
        raise SnapshotError(f"Base definition {base_url!r} is not known")
    elements = [copy.deepcopy(e) for e in snapshot_of(base, resolve)]
    for e in elements:
        e["id"] = element_id(e)
    pristine = copy.deepcopy(elements)  # contentReference targets expand from the base, unprofiled
    for diff in sd.get("differential", {}).get("element", []):
        _apply(elements, diff, resolve, pristine)
    _fix_extension_urls(sd, elements, resolve)
    return elements


def snapshot_of(sd: dict[str, Any], resolve: Resolver) -> list[Element]:
    return generate_snapshot(sd, resolve)


def _index(elements: list[Element], eid: str) -> int | None:
    for i, e in enumerate(elements):
        if e["id"] == eid:
            return i
    return None


def _apply(elements: list[Element], diff: Element, resolve: Resolver, base: list[Element]) -> None:
    eid = element_id(diff)
    i = _ensure(elements, eid, resolve, base)
    target = elements[i]
    for key, value in diff.items():
        if key in _MERGE_SKIP:
            continue
        if key == "constraint":
            target["constraint"] = [*target.get("constraint", []), *value]
        elif key.startswith(("fixed", "pattern")):
            for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                del target[old]
            target[key] = copy.deepcopy(value)
        else:
            target[key] = copy.deepcopy(value)


def _ensure(elements: list[Element], eid: str, resolve: Resolver, base: list[Element]) -> int:
    """Index of element `eid`, creating it (slice, expanded child, renamed choice) if needed."""
    found = _index(elements, eid)
    if found is not None:
        return found
    parent = _parent_id(eid)
    last = eid.rsplit(".", 1)[-1]
    if ":" in last:  # a new slice of a sibling element
        sliced_id = (parent + "." if parent else "") + last.split(":", 1)[0]
        sliced = _ensure(elements, sliced_id, resolve, base)
        new = copy.deepcopy(elements[sliced])
        new.pop("slicing", None)
        new["id"], new["sliceName"] = eid, last.split(":", 1)[1]
        at = _group_end(elements, sliced_id)
        elements.insert(at, new)
        return at
    if parent is None:
        raise SnapshotError(f"Element {eid!r} is not in the base")
    p = _ensure(elements, parent, resolve, base)
    if not _has_children(elements, parent):
        _expand_children(elements, p, resolve, base)
        found = _index(elements, eid)
        if found is not None:
            return found
    return _renamed_choice(elements, parent, last)


def _renamed_choice(elements: list[Element], parent: str, last: str) -> int:
    for i, e in enumerate(elements):
        name = e["id"].rsplit(".", 1)[-1]
        if _parent_id(e["id"]) == parent and name.endswith("[x]") and last.startswith(name[:-3]):
            suffix = last[len(name) - 3 :]
            e["type"] = [t for t in e.get("type", []) if t["code"].lower() == suffix.lower()]
            return i
    raise SnapshotError(f"Element {parent}.{last} is not in the base")


def _has_children(elements: list[Element], eid: str) -> bool:
    return any(_parent_id(e["id"]) == eid for e in elements)


def _group_end(elements: list[Element], eid: str) -> int:
    """Index after `eid`, its slices and all their descendants."""
    start = _index(elements, eid)
    assert start is not None
    end = start + 1
    while end < len(elements):
        other = elements[end]["id"]
        if not (other.startswith(eid + ".") or other.startswith(eid + ":")):
            break
        end += 1
    return end


def _expand_children(
    elements: list[Element], i: int, resolve: Resolver, base: list[Element]
) -> None:
    """Give element `i` its children: those of the element it slices, of its contentReference
    target, or else of its (single) type's snapshot."""
    element = elements[i]
    eid = element["id"]
    head, _, last = eid.rpartition(".")
    if ":" in last:  # a slice: the children of the sliced element (backbones and expanded types)
        source = (head + "." if head else "") + last.split(":", 1)[0]
        if _has_children(elements, source):
            _copy_descendants(elements, elements, source, eid, None, None)
            return
    ref = element.get("contentReference")
    if isinstance(ref, str):
        target = ref.split("#", 1)[-1]
        if _has_children(base, target):
            _copy_descendants(elements, base, target, eid, target, element["path"])
            # Unfolded, the element is a backbone of its own (eld-5: no type beside a reference).
            del element["contentReference"]
            element["type"] = [{"code": "BackboneElement"}]
            return
    types = element.get("type", [])
    if len(types) != 1:
        return
    type_ = types[0]
    url = (type_.get("profile") or [_TYPE_SD + type_["code"]])[0]
    type_sd = resolve(url)
    if type_sd is None:
        raise SnapshotError(f"Type definition {url!r} is not known")
    type_elements = snapshot_of(type_sd, resolve)
    root = type_elements[0]["path"]
    path = element["path"]
    children = []
    for te in type_elements[1:]:
        child = copy.deepcopy(te)
        child["id"] = eid + element_id(te)[len(root) :]
        child["path"] = path + te["path"][len(root) :]
        children.append(child)
    at = _group_end(elements, eid)
    elements[at:at] = children


def _copy_descendants(
    elements: list[Element],
    origin: list[Element],
    source: str,
    eid: str,
    old_path: str | None,
    new_path: str | None,
) -> None:
    copies = []
    for e in origin:
        if e["id"].startswith(source + "."):
            child = copy.deepcopy(e)
            child["id"] = eid + e["id"][len(source) :]
            if old_path is not None and new_path is not None:
                child["path"] = new_path + e["path"][len(old_path) :]
            copies.append(child)
    at = _group_end(elements, eid)
    elements[at:at] = copies


def _is_extension_slice(element: Element) -> bool:
    path = str(element["path"])
    types = element.get("type", [])
    return (
        bool(element.get("sliceName"))
        and path.rsplit(".", 1)[-1] in ("extension", "modifierExtension")
        and len(types) == 1
        and types[0].get("code") == "Extension"
        and len(types[0].get("profile") or []) == 1
    )


def _fix_extension_urls(sd: dict[str, Any], elements: list[Element], resolve: Resolver) -> None:
    """`Extension.url` fixed to the definition's canonical; extension slices get their `url`."""
    if sd.get("type") == "Extension" and isinstance(sd.get("url"), str):
        for e in elements:
            if e["id"] == "Extension.url" and not _has_fixed(e):
                e["fixedUri"] = sd["url"]
    i = 0
    while i < len(elements):
        element = elements[i]
        i += 1
        if not _is_extension_slice(element):
            continue
        url = element["type"][0]["profile"][0]
        eid = element["id"]
        if not _has_children(elements, eid):
            _expand_children(elements, i - 1, _base_extension(resolve), [])
        for child in elements:
            if child["id"] == f"{eid}.url" and not _has_fixed(child):
                child["fixedUri"] = url


def _base_extension(resolve: Resolver) -> Resolver:
    """A resolver that expands an extension slice from the base Extension type, not its profile
    (the profile still applies through the slice's `type.profile`)."""

    def base_only(_url: str) -> dict[str, Any] | None:
        return resolve(_TYPE_SD + "Extension")

    return base_only


def _has_fixed(element: Element) -> bool:
    return any(k.startswith(("fixed", "pattern")) for k in element)
