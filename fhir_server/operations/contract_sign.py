"""`Contract/$sign` (type level): sign a resident or a family with a team or doctor at a primary
institution; returns a transaction-response Bundle (OperationDefinition contract-sign; issue 6)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..core import errors as E
from ..domain.contracting.service import SignRequest, sign
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from . import _planning
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/contract-sign"


def reference(value: Any, name: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return value["reference"]
    if isinstance(value, str):
        return value
    raise E.bad_request(f"'{name}' must be a Reference", name)


def parse_date(value: Any, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise E.bad_request(f"'{name}' must be a date", name) from exc


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    family = op.one("family")
    req = SignRequest(
        subjects=[reference(v, "subject") for v in op.all("subject")],
        family=reference(family, "family") if family is not None else None,
        care_team=reference(op.one("careTeam"), "careTeam") if op.one("careTeam") else None,
        practitioner_role=reference(op.one("practitionerRole"), "practitionerRole")
        if op.one("practitionerRole")
        else None,
        term=op.one("term", 1),
        start=parse_date(op.one("start"), "start"),
        packages=[str(v) for v in op.all("package")],
        items=[str(v) for v in op.all("item")],
        channel=op.one("channel"),
        consent=op.one("consent"),
        transfer=bool(op.one("transfer", False)),
    )
    return FhirResponse(200, sign(repo, req, _planning.plan_member))


OPERATIONS = [
    OperationSpec(
        "sign",
        URL,
        _handle,
        type_level=True,
        resource_types=("Contract",),
        documentation="Sign a family-doctor contract",
    ),
]
