"""The push `Communication` (docs/DATA-MODEL.md "Pushes"; issue 7), profile `jiayi-health-push`:
`subject` and `recipient` the resident, `sender` the signing doctor's PractitionerRole (else the
institution), `basedOn` the CarePlan (and an alert's CommunicationRequest), `category` the
push-topic codes plus one `push-kind`, `topic.text` the title, `payload.contentString` the text,
`instantiatesCanonical` the library item, `identifier` the plan slot (`sid/push-slot`), the
extensions `solar-term` (the term it is timed to) and `push-due-date` (its scheduled day).
Delivery lives on the same resource: `status`, `sent`, `received`, `medium` (push-channel plus the
v3 ParticipationMode), `statusReason` (push-delivery-reason) and `push-delivery-attempts` (how many
delivery runs tried it).  Ids are derived from what the push is for, so re-running or resuming a
job never duplicates one.

Pushes are built as *skeletons* (`services.batch`): the per-resident values are placeholders
(`ID`, `PATIENT`, `CARE_PLAN`, `SLOT`, `SENDER`, `DUE`, `SENT`, `RECEIVED`) with their values
beside, so that thousands of alike pushes are validated and indexed once per skeleton.
`materialise` gives the real resource.  Pure functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ...services.batch import Skeleton, date_placeholder, instant_placeholder, token_placeholder
from .content import KIND_SYSTEM, TERM_SYSTEM, TOPIC_SYSTEM, ContentItem
from .record import CHANNEL_SYSTEM
from .solar_terms import TERM_CODES

PROFILE = "https://jiayi.health/fhir/StructureDefinition/jiayi-health-push"
SLOT_SYSTEM = "https://jiayi.health/fhir/sid/push-slot"
REASON_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-delivery-reason"
ATTEMPTS_EXT = "https://jiayi.health/fhir/StructureDefinition/push-delivery-attempts"
DUE_EXT = "https://jiayi.health/fhir/StructureDefinition/push-due-date"
TERM_EXT = "https://jiayi.health/fhir/StructureDefinition/solar-term"
MODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
#: push channel → v3 ParticipationMode (the profile's medium vocabulary)
MODES = {"app-inbox": "ONLINEWRIT", "wechat": "ONLINEWRIT", "sms": "WRITTEN"}
TERM_NAMES = {code: name for name, code in TERM_CODES.items()}

ID, PATIENT, CARE_PLAN, SLOT, SENDER = (token_placeholder(k) for k in range(5))
DUE = date_placeholder(0)
SENT, RECEIVED = instant_placeholder(0), instant_placeholder(1)


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


def patient_of(communication: Mapping[str, Any]) -> str | None:
    ref = str((communication.get("subject") or {}).get("reference", ""))
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


def _ref(reference: str | None) -> tuple[str, str] | None:
    if not reference or "/" not in reference:
        return None
    kind, _, ident = reference.partition("/")
    return kind, ident


@dataclass(frozen=True)
class Push:
    """A push about to be delivered and written: `body` with placeholders, `values` for them."""

    body: dict[str, Any]
    values: dict[str, str]

    @property
    def id(self) -> str:
        return self.values[ID]

    def skeleton(self) -> Skeleton:
        return Skeleton(self.body)

    def materialise(self) -> dict[str, Any]:
        return Skeleton(self.body).instantiate(self.values)


def _common(
    *,
    push_id: str,
    patient_id: str,
    care_plan_id: str | None,
    sender: str | None,
    due: date,
    term: str | None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(head, party elements, values) shared by planned and alert pushes."""
    extensions: list[dict[str, Any]] = []
    if term:
        coding = {"system": TERM_SYSTEM, "code": term}
        if term in TERM_NAMES:
            coding["display"] = TERM_NAMES[term]
        extensions.append({"url": TERM_EXT, "valueCodeableConcept": {"coding": [coding]}})
    extensions.append({"url": DUE_EXT, "valueDate": DUE})
    body: dict[str, Any] = {
        "resourceType": "Communication",
        "id": ID,
        "meta": {"profile": [PROFILE]},
        "extension": extensions,
    }
    values = {ID: push_id, PATIENT: patient_id, DUE: due.isoformat()}
    if care_plan_id is not None:
        values[CARE_PLAN] = care_plan_id
    tail: dict[str, Any] = {
        "subject": {"reference": f"Patient/{PATIENT}"},
        "recipient": [{"reference": f"Patient/{PATIENT}"}],
    }
    sent_by = _ref(sender)
    if sent_by is not None:
        tail["sender"] = {"reference": f"{sent_by[0]}/{SENDER}"}
        values[SENDER] = sent_by[1]
    return body, tail, values


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
    sender: str | None = None,
    term: str | None = None,
) -> Push:
    """Slot `slot` of the resident's contract year, in `preparation` until delivered."""
    kind = "personalised" if personalised else "routine"
    head, tail, values = _common(
        push_id=plan_push_id(patient_id, contract_id, year_start, slot),
        patient_id=patient_id,
        care_plan_id=care_plan_id,
        sender=sender,
        due=due,
        term=term,
    )
    values[SLOT] = slot_key(contract_id, year_start, slot)
    body = head | {
        "identifier": [{"system": SLOT_SYSTEM, "value": SLOT}],
        "instantiatesCanonical": [item.url],
        "basedOn": [{"reference": f"CarePlan/{CARE_PLAN}"}],
        "status": "preparation",
        "category": [{"coding": [{"system": TOPIC_SYSTEM, "code": t}]} for t in item.topics]
        + [{"coding": [{"system": KIND_SYSTEM, "code": kind}]}],
        "priority": "routine",
        "subject": tail["subject"],
        "topic": {"text": item.title},
        "recipient": tail["recipient"],
        **({"sender": tail["sender"]} if "sender" in tail else {}),
        "payload": [{"contentString": f"【{item.title}】{item.text}"}],
    }
    return Push(body, values)


