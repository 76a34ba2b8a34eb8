"""`Patient/[id]/$summary`: the resident's summary document (a document Bundle with an
IPS-style Composition: `domain.sync.summary`), built from the record the caller may read.  Only
for the resident's own patient-scoped token — the same
document the health-record store receives (`adapters/health_record`)."""

from __future__ import annotations

from ..domain.sync.record import check_record_access, patient_record
from ..domain.sync.summary import summary_document, summary_table
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/patient-summary"


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id is not None
    check_record_access(repo.ctx.principal, op.id, "summary")
    table = summary_table()
    types = sorted(table.resource_types)
    record = patient_record(repo, op.id, types=["Patient", *types])
    patient, rest = record[0], record[1:]
    document = summary_document(
        patient, rest, base_url=repo.ctx.base_url, now=repo.components.clock.now(), table=table
    )
    return FhirResponse(200, document)


OPERATIONS = [
    OperationSpec(
        "summary",
        URL,
        _handle,
        instance=True,
        resource_types=("Patient",),
        affects_state=False,
        documentation="The resident's summary document (IPS style; patient-scoped token, admin)",
    ),
]
