"""`Schedule/[id]/$referral-reserve`: tag the configured share of a schedule's slots as reserved for
referrals (`slot-reservation|referral`; 粤(四) 预留专家号源、住院床位比例; 国卫办基层发〔2025〕21号 一(四)).
Idempotent; the daily job `reserve-referral-slots` does the same for every active schedule.
OperationDefinition: profiles/operations/OperationDefinition-referral-reserve.json.
"""

from __future__ import annotations

from ..domain.referrals.capacity import load_policy, reserve_schedule
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput, parameters_resource
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/referral-reserve"


def handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    counts = reserve_schedule(repo, op.id, load_policy(repo.components))
    return FhirResponse(200, parameters_resource(counts))


OPERATIONS = [
    OperationSpec(
        "referral-reserve",
        URL,
        handle,
        instance=True,
        resource_types=("Schedule",),
        affects_state=True,
        documentation="Reserve the configured share of a schedule's slots for referrals",
    )
]
