"""Referral business rules riding on generic writes (the `WriteRule` port, see ports.py).

- `SlotBookingRule` — `POST/PUT/PATCH/DELETE Appointment` naming a `slot` (INTERFACE.md: booking is a
  standard `POST Appointment`, 201 or 409): one booking per slot even under concurrency
  (`lock("slot:<id>")`, then the slot must be free → busy); a slot tagged
  `slot-reservation|referral` only for an appointment `basedOn` an active upward referral of a signed
  resident (粤(四) 预留专家号源、住院床位; 国卫办基层发〔2025〕21号 一(四) 为基层签约居民预留); an urgent
  referral bypasses the reservation checks and the Appointment is flagged (粤(四) 在保障急危重症患者救治
  前提下); the referral records the priority used (三优先: appointment, examination, admission);
  cancelling or deleting frees the slot.
- `ReferralRequestRule` — `POST ServiceRequest` of a referral: an upward one must name reason, urgency,
  clinical summary, requested service and target, and gets the hospital's `Task`; a downward one is
  routed to the resident's contracted team and institution from the active Contract, which are
  notified at once and get an acknowledgement `Task` (粤(四) 及时向基层机构反馈下转患者信息).
- `ReferralTaskRule` — `PUT/PATCH Task` of a referral: a rejection needs a reason; each status change
  notifies the referring side with a `Communication` (alternatives in `Task.output` travel with it);
  completion completes the referral.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from . import rules as R
from . import service as S
from .ports import Repo, WriteRule


def _refuse(status: int, text: str, where: str, code: str = "business-rule") -> E.FhirError:
    return E.FhirError(status, E.error(code, text, where, message_id=f"JY-REF-{status}"))


def _tag(resource: dict[str, Any], system: str, code: str) -> None:
    meta = resource.setdefault("meta", {})
    tags = meta.setdefault("tag", [])
    if not any(t.get("system") == system and t.get("code") == code for t in tags):
        tags.append({"system": system, "code": code})


def _slot_ids(appointment: dict[str, Any] | None) -> list[str]:
    if not appointment or not R.occupies(appointment.get("status")):
        return []
    ids = [S.ref_id(s.get("reference"), "Slot") for s in appointment.get("slot") or []]
    return [i for i in ids if i]


def _patient(appointment: dict[str, Any]) -> str | None:
    for participant in appointment.get("participant") or []:
        pid = S.ref_id((participant.get("actor") or {}).get("reference"), "Patient")
        if pid:
            return pid
    return None


@dataclass(frozen=True)
class SlotBookingRule:
    """Appointment writes: slot occupancy, reservation rules, emergency bypass, priority used."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Appointment"

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        held, wanted = set(_slot_ids(current)), _slot_ids(resource)
        for slot_id in sorted(held - set(wanted)):
            self._free(tx, slot_id)
        if resource is None or not wanted:
            return resource
        out = copy.deepcopy(resource)
        for slot_id in sorted(set(wanted) - held):  # sorted: no lock-order deadlocks
            self._book(tx, out, slot_id)
        return out

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None

    def _free(self, tx: Repo, slot_id: str) -> None:
        tx.lock(f"slot:{slot_id}")
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None or record.content.get("status") == "free":
            return
        tx.update("Slot", slot_id, {**record.content, "status": "free"})

    def _book(self, tx: Repo, appointment: dict[str, Any], slot_id: str) -> None:
        where = "Appointment.slot"
        tx.lock(f"slot:{slot_id}")
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None:
            raise _refuse(422, f"Slot/{slot_id} is not known", where, "not-found")
        slot = record.content
        if slot.get("status") != "free":
            raise _refuse(
                409,
                f"Slot/{slot_id} is already taken (status {slot.get('status')}); "
                "choose another slot",
                where,
                "conflict",
            )
        referral = self._referral(tx, appointment)
        urgent = referral is not None and R.is_urgent(referral.get("priority"))
        if urgent:
            _tag(appointment, R.MARKER_SYSTEM, "emergency-bypass")
        elif R.is_reserved(slot):
            self._check_reserved_use(tx, appointment, referral, slot_id)
        tx.update("Slot", slot_id, {**slot, "status": "busy"})
        if referral is not None:
            schedule = S.load(tx, (slot.get("schedule") or {}).get("reference"), "Schedule")
            self._record_priority(
                tx, referral, R.priority_for_kind(S.capacity_kind(slot, schedule))
            )

    @staticmethod
    def _referral(tx: Repo, appointment: dict[str, Any]) -> dict[str, Any] | None:
        for based_on in appointment.get("basedOn") or []:
            found = S.load(tx, based_on.get("reference"), "ServiceRequest")
            if found is not None and R.direction(found) == "up":
                return found
        return None

    @staticmethod
    def _check_reserved_use(
        tx: Repo, appointment: dict[str, Any], referral: dict[str, Any] | None, slot_id: str
    ) -> None:
        if referral is None:
            raise _refuse(
                422,
                f"Slot/{slot_id} is reserved for referrals: the Appointment must be basedOn an "
                "upward referral ServiceRequest",
                "Appointment.basedOn",
            )
        if referral.get("status") != "active":
            raise _refuse(
                422,
                f"ServiceRequest/{referral['id']} is {referral.get('status')}, not active",
                "Appointment.basedOn",
            )
        patient = _patient(appointment)
        if (
            patient is None
            or S.ref_id((referral.get("subject") or {}).get("reference"), "Patient") != patient
        ):
            raise _refuse(
                422,
                "The Appointment's patient is not the subject of the referral it is basedOn",
                "Appointment.participant",
            )
        if S.active_contract(tx, patient, S.now(tx)) is None:
            raise _refuse(
                422,
                f"Slot/{slot_id} is reserved for signed residents: Patient/{patient} has no "
                "Contract in force",
                "Appointment.participant",
            )

    @staticmethod
    def _record_priority(tx: Repo, referral: dict[str, Any], priority: str) -> None:
        """The referral records the priority used (extension `referral-priority`, 粤(四) 三优先)."""
        if priority in R.priorities_used(referral):
            return
        record = tx.current_or_none("ServiceRequest", referral["id"])
        content = copy.deepcopy(record.content)
        content.setdefault("extension", []).append(
            {
                "url": R.PRIORITY_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": R.PRIORITY_SYSTEM, "code": priority}]
                },
            }
        )
        tx.update("ServiceRequest", referral["id"], content)


