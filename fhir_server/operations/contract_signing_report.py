"""`$signing-report` on Organization, CareTeam and PractitionerRole instances (OperationDefinition
signing-report; issue 6 "doctor reports"): an operation, not a MeasureReport — the answer is a
`Parameters` with one `doctor` part per signing doctor (panel size, resident-years begun, the
signing-fee remuneration of 10 yuan per resident-year, 附件1 备注2; sinking doctors flagged with
the hospital they come from), one `team` part per family-doctor team (panel size), one `channel`
part per signing channel (contracts and residents signed in the period), and the totals.
`periodStart`/`periodEnd` (dates) default to the current calendar year."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.contracting import reports
from ..domain.contracting import rules as R
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .contract_sign import parse_date
from .parameters import OperationInput
from .spec import AGGREGATE, OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/signing-report"


def _money(value: Any) -> dict[str, Any]:
    return {"value": float(value), "currency": "CNY"}


def _doctor(d: R.DoctorLine) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "practitionerRole", "valueReference": {"reference": d.role}},
    ]
    if d.practitioner:
        parts.append({"name": "practitioner", "valueReference": {"reference": d.practitioner}})
    parts.append({"name": "sinking", "valueBoolean": d.sinking_from is not None})
    if d.sinking_from:
        parts.append({"name": "sinkingFrom", "valueReference": {"reference": d.sinking_from}})
    parts += [
        {"name": "panelSize", "valueInteger": d.panel},
        {"name": "residentYears", "valueInteger": d.resident_years},
        {"name": "signingFee", "valueMoney": _money(d.fee)},
    ]
    return {"name": "doctor", "part": parts}


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None and op.resource_type is not None
    year = repo.components.clock.now().date().year
    start = parse_date(op.one("periodStart"), "periodStart") or date(year, 1, 1)
    end = parse_date(op.one("periodEnd"), "periodEnd") or date(year, 12, 31)
    report = reports.signing_report(repo, op.resource_type, op.id, start, end)
    params: list[dict[str, Any]] = [
        {"name": "period", "valuePeriod": {"start": start.isoformat(), "end": end.isoformat()}},
        {"name": "panelSize", "valueInteger": report.panel},
        {"name": "signingFee", "valueMoney": _money(report.fee)},
    ]
    params += [_doctor(d) for d in report.doctors]
    params += [
        {
            "name": "team",
            "part": [
                {"name": "careTeam", "valueReference": {"reference": team}},
                {"name": "panelSize", "valueInteger": size},
            ],
        }
        for team, size in report.teams
    ]
    params += [
        {
            "name": "channel",
            "part": [
                {
                    "name": "code",
                    "valueCoding": {"system": R.SIGNING_CHANNEL, "code": code}
                    if code in R.CHANNELS
                    else {"code": code},
                },
                {"name": "contracts", "valueInteger": n},
                {"name": "residents", "valueInteger": residents},
            ],
        }
        for code, n, residents in report.channels
    ]
    return FhirResponse(200, {"resourceType": "Parameters", "parameter": params})


OPERATIONS = [
    OperationSpec(
        "signing-report",
        URL,
        _handle,
        instance=True,
        resource_types=("Organization", "CareTeam", "PractitionerRole"),
        affects_state=False,
        documentation="Panel size, signings by channel and signing-fee remuneration per doctor",
        access=AGGREGATE,  # the health commission sees the counts, never a resident
    ),
]
