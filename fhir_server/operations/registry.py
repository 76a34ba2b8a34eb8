"""The operation registry: discovered from `OPERATIONS` lists, dispatched for `$` routes, listed in
the CapabilityStatement (http://hl7.org/fhir/R4/operations.html)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from typing import Any

from ..core import errors as E
from ..interactions.model import FhirRequest, FhirResponse
from ..interactions.route import Route
from ..services.repository import FhirRepository
from .access import aggregate_only, runs_as_system
from .parameters import OperationInput, check_against, parse_body, parse_query
from .spec import OperationSpec

_SKIP = {"registry", "spec", "parameters", "access"}


def discover(package: str = "fhir_server.operations") -> list[OperationSpec]:
    """Every `OPERATIONS` list in the modules of `package`."""
    pkg = importlib.import_module(package)
    specs: list[OperationSpec] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in _SKIP or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        specs.extend(getattr(module, "OPERATIONS", []))
    return specs


class OperationRegistry:
    def __init__(
        self, specs: Iterable[OperationSpec], definitions: Mapping[str, Mapping[str, Any]]
    ) -> None:
        self.specs = list(specs)
        self.definitions = dict(definitions)

    def find(
        self, code: str, resource_type: str | None, instance: bool, id: str | None = None
    ) -> OperationSpec | None:
        """The spec for `$code` at this level.  A spec whose `extra["instance_ids"]` names the
        instance wins (e.g. `$evaluate-measure` per Measure); one naming other ids never applies."""
        general: OperationSpec | None = None
        for spec in self.specs:
            if spec.code != code or not spec.applies(resource_type, instance):
                continue
            ids = spec.extra.get("instance_ids")
            if ids is None:
                general = general or spec
            elif id is not None and id in ids:
                return spec
        return general

    def capability_entries(self, resource_type: str | None) -> list[dict[str, Any]]:
        """`{"name", "definition"}` for the system level (None) or one resource type."""
        seen: dict[str, dict[str, Any]] = {}
        for spec in self.specs:
            hit = (
                spec.system
                if resource_type is None
                else (
                    (spec.type_level or spec.instance)
                    and ("*" in spec.resource_types or resource_type in spec.resource_types)
                )
            )
            if hit:
                # one entry per definition: per-instance specs (`instance_ids`) share a code
                key = spec.code if "instance_ids" not in spec.extra else spec.definition
                seen.setdefault(key, {"name": spec.code, "definition": spec.definition})
        return list(seen.values())


def handle_operation(repo: FhirRepository, req: FhirRequest, route: Route) -> FhirResponse:
    registry: OperationRegistry = repo.components.operations
    assert route.operation
    code = route.operation.lstrip("$")
    spec = registry.find(code, route.resource_type, route.id is not None, route.id)
    if spec is None:
        where = route.resource_type or "the system level"
        raise E.FhirError(
            404, E.error("not-supported", f"Operation ${code} is not known at {where}")
        )
    method = "GET" if req.method == "HEAD" else req.method
    if method not in ("GET", "POST"):
        raise E.method_not_allowed(f"${code} is invoked with GET or POST")
    if method == "GET" and spec.affects_state:
        raise E.method_not_allowed(f"${code} changes state and must be invoked with POST")
    runs_as_system(spec.access, repo.ctx.principal, code, {})  # who may invoke: before parsing
    definition = registry.definitions.get(spec.definition)
    values = parse_body(req.body, definition) if method == "POST" else {}
    values_q = parse_query([(k, v) for k, v in req.query], definition)
    for name, items in values_q.items():
        values.setdefault(name, []).extend(items)
    check_against(values, definition, code)
    op_input = OperationInput(code, route.resource_type, route.id, values, method, req.body)
    # The operation's access policy (spec.access): 403 before anything runs; an aggregate
    # invocation runs as the system and answers without per-resident detail.
    if runs_as_system(spec.access, repo.ctx.principal, code, values):
        result = spec.handler(repo.as_system(f"aggregate:{code}"), op_input)
        if isinstance(result.resource, dict):
            result = dataclasses.replace(result, resource=aggregate_only(result.resource))
        return result
    return spec.handler(repo, op_input)
