"""Referral business rules riding on generic writes (the `WriteRule` port, see ports.py).

Every rule runs inside the writer's unit of work (a Bundle transaction stays all or nothing) with a
repository acting as the server (`tx`); what the rules write themselves runs no rules.

- `SlotBookingRule` — `POST/PUT/PATCH/DELETE Appointment` naming a `slot` (INTERFACE.md: booking is a
  standard `POST Appointment`, 201 or 409): one booking per slot even under concurrency
  (`lock("slot:<id>")`, then the slot must be free and no other Appointment may hold it → busy); a
  slot tagged `slot-reservation|referral` only for an appointment `basedOn` an active upward referral
  of the appointment's patient, not turned down by the hospital, of a signed resident (粤(四)
  预留专家号源、住院床位; 国卫办基层发〔2025〕21号 一(四) 为基层签约居民预留) — re-checked when an
  update keeps the slot but changes basedOn or the patient; an urgent referral bypasses the contract
  check and the Appointment is flagged (粤(四) 在保障急危重症患者救治前提下); the referral records the
  priority used (三优先), dropped again once no booking of that kind remains; booking, cancelling and
  moving notify the referring team and the hospital; cancelling, moving or deleting frees the slot.
- `SlotHoldRule` — `PUT/PATCH/DELETE Slot`: a slot an Appointment holds stays busy (409).
- `ReservationTagRule` — `POST/PUT/PATCH Slot`: before `start − releaseLeadHours` only the release
  job takes a slot out of reserved capacity (422).
- `ReferralRequestRule` — `POST/PUT/PATCH ServiceRequest` of a referral: an upward one must name
  reason, urgency, clinical summary, requested service and target (an urgent one passes, flagged) and
  claims the guide's `jiayi-referral` profile; a downward one is routed to the resident's contracted
  team and institution from the active Contract, which are notified at once; either gets its `Task`
  the first time it is stored as a referral (POST, update-as-create, or an update making it one).
- `ReferralTaskRule` — `PUT/PATCH Task` of a referral: the FHIR Task state machine, a rejection needs
  a reason; each status change notifies the referring side with a `Communication` (alternatives in
  `Task.output` travel with it); completion completes the referral.

Lock order (no deadlocks): `slot:<id>` locks, sorted, then `referral:<id>`, then resource rows.  A
Slot write is serialised with bookings by the Slot's row lock, which the repository takes before any
rule runs and which every booking and release needs to change the Slot; `SlotHoldRule` therefore
takes no advisory lock (taking one after the row lock would invert the booking's order).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from . import rules as R
from . import service as S
from .capacity import RELEASE_WRITERS, load_policy, terms_for_schedule
from .ports import Repo, WriteRule

BYPASS = (R.MARKER_SYSTEM, "emergency-bypass")


def _refuse(status: int, text: str, where: str, code: str = "business-rule") -> E.FhirError:
    return E.FhirError(status, E.error(code, text, where, message_id=f"JY-REF-{status}"))


def _set_tag(resource: dict[str, Any], system: str, code: str, display: str | None = None) -> None:
    meta = resource.setdefault("meta", {})
    tags = [t for t in meta.get("tag") or [] if (t.get("system"), t.get("code")) != (system, code)]
    tag = {"system": system, "code": code}
    if display:
        tag["display"] = display
    meta["tag"] = [*tags, tag]


def _drop_tag(resource: dict[str, Any], system: str, code: str) -> None:
    meta = resource.get("meta")
    if not meta or not meta.get("tag"):
        return
    tags = [t for t in meta["tag"] if (t.get("system"), t.get("code")) != (system, code)]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag")
    if not meta:
        resource.pop("meta")


def _tag_of(resource: dict[str, Any] | None, system: str, code: str) -> dict[str, Any] | None:
    for tag in ((resource or {}).get("meta") or {}).get("tag") or []:
        if (tag.get("system"), tag.get("code")) == (system, code):
            return dict(tag)
    return None


def _claim(resource: dict[str, Any], profile: str) -> None:
    meta = resource.setdefault("meta", {})
    profiles = list(meta.get("profile") or [])
    if profile not in profiles:
        meta["profile"] = [*profiles, profile]


def _slot_ids(appointment: dict[str, Any] | None) -> list[str]:
    if not appointment or not R.occupies(appointment.get("status")):
        return []
    ids = [S.ref_id(s.get("reference"), "Slot") for s in appointment.get("slot") or []]
    return list(dict.fromkeys(i for i in ids if i))


def _patient(appointment: dict[str, Any] | None) -> str | None:
    for participant in (appointment or {}).get("participant") or []:
        pid = S.ref_id((participant.get("actor") or {}).get("reference"), "Patient")
        if pid:
            return pid
    return None


def _based_on(appointment: dict[str, Any] | None) -> list[str]:
    return sorted(
        str(b.get("reference"))
        for b in (appointment or {}).get("basedOn") or []
        if b.get("reference")
    )


def occupying_appointments(
    tx: Repo, slot_id: str, *, besides: str | None = None
) -> list[dict[str, Any]]:
    """Appointments that hold the slot (status pending/booked/arrived/fulfilled/checked-in)."""
    query = [
        ("slot", f"Slot/{slot_id}"),
        ("status", ",".join(sorted(R.OCCUPYING_STATUSES))),
    ]
    return [a for a in S.search_all(tx, "Appointment", query) if a.get("id") != besides]


def _upward_referral(tx: Repo, appointment: dict[str, Any] | None) -> dict[str, Any] | None:
    for based_on in (appointment or {}).get("basedOn") or []:
        found = S.load(tx, based_on.get("reference"), "ServiceRequest")
        if found is not None and R.direction(found) == "up":
            return found
    return None


def _priority_of_slot(tx: Repo, slot_id: str) -> str | None:
    slot = S.load(tx, f"Slot/{slot_id}", "Slot")
    if slot is None:
        return None
    schedule = S.load(tx, (slot.get("schedule") or {}).get("reference"), "Schedule")
    return R.priority_for_kind(S.capacity_kind(slot, schedule))


@dataclass(frozen=True)
class SlotBookingRule:
    """Appointment writes: slot occupancy, reservation rules, emergency bypass, priority used,
    notifications."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Appointment"

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        held, wanted = set(_slot_ids(current)), set(_slot_ids(resource))
        for slot_id in sorted(held | wanted):  # every slot lock up front, sorted: no deadlocks
            tx.lock(f"slot:{slot_id}")
        for slot_id in sorted(held - wanted):
            self._free(tx, slot_id)
        if resource is None:
            return resource
        out = copy.deepcopy(resource)
        # The emergency-bypass flag is the server's: kept for slots kept as they were, set anew by
        # the checks below, never taken from the client (it counts in the report).
        carried = _tag_of(current, *BYPASS) if held & wanted else None
        _drop_tag(out, *BYPASS)
        if not wanted:
            return out
        referral = _upward_referral(tx, out)
        use_changed = _based_on(current) != _based_on(out) or _patient(current) != _patient(out)
        bypassed = False
        for slot_id in sorted(wanted - held):
            bypassed |= self._book(tx, out, slot_id, referral)
        for slot_id in sorted(held & wanted):
            if use_changed:
                bypassed |= self._recheck(tx, out, slot_id, referral)
            elif carried is not None:
                bypassed = True
        if bypassed:
            display = "急危重症绕行: reserved capacity booked without a Contract in force"
            _set_tag(out, *BYPASS, (carried or {}).get("display") or display)
        return out

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        """Tell the referring team and the hospital, and drop priorities no booking uses."""
        before, after = set(_slot_ids(current)), set(_slot_ids(stored))
        old_ref, new_ref = _upward_referral(tx, current), _upward_referral(tx, stored)
        events: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        if old_ref is not None and new_ref is not None and old_ref["id"] == new_ref["id"]:
            if after and not before:
                events.append((new_ref, "booked", stored or {}))
            elif before and not after:
                events.append((old_ref, "cancelled", stored or current or {}))
            elif before and after and before != after:
                events.append((new_ref, "moved", stored or {}))
        else:
            if old_ref is not None and before:
                events.append((old_ref, "cancelled", current or {}))
            if new_ref is not None and after:
                events.append((new_ref, "booked", stored or {}))
        at = S.now(tx)
        for referral, what, appointment in events:
            S.notify(
                tx,
                referral,
                S.booking_recipients(tx, referral, at),
                _booking_text(what, appointment),
                about=f"Appointment/{appointment['id']}" if appointment.get("id") else None,
            )
            if what in ("cancelled", "moved"):
                self._drop_stale_priorities(tx, referral["id"])

    @staticmethod
    def _free(tx: Repo, slot_id: str) -> None:
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None or record.content.get("status") == "free":
            return
        tx.update("Slot", slot_id, {**record.content, "status": "free"})

    def _book(
        self, tx: Repo, appointment: dict[str, Any], slot_id: str, referral: dict[str, Any] | None
    ) -> bool:
        """Take the slot (locked by before_write); True when an emergency bypassed a check."""
        where = "Appointment.slot"
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None:
            raise _refuse(422, f"Slot/{slot_id} is not known", where, "not-found")
        slot = record.content
        holders = occupying_appointments(tx, slot_id, besides=appointment.get("id"))
        if slot.get("status") != "free" or holders:
            held_by = f", held by Appointment/{holders[0]['id']}" if holders else ""
            hint = "choose another slot"
            if R.is_reserved(slot):
                target = f"ServiceRequest/{referral['id']}" if referral else "ServiceRequest/[id]"
                hint += f" ({target}/$referral-alternatives lists free ones)"
            raise _refuse(
                409,
                f"Slot/{slot_id} is already taken (status {slot.get('status')}{held_by}); {hint}",
                where,
                "conflict",
            )
        bypassed = self._check_use(tx, appointment, referral, slot)
        tx.update("Slot", slot_id, {**slot, "status": "busy"})
        if referral is not None:
            schedule = S.load(tx, (slot.get("schedule") or {}).get("reference"), "Schedule")
            self._record_priority(
                tx, referral, R.priority_for_kind(S.capacity_kind(slot, schedule))
            )
        return bypassed

    def _recheck(
        self, tx: Repo, appointment: dict[str, Any], slot_id: str, referral: dict[str, Any] | None
    ) -> bool:
        """An update keeps the slot but changes basedOn or the patient: the slot's rules again."""
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None:
            return False
        bypassed = self._check_use(tx, appointment, referral, record.content)
        priority = _priority_of_slot(tx, slot_id)
        if referral is not None and priority is not None:
            self._record_priority(tx, referral, priority)
        return bypassed

    @staticmethod
    def _check_use(
        tx: Repo, appointment: dict[str, Any], referral: dict[str, Any] | None, slot: dict[str, Any]
    ) -> bool:
        """The reserved-use rules; True when an urgent referral bypassed the contract check."""
        if not R.is_reserved(slot):
            return False
        slot_id = slot["id"]
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
        refused = S.refused_by_hospital(tx, referral["id"])
        if refused is not None:
            raise _refuse(
                422,
                f"ServiceRequest/{referral['id']} was turned down by the hospital "
                f"(Task/{refused['id']} {refused.get('status')}): it books no reserved capacity; "
                f"ServiceRequest/{referral['id']}/$referral-alternatives lists public slots",
                "Appointment.basedOn",
            )
        if S.active_contract(tx, patient, S.now(tx)) is None:
            if R.is_urgent(referral.get("priority")):
                # 在保障急危重症患者救治前提下: an emergency is never blocked, but it is told
                tx.warn(
                    E.warning(
                        "business-rule",
                        f"Slot/{slot_id} is reserved for signed residents and Patient/{patient} "
                        f"has no Contract in force: booked anyway for the urgent referral "
                        f"ServiceRequest/{referral['id']} (priority {referral.get('priority')}), "
                        f"flagged {BYPASS[0]}|{BYPASS[1]}",
                        "Appointment.participant",
                        message_id="JY-REF-BYPASS",
                    )
                )
                return True
            raise _refuse(
                422,
                f"Slot/{slot_id} is reserved for signed residents: Patient/{patient} has no "
                "Contract in force",
                "Appointment.participant",
            )
        return False

    @staticmethod
    def _record_priority(tx: Repo, referral: dict[str, Any], priority: str) -> None:
        """The referral records the priority used (extension `referral-priority`, 粤(四) 三优先)."""
        tx.lock(f"referral:{referral['id']}")
        record = tx.current_or_none("ServiceRequest", referral["id"])
        if record is None or record.content is None:
            return
        if priority in R.priorities_used(record.content):
            return
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

    @staticmethod
    def _drop_stale_priorities(tx: Repo, referral_id: str) -> None:
        """Remove the priorities no remaining booking of the referral uses."""
        tx.lock(f"referral:{referral_id}")
        record = tx.current_or_none("ServiceRequest", referral_id)
        if record is None or record.content is None:
            return
        in_use = {
            priority
            for appointment in S.search_all(
                tx, "Appointment", [("based-on", f"ServiceRequest/{referral_id}")]
            )
            for slot_id in _slot_ids(appointment)
            if (priority := _priority_of_slot(tx, slot_id)) is not None
        }
        stale = set(R.stale_priorities(R.priorities_used(record.content), in_use))
        if not stale:
            return
        content = copy.deepcopy(record.content)
        content["extension"] = [
            ext
            for ext in content.get("extension") or []
            if ext.get("url") != R.PRIORITY_EXTENSION
            or not stale & set(R.codes([ext.get("valueCodeableConcept") or {}], R.PRIORITY_SYSTEM))
        ]
        if not content["extension"]:
            content.pop("extension")
        tx.update("ServiceRequest", referral_id, content)


