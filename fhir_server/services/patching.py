"""The patch interaction's pure logic: JSON Patch and FHIRPath Patch applied to a resource dict.

Spec: http://hl7.org/fhir/R4/http.html#patch (the interaction),
RFC 6902 https://www.rfc-editor.org/rfc/rfc6902 (JSON Patch, ``application/json-patch+json``),
http://hl7.org/fhir/R4/fhirpatch.html (FHIRPath Patch, a ``Parameters`` body).
XML Patch is not supported: this is a JSON-only R4 server.

Both appliers return a new dict and never mutate their input.  Errors are `FhirError`s:

* 400 ``invalid`` — the patch document itself is malformed.  Expressions point at the offending
  part: ``Patch`` / ``Patch[2]`` / ``Patch[2].path`` for JSON Patch (index into the body array),
  ``Parameters.parameter[1]`` / ``Parameters.parameter[1].part[0]`` for FHIRPath Patch.
  A FHIRPath function outside the supported subset is 400 ``not-supported``.
* 422 ``processing`` — a well-formed patch that cannot be applied to this resource (failed
  ``test``, missing path, path matching zero or several elements, index out of range, or a change
  of ``resourceType``/``id``).  Expressions name the operation: ``Patch[2]`` or
  ``Parameters.parameter[2]``.
* 415 ``not-supported`` — from `detect_patch_format` for any other media type.

FHIRPath locations: fhirpathpy evaluates expressions but does not say *where* in the JSON tree a
result lives, so `_resolve` walks the supported subset itself — ``Type.child.child``, indexers
``[n]``, ``first()``, ``last()``, ``single()``, ``ofType(T)`` and ``where(criteria)`` (criteria of
any kind, evaluated by fhirpathpy on each candidate).  Choice elements resolve by their base name
(``Observation.value`` finds ``valueQuantity``).  The whole path is first compiled by fhirpathpy so
that syntax errors are reported uniformly.

Cardinality and choice names of *new* elements (``add`` and anonymous complex values) come from an
`ElementSchema`; the default one reads the fhir.resources R4B models, whose element cardinalities
match R4.  The caller validates the result against the R4 base definitions anyway.
"""

from __future__ import annotations

import copy
import functools
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import fhirpathpy
import jsonpatch
import jsonpointer
from fhirpathpy.models import models as _fhirpath_models

from fhir_server.core.errors import FhirError, bad_request, error

_R4_MODEL: dict[str, Any] = _fhirpath_models["r4"]
PatchFormat = Literal["json-patch", "fhirpath-patch"]
Json = Any

__all__ = [
    "ElementSchema",
    "PatchFormat",
    "apply_fhirpath_patch",
    "apply_json_patch",
    "detect_patch_format",
]


# --------------------------------------------------------------------------------------------
# Shared helpers


def _unprocessable(diagnostics: str, expression: str) -> FhirError:
    return FhirError(422, error("processing", diagnostics, expression, message_id="JY-0422"))


def _check_identity(before: dict[str, Any], after: Json, expression: str) -> None:
    """A patch may not turn the resource into something else (http.html#patch)."""
    if not isinstance(after, dict):
        raise _unprocessable("The patch result is not a resource (JSON object)", expression)
    for key in ("resourceType", "id"):
        if after.get(key) != before.get(key):
            raise _unprocessable(f"A patch may not change the resource's {key}", expression)


