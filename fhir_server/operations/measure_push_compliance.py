"""`Measure/push-compliance/$evaluate-measure` (R4 OperationDefinition Measure-evaluate-measure):
push compliance per resident, team, institution or city over a period.  `subject` = `Patient/<id>`,
`CareTeam/<id>`, `Organization/<id>` or a GB/T 2260 code (e.g. `440100` 广州市 covers its districts);
absent = every contracted resident.  Returns a MeasureReport whose contained List `#shortfall` names
the residents falling short and what is missing (国卫办基层发〔2025〕21号（三）; 粤(三))."""

from __future__ import annotations

from datetime import date

from ..core import errors as E
from ..domain.pushes.compliance import measure_report, resident_results
from ..domain.pushes.content import load_library
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import AGGREGATE, OperationSpec

URL = "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"
MEASURE_ID = "push-compliance"


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
    start, end = (
        _date(op.one("periodStart"), "periodStart"),
        _date(op.one("periodEnd"), "periodEnd"),
    )
    if end < start:
        raise E.bad_request("periodEnd is before periodStart", "periodEnd")
    subject = op.one("subject")
    results = resident_results(repo, load_library(), start, end, str(subject) if subject else None)
    report = measure_report(results, start, end, subject, repo.components.clock.now())
    return FhirResponse(200, report)


OPERATIONS = [
    OperationSpec(
        "evaluate-measure",
        URL,
        _handle,
        instance=True,
        resource_types=("Measure",),
        affects_state=False,
        documentation="Push compliance (Measure/push-compliance): ≥ 12 pushes, topics, personalised",
        access=AGGREGATE,  # the commission gets the indicators, never the residents' names
    ),
]