def _booking_text(what: str, appointment: dict[str, Any]) -> str:
    label = {"booked": "已预约 booked", "cancelled": "已取消 cancelled", "moved": "已改约 moved"}
    slots = ", ".join(s.get("reference", "") for s in appointment.get("slot") or [])
    when = appointment.get("start")
    text = f"转诊预约 / referral appointment {label.get(what, what)}"
    details = "; ".join(x for x in (when, slots) if x)
    return f"{text}: {details}" if details else text


@dataclass(frozen=True)
class SlotHoldRule:
    """A Slot an Appointment holds cannot be freed or deleted underneath it (no double booking
    through Slot writes): cancel or move the Appointment instead, which frees the slot."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Slot" and method in ("PUT", "PATCH", "DELETE")

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if current is None or not R.leaves_busy(current, resource):
            return resource
        holders = occupying_appointments(tx, current["id"])
        if holders:
            change = "deleted" if resource is None else f"set {resource.get('status')}"
            raise _refuse(
                409,
                f"Slot/{current['id']} is held by Appointment/{holders[0]['id']} "
                f"(status {holders[0].get('status')}) and cannot be {change}: cancel or move "
                "the appointment, which frees the slot",
                "Slot" if resource is None else "Slot.status",
                "conflict",
            )
        return resource

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


@dataclass(frozen=True)
class ReservationTagRule:
    """Reserved capacity leaves the reservation only through the release job: a generic write may
    not remove `slot-reservation|referral` nor add `referral-marker|reservation-released` before
    `start − releaseLeadHours` (the deploy's reservation policy)."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Slot" and method in ("POST", "PUT", "PATCH")

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None:
            return resource
        writer = getattr(getattr(tx, "ctx", None), "writer", None)
        if getattr(writer, "system_name", None) in RELEASE_WRITERS:
            return resource
        touched = (
            current is not None and R.is_reserved(current) and not R.is_reserved(resource)
        ) or (R.was_released(resource) and not (current is not None and R.was_released(current)))
        start = R.parse_instant(resource.get("start"))
        if not touched or start is None:
            return resource
        schedule = S.load(tx, (resource.get("schedule") or {}).get("reference"), "Schedule") or {}
        terms = terms_for_schedule(tx, load_policy(tx.components), schedule)
        release_time = R.release_at(start, terms)
        why = R.tag_change_refusal(current, resource, release_time, S.now(tx))
        if why is not None:
            raise _refuse(
                422,
                f"This write {why} of Slot/{resource.get('id')} before its release time "
                f"{fhir_instant(release_time)} (start − releaseLeadHours): reserved capacity is "
                "released only by the job release-reserved-slots",
                "Slot.meta.tag",
            )
        return resource

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


@dataclass(frozen=True)
class ReferralRequestRule:
    """Referral ServiceRequests on every write path: completeness (urgent ones pass, flagged),
    the guide's profile, routing, the Task, immediate notification going down."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "ServiceRequest" and method in ("POST", "PUT", "PATCH")

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None:
            return resource
        way = R.direction(resource)
        if way == "up":
            return self._up(tx, copy.deepcopy(resource), current)
        if way == "down":
            return self._down(tx, copy.deepcopy(resource), current)
        return resource

    @staticmethod
    def _up(tx: Repo, referral: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        carried = _tag_of(current, *BYPASS)
        _drop_tag(referral, *BYPASS)  # the server's flag, as on Appointments
        referral.setdefault(
            "authoredOn", (current or {}).get("authoredOn") or fhir_instant(S.now(tx))
        )
        check = current is None or referral.get("status") == "active"
        missing = R.missing_upward_elements(referral) if check else []
        urgent = R.is_urgent(referral.get("priority"))
        if missing and not urgent:
            raise E.unprocessable(
                E.error(
                    "required",
                    f"An upward referral needs {name}",
                    f"ServiceRequest.{name.split('|')[0].split(' ')[0]}",
                    message_id="JY-REF-422",
                )
                for name in missing
            )
        if missing:  # 在保障急危重症患者救治前提下: urgent, let through, flagged for the hospital
            _set_tag(referral, *BYPASS, "急危重症绕行: missing " + ", ".join(missing))
            for name in missing:
                tx.warn(
                    E.warning(
                        "business-rule",
                        f"An upward referral needs {name}: accepted without it because it is "
                        f"urgent (priority {referral.get('priority')}), flagged "
                        f"{BYPASS[0]}|{BYPASS[1]}; it claims no jiayi-referral profile",
                        f"ServiceRequest.{name.split('|')[0].split(' ')[0]}",
                        message_id="JY-REF-BYPASS",
                    )
                )
            return referral
        if carried is not None:
            _set_tag(referral, *BYPASS, carried.get("display"))
        if not check:
            return referral  # a closed referral's bookkeeping: no new claims on it
        candidate = copy.deepcopy(referral)
        _claim(candidate, R.REFERRAL_PROFILE)
        if urgent:
            errors = [i for i in tx.components.validator.validate(candidate) if i.is_error]
            if errors:  # an emergency is not held up by the guide's coding rules, but is told
                for issue in errors:
                    tx.warn(
                        dataclasses.replace(
                            issue,
                            severity="warning",
                            diagnostics=f"{issue.diagnostics} (urgent referral accepted without "
                            "the jiayi-referral profile)",
                        )
                    )
                return referral
        return candidate

    @staticmethod
    def _down(tx: Repo, referral: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        check = current is None or referral.get("status") == "active"
        if check and not R.has_summary(referral):
            raise _refuse(
                422,
                "A downward referral carries the discharge or treatment summary (note, or "
                "supportingInfo other than the Contract)",
                "ServiceRequest.note",
            )
        at = S.now(tx)
        referral.setdefault("authoredOn", (current or {}).get("authoredOn") or fhir_instant(at))
        if (
            check
        ):  # the guide's downward profile (CareTeam performer): validated, 422 at the element
            _claim(referral, R.DOWNWARD_REFERRAL_PROFILE)
        if current is not None:
            return referral  # routed when it was first stored
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
        """The referral exists now: its Task (and, going down, the notification) may point to it.
        Once per referral: on POST, update-as-create, or the update that made it a referral."""
        if stored is None or R.direction(stored) not in ("up", "down"):
            return
        if current is not None:
            tasks = S.referral_tasks(tx, stored["id"])
            if tasks:
                self._status_changed(tx, stored, current, tasks)
                return
        at = S.now(tx)
        requester = (stored.get("requester") or {}).get("reference")
        receivers = [p["reference"] for p in stored.get("performer") or [] if p.get("reference")]
        if R.direction(stored) == "up":
            hospital = None
            for receiver in receivers:
                hospital = hospital or S.hospital_of(tx, receiver)
            owner = hospital or (receivers[0] if receivers else None)
            task = S.referral_task(stored, owner, requester, at)
            _claim(task, R.REFERRAL_TASK_PROFILE)
            bypass = _tag_of(stored, *BYPASS)
            if bypass is not None:
                task["note"] = [{"text": f"紧急转诊 / urgent referral — {bypass.get('display')}"}]
            tx.create("Task", task)
            return
        # Going down the Task is owned by the team (the worklist): jiayi-downward-referral-task.
        task = S.referral_task(stored, receivers[0], requester, at)
        _claim(task, R.DOWNWARD_TASK_PROFILE)
        task = tx.create("Task", task).record.content
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

    @staticmethod
    def _status_changed(
        tx: Repo, stored: dict[str, Any], current: dict[str, Any], tasks: list[dict[str, Any]]
    ) -> None:
        """The referring side changed the referral's status (revoked, on-hold, entered-in-error …):
        the receiving side — the hospital owning the Task going up, the team and institution going
        down — hears of it at once, like the referring side hears of every Task change."""
        old, new = current.get("status"), stored.get("status")
        if old == new:
            return
        receivers = [ref for task in tasks if (ref := (task.get("owner") or {}).get("reference"))]
        if R.direction(stored) == "down":
            receivers += [
                p["reference"] for p in stored.get("performer") or [] if p.get("reference")
            ]
        recipients = list(dict.fromkeys(receivers))
        if not recipients:
            return
        S.notify(
            tx,
            stored,
            recipients,
            f"转诊单状态 / referral {old} → {new}",
            sender=(stored.get("requester") or {}).get("reference"),
            about=f"Task/{tasks[0]['id']}",
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
    """Status changes of a referral Task: the state machine, reasons, timestamps, notifications,
    completion."""

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Task" and method in ("PUT", "PATCH")

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None or current is None:
            return resource
        referral = S.load(tx, (resource.get("focus") or {}).get("reference"), "ServiceRequest")
        if referral is None or R.direction(referral) is None:
            return resource
        task = copy.deepcopy(resource)
        owner = str((task.get("owner") or {}).get("reference") or "")
        if R.direction(referral) == "up" and owner.startswith(
            ("Organization/", "HealthcareService/", "PractitionerRole/")
        ):
            _claim(task, R.REFERRAL_TASK_PROFILE)
        elif R.direction(referral) == "down" and owner.startswith(
            (
                "CareTeam/",
                "Organization/",
                "HealthcareService/",
                "PractitionerRole/",
                "Practitioner/",
            )
        ):
            _claim(task, R.DOWNWARD_TASK_PROFILE)
        old, status = current.get("status"), task.get("status")
        if old == status:
            return task
        if not R.task_transition_allowed(old, status):
            raise _refuse(
                422,
                f"A referral Task cannot move from {old} to {status} (FHIR Task state machine); "
                f"from {old} it may become: "
                + (", ".join(sorted(R.TASK_TRANSITIONS.get(old or "", ()))) or "entered-in-error"),
                "Task.status",
            )
        at = fhir_instant(S.now(tx))
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
        if status == "completed":
            tx.lock(f"referral:{referral['id']}")
            record = tx.current_or_none("ServiceRequest", referral["id"])
            if record is not None and record.content and record.content.get("status") == "active":
                tx.update(
                    "ServiceRequest", referral["id"], {**record.content, "status": "completed"}
                )
        return task

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        return None


#: The referral rules, collected into `ServerComponents.write_rules` by `app.discover_write_rules`.
WRITE_RULES: tuple[WriteRule, ...] = (
    SlotBookingRule(),
    SlotHoldRule(),
    ReservationTagRule(),
    ReferralRequestRule(),
    ReferralTaskRule(),
)


def write_rules() -> tuple[WriteRule, ...]:
    return WRITE_RULES
