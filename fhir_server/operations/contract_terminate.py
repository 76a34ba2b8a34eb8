"""`Contract/{id}/$terminate`: end a contract early with a reason from contract-termination-reason
(OperationDefinition contract-terminate; docs/DATA-MODEL.md "Contract")."""

from __future__ import annotations

from ..domain.contracting.service import terminate
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .contract_sign import parse_date
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/contract-terminate"


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    bundle = terminate(repo, op.id, op.one("reason"), parse_date(op.one("date"), "date"))
    return FhirResponse(200, bundle)


OPERATIONS = [
    OperationSpec(
        "terminate",
        URL,
        _handle,
        instance=True,
        resource_types=("Contract",),
        documentation="Terminate a contract",
    ),
]
