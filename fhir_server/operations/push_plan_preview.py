"""`Patient/{id}/$push-plan-preview[?date=D]`: the resident's push plan for the contract year holding
D (国卫办基层发〔2025〕21号（三）; 粤(三)); nothing is written (OperationDefinition push-plan-preview)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..core import errors as E
from ..domain.pushes import messages as M
from ..domain.pushes.content import load_library
from ..domain.pushes.record import RecordKeyPopulations
from ..domain.pushes.service import PushService, contract_team
from ..domain.pushes.solar_terms import CHINA_TZ
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/push-plan-preview"


def _date(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise E.bad_request(f"'{value}' is not a date (YYYY-MM-DD)", "date") from exc


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    repo.read("Patient", op.id)
    on = _date(op.one("date")) or repo.components.clock.now().astimezone(CHINA_TZ).date()
    populations = RecordKeyPopulations()
    service = PushService(repo, load_library(), populations)
    plan, record = service.preview(op.id, on)
    params: list[dict[str, Any]] = [
        {"name": "contract", "valueReference": {"reference": f"Contract/{plan.contract['id']}"}},
        {"name": "yearStart", "valueDate": plan.year_start.isoformat()},
    ]
    params += [{"name": "populations", "valueCode": c} for c in sorted(populations.of(record, on))]
    for push in plan.plan:
        body = M.planned_push(
            patient_id=op.id,
            contract_id=plan.contract["id"],
            care_plan_id=plan.care_plan["id"],
            year_start=plan.year_start,
            slot=push.slot.index,
            due=push.slot.due,
            item=push.item,
            personalised=push.personalised,
            sender=contract_team(plan.contract),
        )
        parts: list[dict[str, Any]] = [
            {"name": "month", "valueInteger": push.slot.index + 1},
            {"name": "due", "valueDate": push.slot.due.isoformat()},
        ]
        parts += [{"name": "solarTerm", "valueCode": t} for t in sorted(push.slot.terms)]
        parts += [
            {"name": "personalised", "valueBoolean": push.personalised},
            {"name": "sent", "valueBoolean": push.slot.index in plan.sent},
            {"name": "communication", "resource": body},
        ]
        params.append({"name": "push", "part": parts})
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": params})


OPERATIONS = [
    OperationSpec(
        "push-plan-preview",
        URL,
        _handle,
        instance=True,
        resource_types=("Patient",),
        affects_state=False,
        documentation="The resident's health-push plan for a contract year (nothing written)",
    ),
]
