"""`$export` at the system, Patient and Group levels, declared for the CapabilityStatement.

Spec: Bulk Data Access IG 2.0 (https://hl7.org/fhir/uv/bulkdata/export.html).  The asynchronous
request pattern needs HTTP headers and extra URLs (status, files), so the HTTP kick-off is served by
`fhir_server.bulk.router` (mounted before the FHIR catch-all); an `$export` that reaches the
generic operation dispatch (e.g. inside a batch) is refused with a pointer to it.
"""

from __future__ import annotations

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

_BASE = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"


def _not_here(_repo: FhirRepository, _input: OperationInput) -> FhirResponse:
    raise E.bad_request(
        "$export follows the asynchronous request pattern: send it as an HTTP request with "
        "'Prefer: respond-async' (not inside a batch)",
        "Prefer",
    )


OPERATIONS = [
    OperationSpec(
        "export",
        _BASE + "export",
        _not_here,
        system=True,
        affects_state=False,
        documentation="Bulk Data system-level export (NDJSON, asynchronous)",
    ),
    OperationSpec(
        "export",
        _BASE + "patient-export",
        _not_here,
        type_level=True,
        resource_types=("Patient",),
        affects_state=False,
        documentation="Bulk Data Patient-level export",
    ),
    OperationSpec(
        "export",
        _BASE + "group-export",
        _not_here,
        instance=True,
        resource_types=("Group",),
        affects_state=False,
        documentation="Bulk Data Group-level export",
    ),
]
