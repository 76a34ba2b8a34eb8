"""`ValueSet/$validate-code` and `CodeSystem/$validate-code`.

Spec: http://hl7.org/fhir/R4/valueset-operation-validate-code.html and
http://hl7.org/fhir/R4/codesystem-operation-validate-code.html.  The code comes as `code` (+ `system`
and `display`), `coding` or `codeableConcept` (valid when one of its codings is).  Output: `result`,
`message` (why not, or a warning such as a display that does not match — the code stays valid),
`display` (the expected one, in `displayLanguage`).  An unknown value set or code system → 404; a
code system this server cannot check → `result` false with a message saying so.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ..terminology.model import ValidationResult
from ._terminology import (
    CodeRef,
    body_resource,
    codes_of,
    instance_resource,
    parameters,
    terminology,
)
from .parameters import OperationInput
from .spec import OperationSpec

VS_DEFINITION = "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code"
CS_DEFINITION = "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code"


def _codes(op: OperationInput, system_param: str) -> list[CodeRef]:
    refs = codes_of(op, system=system_param)
    if not refs:
        raise E.bad_request(
            f"${op.code} needs 'code', 'coding' or 'codeableConcept'", "code", code="required"
        )
    return refs


def _respond(results: list[ValidationResult]) -> FhirResponse:
    chosen = next((r for r in results if r.result), None)
    if chosen is None:
        messages = [r.message for r in results if r.message]
        chosen = ValidationResult(False, "; ".join(messages) or None)
    out: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": chosen.result})]
    if chosen.message:
        out.append(("message", {"valueString": chosen.message}))
    if chosen.display:
        out.append(("display", {"valueString": chosen.display}))
    return parameters(out)


def handle_valueset_validate(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    valueset: Any = instance_resource(repo, op) or body_resource(op, "valueSet", "ValueSet")
    if valueset is None:
        url = op.one("url")
        if not url:
            raise E.bad_request(
                "$validate-code needs 'url', 'valueSet' or a ValueSet instance",
                "url",
                code="required",
            )
        version = op.one("valueSetVersion")
        valueset = f"{url}|{version}" if version else str(url)
    tx = terminology(repo)
    language = op.one("displayLanguage")
    results = [
        tx.validate_code(valueset, r.system, r.code, r.display, display_language=language)
        for r in _codes(op, "system")
    ]
    return _respond(results)


def handle_codesystem_validate(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    refs = _codes(op, "url")
    codesystem: Any = instance_resource(repo, op) or body_resource(op, "codeSystem", "CodeSystem")
    if codesystem is None:
        codesystem = op.one("url") or next((r.system for r in refs if r.system), None)
        if not codesystem:
            raise E.bad_request(
                "$validate-code needs 'url', 'codeSystem', a coding's system or a CodeSystem instance",
                "url",
                code="required",
            )
    url = codesystem if isinstance(codesystem, str) else codesystem.get("url")
    tx = terminology(repo)
    language = op.one("displayLanguage")
    results = []
    for ref in refs:
        if ref.system and url and ref.system != url:
            why = f"The coding's system '{ref.system}' is not the code system '{url}'"
            results.append(ValidationResult(False, why))
            continue
        results.append(
            tx.validate_in_code_system(
                codesystem,
                ref.code,
                ref.display,
                version=op.one("version"),
                display_language=language,
            )
        )
    return _respond(results)


OPERATIONS = [
    OperationSpec(
        "validate-code",
        VS_DEFINITION,
        handle_valueset_validate,
        type_level=True,
        instance=True,
        resource_types=("ValueSet",),
        affects_state=False,
        documentation="Is the code in the value set (ICD-10 by category prefix)",
    ),
    OperationSpec(
        "validate-code",
        CS_DEFINITION,
        handle_codesystem_validate,
        type_level=True,
        instance=True,
        resource_types=("CodeSystem",),
        affects_state=False,
        documentation="Is the code defined by the code system",
    ),
]
