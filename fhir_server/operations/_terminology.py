"""Shared plumbing of the terminology operations ($lookup, $expand, $validate-code, $translate,
$subsumes): building the engine for a request, reading codes from the input, writing Parameters.

Spec: http://hl7.org/fhir/R4/terminology-service.html.  The engine is `fhir_server.terminology`;
its source is the database (read through the request's `FhirRepository`) before the package data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core import errors as E
from ..core.clock import fhir_instant
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ..terminology import ChainSource, SearchSource, TerminologyService, package_source
from ..terminology.model import Designation
from .parameters import OperationInput


def terminology(repo: FhirRepository) -> TerminologyService:
    """The engine for one request: database first, then the guide's and R4's package data.

    When the composition root provides a shared source (`components.terminology_source`), it is
    used in place of the process-wide package data."""
    shared = getattr(repo.components, "terminology_source", None)
    return TerminologyService(ChainSource(SearchSource(repo), shared or package_source()))


def now(repo: FhirRepository) -> str:
    return fhir_instant(repo.components.clock.now())


@dataclass(frozen=True)
class CodeRef:
    system: str | None
    code: str
    display: str | None = None
    version: str | None = None


def as_coding(value: Any, name: str) -> dict[str, Any]:
    """A Coding from a POST body, or `system|code` from a GET query string."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        system, sep, code = value.rpartition("|")
        return {"system": system, "code": code} if sep else {"code": value}
    raise E.bad_request(f"'{name}' must be a Coding", name)


def codes_of(
    op: OperationInput,
    *,
    code: str = "code",
    system: str = "system",
    version: str = "version",
    coding: str = "coding",
    concept: str | None = "codeableConcept",
) -> list[CodeRef]:
    """The codes an operation was asked about: code+system, a Coding, or a CodeableConcept's codings."""
    refs: list[CodeRef] = []
    if op.one(code) is not None:
        refs.append(CodeRef(op.one(system), str(op.one(code)), op.one("display"), op.one(version)))
    if op.one(coding) is not None:
        c = as_coding(op.one(coding), coding)
        if not c.get("code"):
            raise E.bad_request(f"'{coding}' has no code", coding)
        refs.append(CodeRef(c.get("system"), str(c["code"]), c.get("display"), c.get("version")))
    if concept and op.one(concept) is not None:
        cc = op.one(concept)
        if not isinstance(cc, Mapping):
            raise E.bad_request(f"'{concept}' must be a CodeableConcept", concept)
        for c in cc.get("coding") or []:
            if isinstance(c, Mapping) and c.get("code"):
                refs.append(
                    CodeRef(c.get("system"), str(c["code"]), c.get("display"), c.get("version"))
                )
    return refs


def instance_resource(repo: FhirRepository, op: OperationInput) -> dict[str, Any] | None:
    """At instance level, the resource the URL names (404/410 as for a read)."""
    if op.id is None or op.resource_type is None:
        return None
    return repo.read(op.resource_type, op.id).content


def body_resource(op: OperationInput, name: str, resource_type: str) -> dict[str, Any] | None:
    """A resource passed as parameter `name`, or as the whole POST body."""
    for value in (op.one(name), op.one("resource")):
        if value is None:
            continue
        if not isinstance(value, Mapping) or value.get("resourceType") != resource_type:
            raise E.bad_request(f"'{name}' must be a {resource_type} resource", name)
        return dict(value)
    return None


def parameters(items: list[tuple[str, dict[str, Any]]]) -> FhirResponse:
    """(name, typed value or parts) pairs → 200 Parameters."""
    return FhirResponse(
        200,
        {"resourceType": "Parameters", "parameter": [{"name": n, **v} for n, v in items]},
    )


def designation_part(d: Designation) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if d.language:
        parts.append({"name": "language", "valueCode": d.language})
    if d.use:
        parts.append({"name": "use", "valueCoding": d.use})
    parts.append({"name": "value", "valueString": d.value})
    return {"part": parts}


def coding_value(system: str | None, code: str | None, display: str | None) -> dict[str, Any]:
    coding = {k: v for k, v in (("system", system), ("code", code), ("display", display)) if v}
    return {"valueCoding": coding}
