"""`POST Communication/$alert`: record a climate-sensitive disease alert (粤(七)) for the next run of
the `pushes` job to fan out (OperationDefinition communication-alert)."""

from __future__ import annotations

from ..domain.alerts.service import post_alert
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/communication-alert"


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    request = post_alert(
        repo,
        areas=[str(a) for a in op.all("area")],
        populations=[str(p) for p in op.all("population")],
        topic=op.one("topic"),
        message=op.one("message"),
        effective=op.one("effective"),
    )
    return FhirResponse(201, request, {"Location": f"CommunicationRequest/{request['id']}"})


OPERATIONS = [
    OperationSpec(
        "alert",
        URL,
        _handle,
        type_level=True,
        resource_types=("Communication",),
        affects_state=True,
        documentation="Climate-sensitive disease alert by area and population, fanned out by the pushes job",
    ),
]
