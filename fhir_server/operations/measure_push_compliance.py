"""`Measure/push-compliance/$evaluate-measure` (R4 Measure-evaluate-measure plus `reporter`, as
OperationDefinition push-compliance-evaluate-measure): push compliance per resident, team,
institution or city over a period (国卫办基层发〔2025〕21号（三）; 粤(三)).  `subject` =
`Patient/<id>`, `CareTeam/<id>`, `Organization/<id>` or a GB/T 2260 code (e.g. `440100` 广州市
covers its districts); `reporter` = `Organization/<id>` or a GB/T 2260 code; neither = every
contracted resident.  `reportType` population | subject-list | subject.  How residents are
counted (by overlap, alerts excluded): `domain/pushes/compliance.py`."""

from __future__ import annotations

from datetime import date

from ..core import errors as E
from ..domain.pushes.compliance import evaluate, measure_report, selection
from ..domain.pushes.content import load_library
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import AGGREGATE, OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/push-compliance-evaluate-measure"
MEASURE_ID = "push-compliance"
REPORT_TYPES = ("population", "subject-list", "subject")


def _date(value: object, name: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise E.bad_request(f"{name} '{value}' is not a date (YYYY-MM-DD)", name) from exc


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    if op.id != MEASURE_ID:
        raise E.FhirError(
            404,
            E.error("not-supported", f"$evaluate-measure is implemented for Measure/{MEASURE_ID}"),
        )
    repo.read("Measure", op.id)
    start = _date(op.one("periodStart"), "periodStart")
    end = _date(op.one("periodEnd"), "periodEnd")
    if end < start:
        raise E.bad_request("periodEnd is before periodStart", "periodEnd")
    if op.one("practitioner") is not None:
        raise E.bad_request(
            "practitioner is not supported: give subject=CareTeam/<id>", "practitioner"
        )
    report_type = str(op.one("reportType") or "population")
    if report_type not in REPORT_TYPES:
        raise E.bad_request(
            f"reportType must be one of {', '.join(REPORT_TYPES)}, not '{report_type}'",
            "reportType",
        )
    subject, reporter = op.one("subject"), op.one("reporter")
    chosen = selection(str(subject) if subject else None, str(reporter) if reporter else None)
    if report_type == "subject" and chosen.kind != "Patient":
        raise E.bad_request("reportType subject needs subject=Patient/<id>", "reportType")
    tally = evaluate(
        repo, load_library(), start, end, chosen, keep_members=report_type == "subject-list"
    )
    report = measure_report(tally, start, end, chosen, repo.components.clock.now(), report_type)
    return FhirResponse(200, report)


OPERATIONS = [
    OperationSpec(
        "evaluate-measure",
        URL,
        _handle,
        instance=True,
        resource_types=("Measure",),
        affects_state=False,
        documentation="Push compliance (Measure/push-compliance): pushes due by month, topics, "
        "personalised; per resident, team, institution or city",
        access=AGGREGATE,  # the commission gets the indicators, never the residents' names
    ),
]
