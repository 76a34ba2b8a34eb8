"""`ServiceRequest/[id]/$referral-alternatives`: free slots the target hospital can offer a referral,
reserved ones first, then public ones (粤(四) 家庭医生转诊绿色通道).  A hospital without free reserved
capacity rejects or holds its Task and names alternatives in `Task.output`
(type `referral-marker|alternative`); the referring team receives them in the notification.
OperationDefinition: profiles/operations/OperationDefinition-referral-alternatives.json.
"""

from __future__ import annotations

from ..domain.referrals import service as S
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/referral-alternatives"


def handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    referral = repo.read("ServiceRequest", op.id).content or {}
    count = int(op.one("count", 5))
    slots = S.alternatives(repo, referral, limit=max(1, min(count, 50)))
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(slots),
        "entry": [{"resource": s, "search": {"mode": "match"}} for s in slots],
    }
    return FhirResponse(200, bundle)


OPERATIONS = [
    OperationSpec(
        "referral-alternatives",
        URL,
        handle,
        instance=True,
        resource_types=("ServiceRequest",),
        affects_state=False,
        documentation="Free slots the target hospital can offer a referral (reserved first)",
    )
]
