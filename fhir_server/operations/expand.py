"""`ValueSet/$expand`: the codes of a value set, filtered and paged.

Spec: http://hl7.org/fhir/R4/valueset-operation-expand.html.  The value set is the instance
(`ValueSet/<id>/$expand`), `valueSet` in the body (or the body itself), or `url` (+
`valueSetVersion`).  `filter` matches code, Chinese display, English designation or pinyin
(case-insensitive); `offset`/`count` page with `expansion.total` and `expansion.offset`;
`displayLanguage` `zh` (default) or `en`; `activeOnly`; `includeDesignations`.  Unknown `url` → 404;
a value set this server cannot evaluate → 400.
"""

from __future__ import annotations

from uuid import uuid4

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ._terminology import body_resource, instance_resource, now, terminology
from .parameters import OperationInput
from .spec import OperationSpec

DEFINITION = "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"


def _non_negative(op: OperationInput, name: str) -> int | None:
    value = op.one(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise E.bad_request(f"'{name}' must be a non-negative integer", name)
    return value


def handle_expand(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    valueset = instance_resource(repo, op) or body_resource(op, "valueSet", "ValueSet")
    if valueset is None:
        url = op.one("url")
        if not url:
            raise E.bad_request(
                "$expand needs 'url', 'valueSet' or a ValueSet instance", "url", code="required"
            )
        version = op.one("valueSetVersion")
        ref: str | dict = f"{url}|{version}" if version else str(url)
    else:
        ref = valueset
    language = op.one("displayLanguage")
    designations = bool(op.one("includeDesignations", False))
    expansion = terminology(repo).expand(
        ref,
        filter=op.one("filter"),
        offset=_non_negative(op, "offset") or 0,
        count=_non_negative(op, "count"),
        display_language=language,
        active_only=bool(op.one("activeOnly", False)),
        include_designations=designations,
    )
    resource = expansion.to_valueset(
        identifier=f"urn:uuid:{uuid4()}",
        timestamp=now(repo),
        display_language=language,
        include_designations=designations,
    )
    return FhirResponse(200, resource)


OPERATIONS = [
    OperationSpec(
        "expand",
        DEFINITION,
        handle_expand,
        type_level=True,
        instance=True,
        resource_types=("ValueSet",),
        affects_state=False,
        documentation="Expansion with Chinese/English/pinyin filter and paging",
    )
]
