"""Operation input: a `Parameters` body (POST) or query parameters (GET), checked against the
OperationDefinition's `parameter` list (http://hl7.org/fhir/R4/operations.html)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import errors as E

_PRIMITIVE_FROM_QUERY: dict[str, Callable[[str], Any]] = {
    "boolean": lambda v: {"true": True, "false": False}[v],
    "integer": int,
    "positiveInt": int,
    "unsignedInt": int,
    "decimal": float,
}


@dataclass
class OperationInput:
    """Parsed input: name → list of values (each a primitive, a dict value, a resource, or parts)."""

    code: str
    resource_type: str | None
    id: str | None
    values: dict[str, list[Any]] = field(default_factory=dict)
    method: str = "POST"
    raw: Any = None  # the body as sent (a Parameters or, for some operations, a bare resource)

    def one(self, name: str, default: Any = None) -> Any:
        items = self.values.get(name) or []
        return items[0] if items else default

    def all(self, name: str) -> list[Any]:
        return list(self.values.get(name) or [])


def _value_of(param: Mapping[str, Any]) -> Any:
    if "resource" in param:
        return param["resource"]
    if "part" in param:
        return {p.get("name"): _value_of(p) for p in param["part"] if isinstance(p, Mapping)}
    for key, value in param.items():
        if key.startswith("value"):
            return value
    return None


def parse_body(body: Any, definition: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    if body is None:
        return {}
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        # Operations such as $validate accept the resource itself as the body.
        return {"resource": [body]}
    values: dict[str, list[Any]] = {}
    for i, param in enumerate(body.get("parameter") or []):
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            raise E.bad_request("Each parameter needs a name", f"Parameters.parameter[{i}]")
        values.setdefault(param["name"], []).append(_value_of(param))
    return values


def parse_query(
    query: list[tuple[str, str]], definition: Mapping[str, Any] | None
) -> dict[str, list[Any]]:
    types = {
        p["name"]: p.get("type")
        for p in (definition or {}).get("parameter", [])
        if p.get("use") == "in"
    }
    values: dict[str, list[Any]] = {}
    for name, raw in query:
        if name.startswith("_") and name not in types:
            continue
        convert = _PRIMITIVE_FROM_QUERY.get(types.get(name) or "", str)
        try:
            values.setdefault(name, []).append(convert(raw))
        except (KeyError, ValueError) as exc:
            raise E.bad_request(
                f"Parameter '{name}' must be a {types.get(name)}, not '{raw}'", name
            ) from exc
    return values


def check_against(
    values: dict[str, list[Any]], definition: Mapping[str, Any] | None, code: str
) -> None:
    """Unknown, missing and too-many parameters → 400 naming the parameter."""
    if not definition:
        return
    declared = {p["name"]: p for p in definition.get("parameter", []) if p.get("use") == "in"}
    problems = []
    for name, items in values.items():
        spec = declared.get(name)
        if spec is None:
            if name == "resource" and "resource" not in declared:
                continue
            problems.append(E.error("invalid", f"${code} has no input parameter '{name}'", name))
            continue
        if spec.get("max", "*") != "*" and len(items) > int(spec["max"]):
            problems.append(
                E.error("invalid", f"'{name}' may occur at most {spec['max']} time(s)", name)
            )
    for name, spec in declared.items():
        if int(spec.get("min", 0)) > len(values.get(name, [])):
            problems.append(E.error("required", f"${code} requires the parameter '{name}'", name))
    if problems:
        raise E.FhirError(400, problems)


def parameters_resource(values: Mapping[str, Any]) -> dict[str, Any]:
    """Output helper: {name: value} → Parameters, choosing value[x] from the Python type."""
    out = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            out.append({"name": name, **_typed(item)})
    return {"resourceType": "Parameters", "parameter": out}


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "resourceType" in value:
        return {"resource": value}
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    if isinstance(value, str):
        return {"valueString": value}
    if isinstance(value, dict) and "__type__" in value:
        kind = value["__type__"]
        return {f"value{kind}": {k: v for k, v in value.items() if k != "__type__"}}
    if isinstance(value, dict):
        return {"part": [{"name": k, **_typed(v)} for k, v in value.items()]}
    raise TypeError(f"cannot place {type(value).__name__} in Parameters")
