"""`CodeSystem/$subsumes`: the relation of two codes in a code system's hierarchy.

Spec: http://hl7.org/fhir/R4/codesystem-operation-subsumes.html.  `codeA`/`codeB` with `system`
(or the instance), or `codingA`/`codingB`.  Outcome: equivalent | subsumes | subsumed-by |
not-subsumed.  ICD-10 codes nest by prefix (`I10` subsumes `I10.x00`).  Unknown system → 404, a code
the system does not define → 400.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ._terminology import as_coding, instance_resource, parameters, terminology
from .parameters import OperationInput
from .spec import OperationSpec

DEFINITION = "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes"


def _side(op: OperationInput, side: str) -> tuple[str | None, str]:
    code, coding = op.one(f"code{side}"), op.one(f"coding{side}")
    if code is not None:
        return None, str(code)
    if coding is not None:
        c = as_coding(coding, f"coding{side}")
        if c.get("code"):
            return c.get("system"), str(c["code"])
    raise E.bad_request(
        f"$subsumes needs 'code{side}' or 'coding{side}'", f"code{side}", code="required"
    )


def handle_subsumes(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    system_a, code_a = _side(op, "A")
    system_b, code_b = _side(op, "B")
    codesystem: Any = instance_resource(repo, op)
    url = codesystem.get("url") if codesystem else op.one("system")
    systems = {s for s in (url, system_a, system_b) if s}
    if len(systems) > 1:
        raise E.bad_request(
            f"Both codes must be of one code system, not {sorted(systems)}", "system"
        )
    if codesystem is None:
        if not systems:
            raise E.bad_request("$subsumes needs 'system'", "system", code="required")
        codesystem = systems.pop()
    outcome = terminology(repo).subsumes(codesystem, code_a, code_b, version=op.one("version"))
    return parameters([("outcome", {"valueCode": outcome.value})])


OPERATIONS = [
    OperationSpec(
        "subsumes",
        DEFINITION,
        handle_subsumes,
        type_level=True,
        instance=True,
        resource_types=("CodeSystem",),
        affects_state=False,
        documentation="Subsumption test (ICD-10 codes nest by prefix)",
    )
]
