"""The operation access policy (`spec.OperationAccess`) applied by `registry.handle_operation`.

Pure helpers: who may invoke, whether a parameter names an individual, and the redaction that
leaves an aggregate answer with no per-resident detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..auth.bearer import forbidden
from ..core import errors as E
from .spec import OperationAccess

#: Types whose instances are individuals: an aggregate answer never names one.
INDIVIDUALS = ("Patient", "RelatedPerson", "Person")
_DROPPED_KEYS = frozenset({"contained", "text", "evaluatedResource", "subjectResults"})


def _full_system(principal: Any) -> bool:
    return any(
        s.context == "system" and s.resource_type == "*" and "u" in s.permissions
        for s in principal.scopes.clinical
    )


def runs_as_system(access: OperationAccess, principal: Any, code: str, values: Any) -> bool:
    """Check `principal` may invoke the operation (403 otherwise); True when it must run as the
    system with an aggregate-only answer.  `principal` None: authorisation off or the server."""
    if principal is None:
        return False
    role = "system" if principal.kind == "system" else (principal.role or "")
    if access.roles is not None and principal.kind != "system" and role not in access.roles:
        raise forbidden(f"Access denied: ${code} is not available to role '{role}'")
    if access.kind == "admin":
        if role == "admin" or (principal.kind == "system" and _full_system(principal)):
            return False
        raise forbidden(
            f"Access denied: ${code} is a maintenance operation for administrators "
            "(role admin, or a back-end client with a system/*.u scope)"
        )
    if access.kind == "aggregate" and role in access.aggregate_roles:
        named = names_individual(values)
        if named:
            raise E.FhirError(
                403,
                E.error(
                    "forbidden",
                    f"Access denied: role '{role}' receives aggregates only; parameter "
                    f"'{named}' names an individual",
                    named,
                    message_id="JY-0403-AGG",
                ),
            )
        return True
    return False


def names_individual(values: Mapping[str, list[Any]]) -> str | None:
    """The name of the first parameter whose value refers to an individual, else None."""
    for name, items in values.items():
        for item in items:
            if _mentions_individual(item):
                return name
    return None


def _mentions_individual(value: Any) -> bool:
    if isinstance(value, str):
        return any(value.startswith(f"{t}/") or f"/{t}/" in value for t in INDIVIDUALS)
    if isinstance(value, Mapping):
        return any(_mentions_individual(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_individual(v) for v in value)
    return False


def aggregate_only(resource: Any) -> Any:
    """`resource` without contained resources, narrative, evaluated resources, subject results
    and anything that references an individual or a contained resource."""
    cleaned = _clean(resource)
    return cleaned if cleaned is not None else {}


def _reference_hidden(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return value.startswith("#") or _mentions_individual(value)


def _clean(node: Any) -> Any:
    if isinstance(node, Mapping):
        if _reference_hidden(node.get("reference")):
            return None
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYS:
                continue
            cleaned = _clean(value)
            if cleaned is None or cleaned == {} and isinstance(value, Mapping) and value:
                if key.startswith("value"):  # an extension whose value was hidden: drop it
                    return None
                continue
            out[key] = cleaned
        return out
    if isinstance(node, list):
        items = [c for c in (_clean(v) for v in node) if c is not None and c != {}]
        return items or None
    if isinstance(node, str) and _mentions_individual(node):
        return None
    return node
