"""`$fulfillment` on Contract, CareTeam and Organization instances: what was promised and what was
delivered by `date` (default today) — `rate` (decimal 0–1) and one `activity` part per required
activity with `code`, `due`, `done`, `overdue` (and `declined`).  Rules: domain.fulfilment.rules."""

from __future__ import annotations

from typing import Any

from ..domain.fulfilment import rules, service
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .contract_sign import parse_date
from .parameters import OperationInput
from .spec import AGGREGATE, OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/fulfillment"


def _activity(t: rules.Tally) -> dict[str, Any]:
    return {
        "name": "activity",
        "part": [
            {
                "name": "code",
                "valueCodeableConcept": {
                    "coding": [{"system": rules.SERVICE_ITEM, "code": t.code}],
                    "text": t.title,
                },
            },
            {"name": "due", "valueInteger": t.due},
            {"name": "done", "valueInteger": t.done},
            {"name": "overdue", "valueInteger": t.overdue},
            {"name": "declined", "valueInteger": t.declined},
        ],
    }


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None and op.resource_type is not None
    on = parse_date(op.one("date"), "date") or repo.components.clock.now().date()
    tallies = service.fulfilment(repo, op.resource_type, op.id, on)
    params = [{"name": "rate", "valueDecimal": rules.rate(tallies)}] + [
        _activity(t) for t in tallies
    ]
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": params})


OPERATIONS = [
    OperationSpec(
        "fulfillment",
        URL,
        _handle,
        instance=True,
        resource_types=("Contract", "CareTeam", "Organization"),
        affects_state=False,
        documentation="Promised vs. delivered services",
        access=AGGREGATE,  # the health commission sees the counts, never a resident
    ),
]
