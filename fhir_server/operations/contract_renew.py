"""`Contract/{id}/$renew`: the next period, key populations re-derived, new CarePlans
(OperationDefinition contract-renew; 粤(十) yearly confirmation and renewal)."""

from __future__ import annotations

from ..domain.contracting.service import renew
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from . import _planning
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/contract-renew"


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    bundle = renew(
        repo,
        op.id,
        op.one("term", 1),
        [str(v) for v in op.all("package")],
        _planning.plan_member,
        consent=op.one("consent"),
    )
    return FhirResponse(200, bundle)


OPERATIONS = [
    OperationSpec(
        "renew",
        URL,
        _handle,
        instance=True,
        resource_types=("Contract",),
        documentation="Renew a contract for the next period",
    ),
]
