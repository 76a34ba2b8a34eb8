"""`Patient/{id}/$key-populations`: the key populations (INTERFACE.md; 附件2) the resident belongs
to at `date` (default today), each with its evidence (OperationDefinition patient-key-populations).

Output: one `population` part per membership: `code` (Coding), `evidence` parts (`kind`,
`detail`, `reference`); `candidate` parts for codes that need confirmation (F06, F70–F79).
"""

from __future__ import annotations

from typing import Any

from ..domain.populations import service as populations
from ..domain.populations.rules import Evidence
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .contract_sign import parse_date
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/patient-key-populations"


def _evidence(name: str, ev: Evidence) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "kind", "valueCode": ev.kind},
        {"name": "detail", "valueString": ev.detail},
    ]
    if ev.reference:
        parts.append({"name": "reference", "valueReference": {"reference": ev.reference}})
    return {"name": name, "part": parts}


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    patient = repo.read("Patient", op.id).content or {}
    on = parse_date(op.one("date"), "date") or repo.components.clock.now().date()
    memberships, record = populations.key_populations(repo, patient, on)
    params: list[dict[str, Any]] = [
        {
            "name": "population",
            "part": [{"name": "code", "valueCoding": m.coding()}]
            + [_evidence("evidence", e) for e in m.evidence],
        }
        for m in memberships
    ]
    params += [_evidence("candidate", e) for e in record.candidates]
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": params})


OPERATIONS = [
    OperationSpec(
        "key-populations",
        URL,
        _handle,
        instance=True,
        resource_types=("Patient",),
        affects_state=False,
        documentation="Key populations derived from the record, with evidence",
    ),
]
