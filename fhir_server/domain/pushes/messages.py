"""The push `Communication` (docs/DATA-MODEL.md "Pushes"; issue 7): `subject` and `recipient` the
resident, `basedOn` the CarePlan (and the alert's CommunicationRequest), `category` the push-topic
codes plus `push-kind`, `payload.contentString` the text, `instantiatesCanonical` the library item,
`identifier` the plan slot.  Delivery status lives on the same resource: `status`, `sent`,
`received`, `medium` (push-channel) and `statusReason` (push-delivery-reason) on failure or opt-out.
Ids are derived from what the push is for, so re-running or resuming a job never duplicates one.
Pure functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ...core.clock import fhir_instant
from .content import KIND_SYSTEM, TOPIC_SYSTEM, ContentItem
from .ports import DeliveryReceipt
from .record import CHANNEL_SYSTEM

SLOT_SYSTEM = "https://jiayi.health/fhir/sid/push-slot"
REASON_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-delivery-reason"
ATTEMPTS_EXT = "https://jiayi.health/fhir/StructureDefinition/push-delivery-attempts"
DUE_EXT = "https://jiayi.health/fhir/StructureDefinition/push-due-date"


def _digest(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:32]


def slot_key(contract_id: str, year_start: date, slot: int) -> str:
    return f"Contract/{contract_id}/{year_start.isoformat()}/{slot}"


def plan_push_id(patient_id: str, contract_id: str, year_start: date, slot: int) -> str:
    return "push-" + _digest(patient_id, slot_key(contract_id, year_start, slot))


def alert_push_id(request_id: str, patient_id: str) -> str:
    return "alert-" + _digest(request_id, patient_id)


def parse_slot(communication: Mapping[str, Any]) -> tuple[str, date, int] | None:
    """(contract id, contract-year start, slot index) of a planned push, from its identifier."""
    for ident in communication.get("identifier", []):
        if ident.get("system") == SLOT_SYSTEM:
            _, contract, start, slot = str(ident["value"]).split("/")
            return contract, date.fromisoformat(start), int(slot)
    return None


def kind_of(communication: Mapping[str, Any]) -> str | None:
    for cat in communication.get("category", []):
        for c in cat.get("coding", []):
            if c.get("system") == KIND_SYSTEM:
                return str(c.get("code"))
    return None


def topics_of(communication: Mapping[str, Any]) -> list[str]:
    return [
        str(c["code"])
        for cat in communication.get("category", [])
        for c in cat.get("coding", [])
        if c.get("system") == TOPIC_SYSTEM
    ]


def planned_push(
    *,
    patient_id: str,
    contract_id: str,
    care_plan_id: str,
    year_start: date,
    slot: int,
    due: date,
    item: ContentItem,
    personalised: bool,
    sender: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    kind = "personalised" if personalised else "routine"
    body: dict[str, Any] = {
        "resourceType": "Communication",
        "id": plan_push_id(patient_id, contract_id, year_start, slot),
        "extension": [{"url": DUE_EXT, "valueDate": due.isoformat()}],
        "identifier": [{"system": SLOT_SYSTEM, "value": slot_key(contract_id, year_start, slot)}],
        "instantiatesCanonical": [item.url],
        "basedOn": [{"reference": f"CarePlan/{care_plan_id}"}],
        "status": "preparation",
        "category": [{"coding": [{"system": TOPIC_SYSTEM, "code": t}]} for t in item.topics]
        + [{"coding": [{"system": KIND_SYSTEM, "code": kind}]}],
        "priority": "routine",
        "subject": {"reference": f"Patient/{patient_id}"},
        "topic": {"text": item.title},
        "recipient": [{"reference": f"Patient/{patient_id}"}],
        "payload": [{"contentString": f"【{item.title}】{item.text}"}],
    }
    if sender:
        body["sender"] = dict(sender)
    return body


def alert_push(
    *,
    patient_id: str,
    care_plan_id: str,
    request_id: str,
    topic: Mapping[str, Any],
    message: str,
    due: date,
    sender: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Communication",
        "id": alert_push_id(request_id, patient_id),
        "extension": [{"url": DUE_EXT, "valueDate": due.isoformat()}],
        "basedOn": [
            {"reference": f"CarePlan/{care_plan_id}"},
            {"reference": f"CommunicationRequest/{request_id}"},
        ],
        "status": "preparation",
        "category": [
            {"coding": [dict(topic)]},
            {"coding": [{"system": KIND_SYSTEM, "code": "alert"}]},
        ],
        "priority": "urgent",
        "subject": {"reference": f"Patient/{patient_id}"},
        "recipient": [{"reference": f"Patient/{patient_id}"}],
        "payload": [{"contentString": message}],
    }
    if sender:
        body["sender"] = dict(sender)
    return body


def _reason(code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": REASON_SYSTEM, "code": code}], "text": text}


def _attempts(body: Mapping[str, Any]) -> int:
    return next(
        (int(e["valueInteger"]) for e in body.get("extension", []) if e.get("url") == ATTEMPTS_EXT),
        0,
    )


def with_delivery(
    body: Mapping[str, Any], channel: str, receipt: DeliveryReceipt, max_attempts: int
) -> dict[str, Any]:
    """The Communication after one delivery try on `channel`."""
    out = {k: v for k, v in body.items() if k != "statusReason"}
    attempts = _attempts(body) + receipt.attempts
    out["extension"] = [e for e in body.get("extension", []) if e.get("url") != ATTEMPTS_EXT] + [
        {"url": ATTEMPTS_EXT, "valueInteger": attempts}
    ]
    out["medium"] = [{"coding": [{"system": CHANNEL_SYSTEM, "code": channel}]}]
    if receipt.ok:
        out["status"] = "completed"
        if receipt.sent:
            out["sent"] = fhir_instant(receipt.sent)
        if receipt.received:
            out["received"] = fhir_instant(receipt.received)
        return out
    reason = receipt.reason or "delivery failed"
    if receipt.permanent:
        out["status"] = "not-done"
        out["statusReason"] = _reason("undeliverable", reason)
    elif attempts >= max_attempts:
        out["status"] = "not-done"
        out["statusReason"] = _reason("delivery-failed", f"{reason} (after {attempts} attempts)")
    else:
        out["status"] = "in-progress"
        out["statusReason"] = _reason("delivery-failed", reason)
    return out


def opted_out(body: Mapping[str, Any], channels: list[str]) -> dict[str, Any]:
    out = dict(body)
    out["status"] = "not-done"
    out["statusReason"] = _reason(
        "opted-out", "居民已通过 Consent 退订推送渠道: " + ", ".join(sorted(channels))
    )
    return out


def sent_day(communication: Mapping[str, Any]) -> date | None:
    sent = communication.get("sent")
    return datetime.fromisoformat(str(sent)).date() if sent else None