@dataclass(frozen=True)
class ReferralRequestRule:
    """New referral ServiceRequests: completeness, routing, Task, immediate notification."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "ServiceRequest" and method == "POST"

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None:
            return resource
        way = R.direction(resource)
        if way == "up":
            return self._up(tx, copy.deepcopy(resource))
        if way == "down":
            return self._down(tx, copy.deepcopy(resource))
        return resource

    @staticmethod
    def _up(tx: Repo, referral: dict[str, Any]) -> dict[str, Any]:
        missing = R.missing_upward_elements(referral)
        if missing:
            raise E.unprocessable(
                E.error(
                    "required",
                    f"An upward referral needs {name}",
                    f"ServiceRequest.{name.split(' ')[0]}",
                    message_id="JY-REF-422",
                )
                for name in missing
            )
        referral.setdefault("authoredOn", fhir_instant(S.now(tx)))
        return referral

    @staticmethod
    def _down(tx: Repo, referral: dict[str, Any]) -> dict[str, Any]:
        if not (referral.get("note") or referral.get("supportingInfo")):
            raise _refuse(
                422,
                "A downward referral carries the discharge or treatment summary (note or supportingInfo)",
                "ServiceRequest.note",
            )
        at = S.now(tx)
        referral.setdefault("authoredOn", fhir_instant(at))
        patient = S.ref_id((referral.get("subject") or {}).get("reference"), "Patient")
        contract = S.active_contract(tx, patient, at) if patient else None
        team = S.contract_team(contract) if contract else None
        if contract is not None and team:
            institution = S.contract_institution(tx, contract)
            referral["performer"] = [{"reference": team}] + (
                [{"reference": institution}] if institution else []
            )
            infos = referral.setdefault("supportingInfo", [])
            if not any(i.get("reference") == f"Contract/{contract['id']}" for i in infos):
                infos.append({"reference": f"Contract/{contract['id']}"})
        elif not referral.get("performer"):
            raise _refuse(
                422,
                f"Patient/{patient} has no Contract in force: name the receiving team in performer",
                "ServiceRequest.performer",
            )
        return referral

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        """The referral exists now: its Task (and, going down, the notification) may point to it."""
        if stored is None or current is not None or R.direction(stored) not in ("up", "down"):
            return
        at = S.now(tx)
        requester = (stored.get("requester") or {}).get("reference")
        receivers = [p["reference"] for p in stored.get("performer") or [] if p.get("reference")]
        if R.direction(stored) == "up":
            hospital = None
            for receiver in receivers:
                hospital = hospital or S.hospital_of(tx, receiver)
            tx.create("Task", S.referral_task(stored, hospital or receivers[0], requester, at))
            return
        task = tx.create(
            "Task", S.referral_task(stored, receivers[0], requester, at)
        ).record.content
        summary = (
            "; ".join(n.get("text", "") for n in stored.get("note") or []) or "see supportingInfo"
        )
        S.notify(
            tx,
            stored,
            receivers,
            f"下转患者信息 / downward referral: {summary}",
            sender=requester,
            about=f"Task/{task['id']}",
        )


def _status_text(task: dict[str, Any]) -> str:
    text = f"转诊状态 / referral status: {task.get('status')}"
    reason = task.get("statusReason") or {}
    reason_text = reason.get("text") or ", ".join(
        c.get("display") or c.get("code", "") for c in reason.get("coding") or []
    )
    return f"{text} ({reason_text})" if reason_text else text


@dataclass(frozen=True)
class ReferralTaskRule:
    """Status changes of a referral Task: reasons, timestamps, notifications, completion."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Task" and method in ("PUT", "PATCH")

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None or current is None or resource.get("status") == current.get("status"):
            return resource
        referral = S.load(tx, (resource.get("focus") or {}).get("reference"), "ServiceRequest")
        if referral is None or R.direction(referral) is None:
            return resource
        task = copy.deepcopy(resource)
        status, at = task.get("status"), fhir_instant(S.now(tx))
        if status == "rejected" and not task.get("statusReason"):
            raise _refuse(
                422, "A rejected referral needs a reason (Task.statusReason)", "Task.statusReason"
            )
        task["lastModified"] = at
        period = task.setdefault("executionPeriod", {})
        if status not in R.PENDING_TASK_STATUSES:
            period.setdefault("start", at)  # acknowledgement time
        if status in R.FINAL_TASK_STATUSES:
            period.setdefault("end", at)
        offered = [
            ref
            for out in task.get("output") or []
            if R.MARKER_SYSTEM
            in {c.get("system") for c in (out.get("type") or {}).get("coding") or []}
            and (ref := (out.get("valueReference") or {}).get("reference"))
        ]
        recipients = S.referring_recipients(tx, referral, S.now(tx))
        S.notify(
            tx,
            referral,
            recipients,
            _status_text(task),
            sender=(task.get("owner") or {}).get("reference"),
            about=f"Task/{task['id']}",
            attachments=offered,
        )
        if status == "completed" and referral.get("status") == "active":
            tx.update("ServiceRequest", referral["id"], {**referral, "status": "completed"})
        return task

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


#: The referral rules, collected into `ServerComponents.write_rules` by `app.discover_write_rules`.
WRITE_RULES: tuple[WriteRule, ...] = (SlotBookingRule(), ReferralRequestRule(), ReferralTaskRule())


def write_rules() -> tuple[WriteRule, ...]:
    return WRITE_RULES