def detect_patch_format(content_type: str) -> PatchFormat:
    """Pick the patch format from the request's Content-Type (parameters are ignored)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json-patch+json":
        return "json-patch"
    if media in ("application/fhir+json", "application/json", "application/json+fhir"):
        return "fhirpath-patch"
    what = "XML Patch is not supported" if "xml" in media else "Unsupported patch media type"
    raise FhirError(
        415,
        error(
            "not-supported",
            f"{what}: '{media or '(none)'}'; use application/json-patch+json (JSON Patch) "
            "or application/fhir+json (FHIRPath Patch Parameters)",
            message_id="JY-0415",
        ),
    )


# --------------------------------------------------------------------------------------------
# JSON Patch (RFC 6902)

_JSON_PATCH_MEMBERS: dict[str, tuple[str, ...]] = {
    "add": ("path", "value"),
    "remove": ("path",),
    "replace": ("path", "value"),
    "move": ("from", "path"),
    "copy": ("from", "path"),
    "test": ("path", "value"),
}
_POINTER = re.compile(r"^(/([^~]|~[01])*)*$")


def apply_json_patch(resource: dict[str, Any], operations: object) -> dict[str, Any]:
    """Apply an RFC 6902 patch document (the parsed body) to a copy of `resource`."""
    if not isinstance(operations, list):
        raise bad_request("A JSON Patch body must be a JSON array of operation objects", "Patch")
    for i, op in enumerate(operations):
        _check_json_operation(op, f"Patch[{i}]")
    doc: Json = copy.deepcopy(resource)
    for i, op in enumerate(operations):
        doc = _apply_json_operation(doc, op, f"Patch[{i}]")
        _check_identity(resource, doc, f"Patch[{i}]")
    return typing.cast(dict[str, Any], doc)


def _check_json_operation(op: object, where: str) -> None:
    if not isinstance(op, dict):
        raise bad_request("A JSON Patch operation must be a JSON object", where)
    name = op.get("op")
    if name not in _JSON_PATCH_MEMBERS:
        raise bad_request(f"Unknown or missing JSON Patch 'op': {name!r}", f"{where}.op")
    for member in _JSON_PATCH_MEMBERS[name]:
        if member not in op:
            raise bad_request(f"JSON Patch '{name}' needs a '{member}' member", where)
        if member != "value" and not (isinstance(op[member], str) and _POINTER.match(op[member])):
            raise bad_request(
                f"JSON Patch '{member}' must be a JSON Pointer (RFC 6901)", f"{where}.{member}"
            )


def _apply_json_operation(doc: Json, op: dict[str, Any], where: str) -> Json:
    try:
        return jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise _unprocessable(f"JSON Patch test failed: {exc}", where) from exc
    except jsonpatch.InvalidJsonPatch as exc:  # checked above; kept as a safety net
        raise bad_request(f"Invalid JSON Patch operation: {exc}", where) from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise _unprocessable(f"JSON Patch '{op['op']}' cannot be applied: {exc}", where) from exc
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise _unprocessable(f"JSON Patch '{op['op']}' cannot be applied: {exc}", where) from exc


# --------------------------------------------------------------------------------------------
# FHIRPath Patch: element schema (cardinality and choice names of new elements)


class ElementSchema(Protocol):
    def element(
        self, parent: tuple[str, ...], name: str, value_type: str | None
    ) -> tuple[str, bool] | None:
        """JSON key and whether it repeats, for child `name` of the element at type path `parent`
        (e.g. ``("Patient", "contact")``); `value_type` is the value[x] suffix (``"Quantity"``) used
        to name choice elements.  None when unknown."""
        ...


class _R4BModelSchema:
    """Reads cardinality and choice names from the fhir.resources R4B pydantic models."""

    def element(
        self, parent: tuple[str, ...], name: str, value_type: str | None
    ) -> tuple[str, bool] | None:
        fields = _model_fields(parent)
        if fields is None:
            return None
        for key in (name + (value_type or ""), name):
            if key in fields:
                return key, _is_list(fields[key])
        return None


@functools.cache
def _model_fields(path: tuple[str, ...]) -> dict[str, Any] | None:
    if len(path) == 1:
        cls = _model_class(path[0])
    else:
        parent = _model_fields(path[:-1])
        if not parent or path[-1] not in parent:
            return None
        cls = _model_class(getattr(_inner_type(parent[path[-1]]), "__name__", ""))
    if cls is None or not hasattr(cls, "model_fields"):
        return None
    return {f.alias or n: f.annotation for n, f in cls.model_fields.items()}


def _model_class(name: str) -> Any:
    try:
        from fhir.resources.R4B import get_fhir_model_class

        return get_fhir_model_class(name.removesuffix("Type"))
    except Exception:  # unknown type or library unavailable: cardinality unknown
        return None


def _inner_type(annotation: Any) -> Any:
    while typing.get_args(annotation) and typing.get_origin(annotation) is not typing.Annotated:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return annotation


def _is_list(annotation: Any) -> bool:
    while typing.get_args(annotation):
        if typing.get_origin(annotation) is list:
            return True
        if typing.get_origin(annotation) is typing.Annotated:
            return False
        annotation = [a for a in typing.get_args(annotation) if a is not type(None)][0]
    return False


DEFAULT_SCHEMA: ElementSchema = _R4BModelSchema()


# --------------------------------------------------------------------------------------------
# FHIRPath Patch: parsing the Parameters body

_OPERATION_PARTS: dict[str, tuple[str, ...]] = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
_PART_VALUE_KEYS: dict[str, tuple[str, ...]] = {
    "type": ("valueCode", "valueString"),
    "path": ("valueString",),
    "name": ("valueString", "valueCode"),
    "index": ("valueInteger", "valueUnsignedInt"),
    "source": ("valueInteger", "valueUnsignedInt"),
    "destination": ("valueInteger", "valueUnsignedInt"),
}


@dataclass(frozen=True)
class _Operation:
    type: str
    where: str  # Parameters.parameter[i]
    path: str = ""
    path_where: str = ""
    name: str = ""
    value: dict[str, Any] | None = None  # the raw `value` part
    value_where: str = ""
    index: int = 0
    source: int = 0
    destination: int = 0


def _parse_operations(parameters: object) -> list[_Operation]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise bad_request("A FHIRPath Patch body must be a Parameters resource", "Parameters")
    params = parameters.get("parameter", [])
    if not isinstance(params, list):
        raise bad_request("Parameters.parameter must be an array", "Parameters.parameter")
    return [_parse_operation(p, f"Parameters.parameter[{i}]") for i, p in enumerate(params)]


def _parse_operation(param: object, where: str) -> _Operation:
    if not isinstance(param, dict) or param.get("name") != "operation":
        raise bad_request("Each FHIRPath Patch parameter must be named 'operation'", where)
    parts = param.get("part")
    if not isinstance(parts, list) or not parts:
        raise bad_request("An 'operation' parameter needs parts", where)
    found: dict[str, tuple[Any, str]] = {}
    for j, part in enumerate(parts):
        pwhere = f"{where}.part[{j}]"
        name = part.get("name") if isinstance(part, dict) else None
        if name != "value" and name not in _PART_VALUE_KEYS:
            raise bad_request(f"Unknown FHIRPath Patch part {name!r}", pwhere)
        if name in found:
            raise bad_request(f"Repeated FHIRPath Patch part '{name}'", pwhere)
        found[name] = (part if name == "value" else _part_value(part, name, pwhere), pwhere)
    return _build_operation(found, where)


def _part_value(part: dict[str, Any], name: str, where: str) -> Any:
    for key in _PART_VALUE_KEYS[name]:
        if key in part:
            value = part[key]
            if key in ("valueInteger", "valueUnsignedInt"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise bad_request(f"Part '{name}' must be a non-negative integer", where)
            elif not isinstance(value, str) or not value:
                raise bad_request(f"Part '{name}' must be a non-empty string", where)
            return value
    raise bad_request(f"Part '{name}' needs one of {', '.join(_PART_VALUE_KEYS[name])}", where)


def _build_operation(found: dict[str, tuple[Any, str]], where: str) -> _Operation:
    if "type" not in found:
        raise bad_request("An operation needs a 'type' part", where)
    op_type = found["type"][0]
    if op_type not in _OPERATION_PARTS:
        raise bad_request(f"Unknown FHIRPath Patch operation type '{op_type}'", found["type"][1])
    needed = _OPERATION_PARTS[op_type]
    for name, (_, pwhere) in found.items():
        if name != "type" and name not in needed:
            raise bad_request(f"Part '{name}' is not allowed for '{op_type}'", pwhere)
    missing = [n for n in needed if n not in found]
    if missing:
        raise bad_request(f"'{op_type}' needs part(s): {', '.join(missing)}", where)
    get = found.get
    return _Operation(
        type=op_type,
        where=where,
        path=found["path"][0],
        path_where=found["path"][1],
        name=get("name", ("", ""))[0],
        value=get("value", (None, ""))[0],
        value_where=get("value", (None, ""))[1],
        index=get("index", (0, ""))[0],
        source=get("source", (0, ""))[0],
        destination=get("destination", (0, ""))[0],
    )


# --------------------------------------------------------------------------------------------
# FHIRPath Patch: values (value[x] or anonymous parts)


def _value_type(part: dict[str, Any]) -> tuple[str | None, Any] | None:
    """(value[x] suffix, JSON value) of a part, ``(None, resource)`` for `resource`, else None."""
    keys = [k for k in part if k.startswith("value") and len(k) > 5 and k[5].isupper()]
    if len(keys) == 1:
        return keys[0][5:], part[keys[0]]
    if "resource" in part and not keys:
        return None, part["resource"]
    return None


def _build_value(
    part: dict[str, Any], type_path: tuple[str, ...], schema: ElementSchema, where: str
) -> tuple[str | None, Any]:
    """Turn a `value` part into (type suffix, JSON); nested parts build an anonymous element."""
    typed = _value_type(part)
    if typed is not None:
        return typed[0], copy.deepcopy(typed[1])
    subparts = part.get("part")
    if not isinstance(subparts, list) or not subparts:
        raise bad_request("A value needs exactly one value[x], a resource, or parts", where)
    element: dict[str, Any] = {}
    for j, sub in enumerate(subparts):
        swhere = f"{where}.part[{j}]"
        name = sub.get("name") if isinstance(sub, dict) else None
        if not isinstance(name, str) or not name:
            raise bad_request("Each part of a complex value needs a name", swhere)
        vtype, value = _build_value(sub, (*type_path, name), schema, swhere)
        key, repeats = schema.element(type_path, name, vtype) or (name, False)
        _put_child(element, key, value, repeats)
    return None, element


def _put_child(element: dict[str, Any], key: str, value: Any, repeats: bool) -> None:
    if key in element:
        current = element[key]
        element[key] = [*current, value] if isinstance(current, list) else [current, value]
    else:
        element[key] = [value] if repeats else value


# --------------------------------------------------------------------------------------------
# FHIRPath Patch: locating elements


@dataclass(frozen=True)
class _Node:
    """One element in the JSON tree: ``parent[key]`` or ``parent[key][index]`` (root: parent None)."""

    parent: dict[str, Any] | None
    key: str
    index: int | None
    value: Any
    type_path: tuple[str, ...]
    name: str  # the FHIRPath name (``value`` for ``valueQuantity``)


_Step = tuple[str, str]  # (kind, argument): child / index / where / first / last / single / ofType
_SEGMENT = re.compile(
    r"^(?:(?P<name>`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<args>.*)\))?)?(?P<idx>(?:\[\d+\])*)$",
    re.S,
)
_FUNCTIONS = {"where", "first", "last", "single", "ofType"}


def _split_top_level(path: str) -> list[str]:
    """Split a FHIRPath at the dots outside parentheses, brackets, quotes and backticks."""
    segments, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(path):
        if quote:
            quote = "" if ch == quote and path[i - 1] != "\\" else quote
        elif ch in "'`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "." and depth == 0:
            segments.append(path[start:i].strip())
            start = i + 1
    segments.append(path[start:].strip())
    return segments


def _parse_path(path: str, where: str) -> list[_Step]:
    try:
        fhirpathpy.compile(path)
    except Exception as exc:
        raise bad_request(f"Invalid FHIRPath '{path}': {exc}", where) from exc
    steps: list[_Step] = []
    for segment in _split_top_level(path):
        match = _SEGMENT.match(segment)
        if not segment or not match or not (match["name"] or match["idx"]):
            raise bad_request(f"Unsupported FHIRPath segment '{segment}' in '{path}'", where)
        name, args = match["name"], match["args"]
        if name and args is None:
            steps.append(("child", name.strip("`")))
        elif name:
            if name not in _FUNCTIONS:
                raise bad_request(
                    f"FHIRPath function '{name}()' is not supported in patches",
                    where,
                    code="not-supported",
                )
            steps.append((name, args.strip()))
            if name == "where":
                _check_criteria(args, path, where)
        steps += [("index", n) for n in re.findall(r"\[(\d+)\]", match["idx"])]
    return steps


def _check_criteria(criteria: str, path: str, where: str) -> None:
    """fhirpathpy only reports some syntax errors when evaluating, so try the criteria once."""
    try:
        fhirpathpy.evaluate({}, criteria)
    except Exception as exc:
        raise bad_request(f"Invalid FHIRPath '{path}': {exc}", where) from exc


def _resolve(root: dict[str, Any], steps: list[_Step], op: _Operation) -> list[_Node]:
    rtype = str(root.get("resourceType", ""))
    nodes = [_Node(None, "", None, root, (rtype,), rtype)]
    if steps and steps[0][0] == "child" and steps[0][1][:1].isupper():
        if steps[0][1] != rtype:
            return []
        steps = steps[1:]
    for kind, arg in steps:
        nodes = _apply_step(nodes, kind, arg, op)
    return nodes


def _apply_step(nodes: list[_Node], kind: str, arg: str, op: _Operation) -> list[_Node]:
    if kind == "child":
        return [child for node in nodes for child in _children(node, arg)]
    if kind == "index":
        n = int(arg)
        return nodes[n : n + 1]
    if kind in ("first", "last", "single"):
        if kind == "single" and len(nodes) > 1:
            raise _unprocessable("single() matched more than one element", op.where)
        return nodes[:1] if kind == "first" else nodes[-1:]
    if kind == "ofType":
        return [n for n in nodes if _is_of_type(n, arg)]
    return [n for n in nodes if _matches(n.value, arg, op.path_where)]


def _children(node: _Node, name: str) -> list[_Node]:
    value = node.value
    if not isinstance(value, dict):
        return []
    keys = [name] if name in value else _choice_keys(value, name)
    result = []
    for key in keys:
        child = value[key]
        items = list(enumerate(child)) if isinstance(child, list) else [(None, child)]
        for index, item in items:
            if item is None:
                continue
            path = (item["resourceType"],) if _is_resource(item) else (*node.type_path, key)
            result.append(_Node(value, key, index, item, path, name))
    return result


def _choice_keys(element: dict[str, Any], name: str) -> list[str]:
    n = len(name)
    return [k for k in element if k.startswith(name) and len(k) > n and k[n].isupper()]


def _is_resource(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("resourceType"), str)


def _is_of_type(node: _Node, type_name: str) -> bool:
    type_name = type_name.strip("`").removeprefix("FHIR.")
    if _is_resource(node.value):
        return bool(node.value["resourceType"] == type_name)
    suffix = node.key[len(node.name) :]
    if suffix:  # a choice element: valueQuantity is ofType(Quantity)
        return suffix.lower() == type_name.lower()
    declared = _R4_MODEL["path2Type"].get(".".join(node.type_path), "")
    return not declared or declared.removeprefix("System.").lower() == type_name.lower()


def _matches(value: Any, criteria: str, where: str) -> bool:
    try:
        return bool(fhirpathpy.evaluate(value, criteria) == [True])
    except Exception as exc:
        raise bad_request(f"Cannot evaluate where({criteria}): {exc}", where) from exc


# --------------------------------------------------------------------------------------------
# FHIRPath Patch: the five operations


def apply_fhirpath_patch(
    resource: dict[str, Any], parameters: dict[str, Any], *, schema: ElementSchema | None = None
) -> dict[str, Any]:
    """Apply a FHIRPath Patch ``Parameters`` body to a copy of `resource` (fhirpatch.html)."""
    operations = _parse_operations(parameters)
    steps = [_parse_path(op.path, op.path_where) for op in operations]
    doc = copy.deepcopy(resource)
    for op, op_steps in zip(operations, steps, strict=True):
        _OPERATIONS[op.type](doc, op, op_steps, schema or DEFAULT_SCHEMA)
        _check_identity(resource, doc, op.where)
    return doc


def _single(doc: dict[str, Any], op: _Operation, steps: list[_Step]) -> _Node:
    nodes = _resolve(doc, steps, op)
    if len(nodes) != 1:
        found = "no element" if not nodes else f"{len(nodes)} elements"
        raise _unprocessable(
            f"'{op.type}' path '{op.path}' must match exactly one element, found {found}",
            op.where,
        )
    return nodes[0]


def _op_add(doc: dict[str, Any], op: _Operation, steps: list[_Step], schema: ElementSchema) -> None:
    target = _single(doc, op, steps)
    if not isinstance(target.value, dict):
        raise _unprocessable(f"Cannot add '{op.name}' to a primitive value", op.where)
    assert op.value is not None
    vtype, value = _build_value(op.value, (*target.type_path, op.name), schema, op.value_where)
    known = schema.element(target.type_path, op.name, vtype)
    key, repeats = known or (op.name, False)
    current = target.value.get(key)
    if isinstance(current, list):
        current.append(value)
        _sync_shadow(target.value, key, lambda shadow: shadow.append(None))
    elif key in target.value or f"_{key}" in target.value or _choice_keys(target.value, op.name):
        raise _unprocessable(f"'{key}' already exists; use replace", op.where)
    else:
        target.value[key] = [value] if repeats else value


def _op_replace(
    doc: dict[str, Any], op: _Operation, steps: list[_Step], schema: ElementSchema
) -> None:
    node = _single(doc, op, steps)
    if node.parent is None:
        raise _unprocessable("Cannot replace the resource itself", op.where)
    assert op.value is not None
    vtype, value = _build_value(op.value, node.type_path, schema, op.value_where)
    if node.index is not None:
        node.parent[node.key][node.index] = value
        return
    key = node.key
    if key != node.name and vtype:  # a choice element may change type: valueString → valueQuantity
        key = node.name + vtype
        node.parent.pop(node.key)
        node.parent.pop(f"_{node.key}", None)
    node.parent[key] = value


def _op_delete(
    doc: dict[str, Any], op: _Operation, steps: list[_Step], schema: ElementSchema
) -> None:
    if not _resolve(doc, steps, op):
        return  # deleting something that is not there is not an error
    node = _single(doc, op, steps)
    if node.parent is None:
        raise _unprocessable("Cannot delete the resource itself", op.where)
    if node.index is None:
        node.parent.pop(node.key)
        node.parent.pop(f"_{node.key}", None)
        return
    index = node.index
    node.parent[node.key].pop(index)
    _sync_shadow(node.parent, node.key, lambda shadow: shadow.pop(index))
    _drop_empty(node.parent, node.key)


def _op_insert(
    doc: dict[str, Any], op: _Operation, steps: list[_Step], schema: ElementSchema
) -> None:
    parent, key, type_path = _collection(doc, op, steps)
    items = parent.setdefault(key, [])
    if op.index > len(items):
        raise _unprocessable(
            f"insert index {op.index} is beyond the end of '{op.path}' ({len(items)} elements)",
            op.where,
        )
    assert op.value is not None
    _, value = _build_value(op.value, type_path, schema, op.value_where)
    items.insert(op.index, value)
    _sync_shadow(parent, key, lambda shadow: shadow.insert(op.index, None))


def _op_move(
    doc: dict[str, Any], op: _Operation, steps: list[_Step], schema: ElementSchema
) -> None:
    parent, key, _ = _collection(doc, op, steps)
    items = parent.get(key, [])
    for label, index in (("source", op.source), ("destination", op.destination)):
        if index >= len(items):
            raise _unprocessable(
                f"move {label} {index} is out of range for '{op.path}' ({len(items)} elements)",
                op.where,
            )
    items.insert(op.destination, items.pop(op.source))
    _sync_shadow(parent, key, lambda shadow: shadow.insert(op.destination, shadow.pop(op.source)))


def _collection(
    doc: dict[str, Any], op: _Operation, steps: list[_Step]
) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """The list a path names: every match must be an item of one and the same JSON array.

    An empty match on a trailing ``.name`` falls back to the (single) parent, so that ``insert`` can
    start a list that does not exist yet.  Indexes count in the whole list, also when a
    ``where()`` selected only some of its items."""
    nodes = _resolve(doc, steps, op)
    if not nodes and steps and steps[-1][0] == "child":
        parent = _single(doc, op, steps[:-1])
        if isinstance(parent.value, dict):
            return parent.value, steps[-1][1], (*parent.type_path, steps[-1][1])
    lists = {(id(n.parent), n.key) for n in nodes if n.index is not None}
    if len(lists) != 1 or any(n.index is None for n in nodes):
        raise _unprocessable(f"'{op.type}' path '{op.path}' must name one list", op.where)
    first = nodes[0]
    assert first.parent is not None
    return first.parent, first.key, first.type_path


def _sync_shadow(parent: dict[str, Any], key: str, change: Callable[[list[Any]], Any]) -> None:
    """Keep a primitive list's ``_key`` (ids/extensions) aligned with its values."""
    shadow = parent.get(f"_{key}")
    if isinstance(shadow, list):
        change(shadow)
        if all(item is None for item in shadow):
            parent.pop(f"_{key}")


def _drop_empty(parent: dict[str, Any], key: str) -> None:
    if parent.get(key) == [] and not parent.get(f"_{key}"):
        parent.pop(key)


_OPERATIONS: dict[str, Callable[[dict[str, Any], _Operation, list[_Step], ElementSchema], None]] = {
    "add": _op_add,
    "insert": _op_insert,
    "delete": _op_delete,
    "replace": _op_replace,
    "move": _op_move,
}
