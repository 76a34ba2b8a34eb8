"""`CareTeam/[id]/$referral-worklist`: the team's downward referrals still waiting for acknowledgement
(粤(四) 及时向基层机构反馈下转患者信息), oldest first, each Task with its ServiceRequest.  The same list
is a plain search: `Task?owner=CareTeam/<id>&code=<referral-direction>|down&status=requested,received
&_include=Task:focus`; acknowledging is a status change of the Task (PUT/PATCH).
OperationDefinition: profiles/operations/OperationDefinition-referral-worklist.json.
"""

from __future__ import annotations

from ..domain.referrals import service as S
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/referral-worklist"


def handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    repo.read("CareTeam", op.id)
    tasks = S.worklist(repo, f"CareTeam/{op.id}")
    entries = []
    for task in tasks:
        entries.append({"resource": task, "search": {"mode": "match"}})
        referral = S.load(repo, (task.get("focus") or {}).get("reference"), "ServiceRequest")
        if referral is not None:
            entries.append({"resource": referral, "search": {"mode": "include"}})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(tasks), "entry": entries}
    return FhirResponse(200, bundle)


OPERATIONS = [
    OperationSpec(
        "referral-worklist",
        URL,
        handle,
        instance=True,
        resource_types=("CareTeam",),
        affects_state=False,
        documentation="Pending downward referrals of a family-doctor team until acknowledged",
    )
]
