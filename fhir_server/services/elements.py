"""`_summary` and `_elements`: presentation filters on a resource (pure functions; input untouched).

Spec: http://hl7.org/fhir/R4/search.html#summary and http://hl7.org/fhir/R4/search.html#elements;
summary flags from http://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.isSummary.

* `_summary=true`: elements marked isSummary plus mandatory ones, recursively through backbone
  elements.  Inside a complex datatype every property is kept except `Attachment.data` (the
  isSummary definition: "Other than Attachment.data, all data type properties are included in the
  summary form"); a nested resource (`Bundle.entry.resource`) is kept whole.
* `_summary=text`: `text`, `id`, `meta` and the top-level mandatory elements.
* `_summary=data`: everything but `text`.  `_summary=false`: unchanged.
* `_elements=a,b`: the listed top-level elements plus `id`, `meta` and the mandatory elements (a choice
  element may be named by its base name, `value`, or as `value[x]`).

A filtered resource that lost anything carries the `SUBSETTED` tag in `meta.tag`.  `_summary=count` is
the search layer's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fhir_server.conformance.r4 import RESOURCE, R4Definitions

SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SUBSETTED_CODE = "SUBSETTED"
SUMMARY_MODES = frozenset({"true", "text", "data", "false"})
_ALWAYS = frozenset({"resourceType", "id", "meta"})
_DATATYPE_NON_SUMMARY = frozenset({"Attachment.data"})


def summary(resource: dict[str, Any], mode: str, defs: R4Definitions) -> dict[str, Any]:
    """The resource as returned for `_summary=<mode>` (`true`, `text`, `data` or `false`)."""
    if mode not in SUMMARY_MODES:
        raise ValueError(f"unsupported _summary mode {mode!r}")
    if mode == "false":
        return resource
    if mode == "data":
        kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    elif mode == "text":
        keep = _ALWAYS | {"text"} | defs.mandatory_names(resource.get("resourceType", ""))
        kept = _keep_top_level(resource, keep)
    else:
        kept = _summarize(resource, resource.get("resourceType", ""), defs)
        kept["resourceType"] = resource.get("resourceType")
        kept = {k: kept[k] for k in resource if k in kept}  # keep the original key order
    return _mark_subsetted(kept) if _removed_any(resource, kept) else kept


def elements(resource: dict[str, Any], names: Iterable[str], defs: R4Definitions) -> dict[str, Any]:
    """The resource as returned for `_elements=<names>` (top-level element names)."""
    rtype = resource.get("resourceType", "")
    wanted = {_strip_type(n.strip(), rtype) for n in names if n.strip()}
    node = defs.node(rtype)
    keep = set(_ALWAYS | defs.mandatory_names(rtype))
    if node is not None:
        for json_name, element in node.children.items():
            if json_name in wanted or (
                element.is_choice and {element.base_name, element.base_name + "[x]"} & wanted
            ):
                keep.add(json_name)
    kept = _keep_top_level(resource, frozenset(keep))
    return _mark_subsetted(kept) if _removed_any(resource, kept) else kept


def _strip_type(name: str, rtype: str) -> str:
    prefix = rtype + "."
    return name[len(prefix) :] if name.startswith(prefix) else name


def _keep_top_level(resource: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k.removeprefix("_") in names}


def _summarize(obj: dict[str, Any], node_key: str, defs: R4Definitions) -> dict[str, Any]:
    """Keep the summary (or mandatory) children of an object, recursing into complex ones."""
    node = defs.node(node_key)
    if node is None:
        return dict(obj)
    in_datatype = node_key.split(".", 1)[0] in defs.complex_types
    out: dict[str, Any] = {}
    for key, value in obj.items():
        element = node.children.get(key.removeprefix("_"))
        if element is None:
            continue
        if in_datatype:
            if element.path in _DATATYPE_NON_SUMMARY:
                continue
        elif not (element.summary or element.min > 0):
            continue
        if key.startswith("_") or element.primitive or element.type == RESOURCE:
            out[key] = value
            continue
        child_key = element.node or element.type
        if isinstance(value, list):
            items = [_summarize(v, child_key, defs) if isinstance(v, dict) else v for v in value]
            items = [v for v in items if v != {}]
            if items:
                out[key] = items
        elif isinstance(value, dict):
            reduced = _summarize(value, child_key, defs)
            if reduced:
                out[key] = reduced
    return out


def _removed_any(original: Any, filtered: Any) -> bool:
    return bool(original != filtered)


def _mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tags = list(meta.get("tag") or [])
    if not any(
        t.get("system") == SUBSETTED_SYSTEM and t.get("code") == SUBSETTED_CODE for t in tags
    ):
        tags.append({"system": SUBSETTED_SYSTEM, "code": SUBSETTED_CODE})
    meta["tag"] = tags
    out = dict(resource)
    out["meta"] = meta
    if "meta" not in resource:  # place meta after id, as resources are usually written
        out = {k: out[k] for k in _meta_first_order(resource)}
    return out


def _meta_first_order(resource: dict[str, Any]) -> list[str]:
    keys = [k for k in resource if k != "meta"]
    at = next((i + 1 for i, k in enumerate(keys) if k in ("id", "_id")), min(1, len(keys)))
    return [*keys[:at], "meta", *keys[at:]]