def alert_push(
    *,
    patient_id: str,
    care_plan_id: str | None,
    request_id: str,
    topic: Mapping[str, Any],
    topic_text: str,
    message: str,
    due: date,
    sender: str | None = None,
) -> Push:
    head, tail, values = _common(
        push_id=alert_push_id(request_id, patient_id),
        patient_id=patient_id,
        care_plan_id=care_plan_id,
        sender=sender,
        due=due,
        term=None,
    )
    body = head | {
        "basedOn": ([{"reference": f"CarePlan/{CARE_PLAN}"}] if care_plan_id is not None else [])
        + [{"reference": f"CommunicationRequest/{request_id}"}],
        "status": "preparation",
        "category": [
            {"coding": [dict(topic)]},
            {"coding": [{"system": KIND_SYSTEM, "code": "alert"}]},
        ],
        "priority": "urgent",
        "subject": tail["subject"],
        "topic": {"text": topic_text},
        "recipient": tail["recipient"],
        **({"sender": tail["sender"]} if "sender" in tail else {}),
        "payload": [{"contentString": message}],
    }
    return Push(body, values)


# -- delivery -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one delivery run achieved for a push."""

    status: str  # completed | in-progress | not-done | preparation
    runs: int  # delivery runs so far, this one included
    channel: str | None = None  # the channel it went out on (completed)
    sent: datetime | None = None
    received: datetime | None = None
    reason_code: str | None = None  # push-delivery-reason
    reason_text: str | None = None


def _reason(code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": REASON_SYSTEM, "code": code}], "text": text}


def runs_of(body: Mapping[str, Any]) -> int:
    """Delivery runs that tried this push so far (`push-delivery-attempts`)."""
    for ext in body.get("extension", []):
        if ext.get("url") == ATTEMPTS_EXT:
            return int(ext.get("valuePositiveInt", ext.get("valueInteger", 0)))
    return 0


def medium(channel: str) -> list[dict[str, Any]]:
    coding = [{"system": CHANNEL_SYSTEM, "code": channel}]
    if channel in MODES:
        coding.append({"system": MODE_SYSTEM, "code": MODES[channel]})
    return [{"coding": coding}]


def with_outcome(
    body: Mapping[str, Any], outcome: Outcome, sent: str | None, received: str | None
) -> dict[str, Any]:
    """The Communication after a delivery run; `sent`/`received` are the values to record (the
    `SENT`/`RECEIVED` placeholders in a skeleton, instants in a stored push)."""
    out = {k: v for k, v in body.items() if k not in ("statusReason", "sent", "received")}
    if outcome.status == "preparation":
        return dict(body)
    out["extension"] = [e for e in body.get("extension", []) if e.get("url") != ATTEMPTS_EXT] + [
        {"url": ATTEMPTS_EXT, "valuePositiveInt": outcome.runs}
    ]
    out["status"] = outcome.status
    if outcome.channel:
        out["medium"] = medium(outcome.channel)
    if outcome.status == "completed":
        if sent:
            out["sent"] = sent
        if received:
            out["received"] = received
    elif outcome.reason_code:
        out["statusReason"] = _reason(outcome.reason_code, outcome.reason_text or "")
    return _ordered(out)


_ORDER = (
    "resourceType",
    "id",
    "meta",
    "extension",
    "identifier",
    "instantiatesCanonical",
    "basedOn",
    "status",
    "statusReason",
    "category",
    "priority",
    "medium",
    "subject",
    "topic",
    "sent",
    "received",
    "recipient",
    "sender",
    "payload",
)


def _ordered(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in _ORDER if k in body} | {
        k: v for k, v in body.items() if k not in _ORDER
    }


def sent_day(communication: Mapping[str, Any]) -> date | None:
    sent = communication.get("sent")
    return datetime.fromisoformat(str(sent)).date() if sent else None
