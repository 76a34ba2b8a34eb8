"""`Organization/[id]/$referral-report`: reserved vs used vs released slots and beds, referral counts up
and down, waiting time referral → appointment and acknowledgement time of downward feedback, for one
hospital and period (粤(四); 国卫办基层发〔2025〕21号 一(四)).  Logic: domain/referrals/report.py.
OperationDefinition: profiles/operations/OperationDefinition-referral-report.json.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..core import errors as E
from ..domain.referrals import rules as R
from ..domain.referrals.report import build_report
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/referral-report"


def _bound(value: object, name: str) -> datetime:
    try:
        parsed = R.parse_instant(str(value))
    except ValueError:
        parsed = None
    if parsed is None:
        raise E.bad_request(f"'{name}' must be a date or dateTime, not '{value}'", name)
    return parsed


def handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    repo.read("Organization", op.id)
    start = _bound(op.one("start"), "start")
    end = _bound(op.one("end"), "end")
    if len(str(op.one("end"))) == 10:  # a date names the whole day
        end = end + timedelta(days=1)
    if end <= start:
        raise E.bad_request("'end' must come after 'start'", "end")
    report = build_report(repo, f"Organization/{op.id}", start, end)
    return FhirResponse(200, report.as_parameters())


OPERATIONS = [
    OperationSpec(
        "referral-report",
        URL,
        handle,
        instance=True,
        resource_types=("Organization",),
        affects_state=False,
        documentation="Referral and reserved-capacity report of one hospital for a period",
    )
]
