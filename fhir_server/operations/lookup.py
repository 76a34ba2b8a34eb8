"""`CodeSystem/$lookup`: a concept's display, designations (zh and en) and properties.

Spec: http://hl7.org/fhir/R4/codesystem-operation-lookup.html.  Type level (`system` + `code`, or
`coding`) and instance level (`CodeSystem/<id>/$lookup?code=…`).  Properties returned: the concept's
own, `parent` and `child` codes, `definition`, `inactive`; the `property` parameter narrows them.
`displayLanguage=en` returns the English designation as `display`.  Unknown system or code → 404.
ICD-10 codes of the national clinical edition (`I10.x00`) are looked up by their category.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ._terminology import codes_of, designation_part, instance_resource, parameters, terminology
from .parameters import OperationInput
from .spec import OperationSpec

DEFINITION = "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"


def handle_lookup(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    refs = codes_of(op, concept=None)
    if not refs:
        raise E.bad_request(
            "$lookup needs 'code' and 'system', or 'coding'", "code", code="required"
        )
    ref = refs[0]
    codesystem: Any = instance_resource(repo, op)
    if codesystem is not None:
        if ref.system and ref.system != codesystem.get("url"):
            raise E.bad_request(f"'{ref.system}' is not the system of CodeSystem/{op.id}", "system")
    elif not ref.system:
        raise E.bad_request("$lookup needs the 'system' of the code", "system", code="required")
    else:
        codesystem = ref.system
    result = terminology(repo).lookup(
        codesystem,
        ref.code,
        version=ref.version,
        display_language=op.one("displayLanguage"),
        properties=[str(p) for p in op.all("property")],
    )
    out: list[tuple[str, dict[str, Any]]] = [("name", {"valueString": result.name})]
    if result.version:
        out.append(("version", {"valueString": result.version}))
    out.append(("display", {"valueString": result.display or result.code}))
    out += [("designation", designation_part(d)) for d in result.designations]
    for code, value in result.properties:
        out.append(
            (
                "property",
                {"part": [{"name": "code", "valueCode": code}, {"name": "value", **value}]},
            )
        )
    return parameters(out)


OPERATIONS = [
    OperationSpec(
        "lookup",
        DEFINITION,
        handle_lookup,
        type_level=True,
        instance=True,
        resource_types=("CodeSystem",),
        affects_state=False,
        documentation="Concept details (zh display, en designation, properties, parent/child)",
    )
]
