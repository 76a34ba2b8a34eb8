"""`Patient/{id}/$push-plan-preview[?date=D]`: the resident's push plan for the contract year holding
D (国卫办基层发〔2025〕21号（三）; 粤(三)): the persisted plan once the pushes job has planned the
year (with which slots are created), else the plan its next run would make; nothing is written
(OperationDefinition push-plan-preview)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..core import errors as E
from ..domain.pushes import messages as M
from ..domain.pushes.content import load_library
from ..domain.pushes.record import RecordKeyPopulations
from ..domain.pushes.service import PushService
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
    library = load_library()
    service = PushService(repo, library, RecordKeyPopulations(), plans=repo.components.push_plans)
    preview = service.preview(op.id, on)
    plan = preview.plan
    by_id = library.by_id()
    params: list[dict[str, Any]] = [
        {"name": "contract", "valueReference": {"reference": f"Contract/{plan.contract_id}"}},
        {"name": "yearStart", "valueDate": plan.year_start.isoformat()},
        {"name": "yearEnd", "valueDate": (plan.year_end - timedelta(days=1)).isoformat()},
        {"name": "persisted", "valueBoolean": preview.persisted},
    ]
    params += [{"name": "populations", "valueCode": c} for c in sorted(preview.populations)]
    for slot in plan.slots:
        push = M.planned_push(
            patient_id=op.id,
            contract_id=plan.contract_id,
            care_plan_id=plan.care_plan_id,
            year_start=plan.year_start,
            slot=slot.index,
            due=slot.due,
            item=by_id[slot.item],
            personalised=slot.personalised,
            sender=plan.sender,
            term=slot.term,
        )
        parts: list[dict[str, Any]] = [
            {"name": "month", "valueInteger": slot.index + 1},
            {"name": "start", "valueDate": slot.start.isoformat()},
            {"name": "due", "valueDate": slot.due.isoformat()},
        ]
        if slot.term:
            parts.append({"name": "solarTerm", "valueCode": slot.term})
        parts += [
            {"name": "personalised", "valueBoolean": slot.personalised},
            {"name": "sent", "valueBoolean": plan.created(slot.index)},
            {"name": "communication", "resource": push.materialise()},
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
