"""`Appointment/$book`: convenience over the standard booking, which stays `POST Appointment` naming the
slot (INTERFACE.md).  Input: `referral` (the upward ServiceRequest) and `slot`; the Appointment is
built from them (patient = the referral's subject, start/end = the slot's, basedOn = the referral;
into a reserved slot it claims the guide's `jiayi-referral-appointment` profile) and created through
the repository, so the same write rules decide: 201 with the Appointment, 409
when the slot is taken, 422 when a reserved slot may not be used (an urgent referral past the
contract check: 201 with a warning, in a Bundle entry's `response.outcome`).
OperationDefinition: profiles/operations/OperationDefinition-appointment-book.json.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..domain.referrals import rules as R
from ..domain.referrals import service as S
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/appointment-book"


def _ref(value: Any, name: str, resource_type: str) -> str:
    reference = value.get("reference") if isinstance(value, dict) else value
    rid = S.ref_id(reference if isinstance(reference, str) else None, resource_type)
    if rid is None:
        raise E.bad_request(f"'{name}' must reference a {resource_type}", name)
    return rid


def handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    referral = repo.read(
        "ServiceRequest", _ref(op.one("referral"), "referral", "ServiceRequest")
    ).content
    slot = repo.read("Slot", _ref(op.one("slot"), "slot", "Slot")).content
    assert referral is not None and slot is not None
    participants = (
        [{"actor": referral["subject"], "status": "accepted"}] if referral.get("subject") else []
    )
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "basedOn": [{"reference": f"ServiceRequest/{referral['id']}"}],
        "start": slot.get("start"),
        "end": slot.get("end"),
        "participant": participants,
    }
    if R.is_reserved(slot):  # the guide's profile of a booking into reserved capacity
        appointment["meta"] = {"profile": [R.REFERRAL_APPOINTMENT_PROFILE]}
    if op.one("comment"):
        appointment["comment"] = op.one("comment")
    result = repo.create("Appointment", appointment)
    created = result.record
    location = f"Appointment/{created.id}/_history/{created.version_id}"
    # the rules' warnings (an emergency booked past the contract check) ride along: in a Bundle
    # the entry's response.outcome
    return FhirResponse(201, created.content, {"Location": location}, list(result.issues))


OPERATIONS = [
    OperationSpec(
        "book",
        URL,
        handle,
        type_level=True,
        resource_types=("Appointment",),
        affects_state=True,
        documentation="Book a referral into a slot (a convenience over POST Appointment)",
    )
]
