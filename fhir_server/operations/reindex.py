"""`$reindex` (system `POST /$reindex`, type `POST [type]/$reindex`): make SearchParameters added
through the API or shipped under profiles/ effective, and rebuild the search index.

OperationDefinition https://jiayi.health/fhir/OperationDefinition/reindex (profiles/operations).
Spec background: http://hl7.org/fhir/R4/searchparameter.html.  The registry is rebuilt from the
R4 base set, the guide's parameters and every active SearchParameter stored in the database; the
database's registry version is bumped so every other worker reloads within a second
(`storage.sql.search_reindex.sync_registry`).  Then each live resource of the type(s) gets its
index rows recomputed.  A maintenance operation (`access=ADMIN`): administrators and
back-end clients with a `system/*` update scope only.
"""

from __future__ import annotations

from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ..storage.sql.search_reindex import reindex
from .parameters import OperationInput
from .spec import ADMIN, OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/reindex"


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    types = [op.resource_type] if op.resource_type else None
    if types:
        repo.check_type(types[0])
    report = reindex(repo.components.database, types)
    return FhirResponse(
        200,
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resources", "valueInteger": report.resources},
                {"name": "registryVersion", "valueInteger": report.registry_version},
                {"name": "searchParameters", "valueInteger": report.stored_parameters},
            ],
        },
    )


OPERATIONS = [
    OperationSpec(
        "reindex",
        URL,
        _handle,
        system=True,
        type_level=True,
        resource_types=("*",),
        affects_state=True,
        documentation="Reload SearchParameters from the database and rebuild the search index",
        access=ADMIN,
    ),
]
