"""Referral workflow services over the repository: contracts and teams, hospitals, Tasks,
notifications, alternatives and the downward-referral worklist.

Seed clauses: 粤(四) 畅通双向转诊 — referred signed residents get priority, hospitals "及时向基层机构
反馈下转患者信息"; 国卫办基层发〔2025〕21号 一(四) "及时向基层医疗卫生机构推送下转患者信息".
Conventions: docs/DATA-MODEL.md (active Contract → `contract-care-team` → CareTeam; referral
ServiceRequest + Task `focus`).  All reads and writes go through the given repository (in a write
rule: the writer's unit of work).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ...services.every_match import iter_matches
from . import rules as R
from .ports import Repo

_PAGE = 500


def ref_id(reference: str | None, resource_type: str) -> str | None:
    """`Type/id` (relative, or absolute ending so) → id, when it names `resource_type`."""
    if not reference:
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1]
    if len(parts) >= 4 and parts[-4] == resource_type and parts[-2] == "_history":
        return parts[-3]
    return None


def load(repo: Repo, reference: str | None, resource_type: str) -> dict[str, Any] | None:
    rid = ref_id(reference, resource_type)
    if rid is None:
        return None
    record = repo.current_or_none(resource_type, rid)
    if record is None or record.content is None:
        return None
    return record.content


def search_all(
    repo: Repo, resource_type: str, query: list[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """Every match of a search, page after page."""
    return iter_matches(repo, resource_type, query, _PAGE)


def now(repo: Repo) -> datetime:
    return repo.components.clock.now()


# -- contracts, teams, hospitals --------------------------------------------------------------------
def active_contract(repo: Repo, patient_id: str, at: datetime) -> dict[str, Any] | None:
    """The resident's contract in force at `at` (DATA-MODEL: executed, subject, applies covers)."""
    for contract in search_all(
        repo, "Contract", [("subject", f"Patient/{patient_id}"), ("status", "executed")]
    ):
        if R.period_covers(contract.get("applies"), at):
            return contract
    return None


def contract_team(contract: dict[str, Any]) -> str | None:
    for ext in contract.get("extension") or []:
        if ext.get("url") == R.CARE_TEAM_EXTENSION:
            return (ext.get("valueReference") or {}).get("reference")
    return None


def contract_institution(repo: Repo, contract: dict[str, Any]) -> str | None:
    authority = contract.get("authority") or []
    if authority and authority[0].get("reference"):
        return str(authority[0]["reference"])
    team = load(repo, contract_team(contract), "CareTeam")
    managing = (team or {}).get("managingOrganization") or []
    return managing[0].get("reference") if managing else None


def hospital_of(repo: Repo, reference: str | None) -> str | None:
    """The Organization behind a performer/actor: itself, PractitionerRole.organization,
    HealthcareService.providedBy or Location.managingOrganization."""
    if not reference:
        return None
    if ref_id(reference, "Organization"):
        return f"Organization/{ref_id(reference, 'Organization')}"
    for rtype, element in (
        ("PractitionerRole", "organization"),
        ("HealthcareService", "providedBy"),
        ("Location", "managingOrganization"),
    ):
        found = load(repo, reference, rtype)
        if found is not None:
            org = (found.get(element) or {}).get("reference")
            return hospital_of(repo, org) if org else None
    return None


def practitioner_hospitals(repo: Repo, reference: str | None) -> list[str]:
    """The Organizations a `Practitioner/<id>` works for (`PractitionerRole?practitioner=`)."""
    pid = ref_id(reference, "Practitioner")
    if pid is None:
        return []
    found = [
        hospital_of(repo, (role.get("organization") or {}).get("reference"))
        for role in search_all(repo, "PractitionerRole", [("practitioner", f"Practitioner/{pid}")])
    ]
    return list(dict.fromkeys(h for h in found if h))


def belongs_to(repo: Repo, reference: str | None, hospital: str) -> bool:
    """Is the actor (Organization, PractitionerRole, HealthcareService, Location, or a Practitioner
    through any of their PractitionerRoles) the hospital's?"""
    if hospital_of(repo, reference) == hospital:
        return True
    return hospital in practitioner_hospitals(repo, reference)


def schedule_hospital(repo: Repo, schedule: dict[str, Any]) -> str | None:
    for actor in schedule.get("actor") or []:
        org = hospital_of(repo, actor.get("reference"))
        if org:
            return org
    return None


def schedule_department(schedule: dict[str, Any]) -> str | None:
    for actor in schedule.get("actor") or []:
        ref = str(actor.get("reference") or "")
        if ref_id(ref, "HealthcareService"):
            return ref
    return None


def capacity_kind(slot: dict[str, Any], schedule: dict[str, Any] | None) -> str:
    found = R.codes(slot.get("serviceCategory"), R.CAPACITY_SYSTEM) or R.codes(
        (schedule or {}).get("serviceCategory"), R.CAPACITY_SYSTEM
    )
    return found[0] if found else "expert"


# -- Tasks and notifications --------------------------------------------------------------------------
def referral_task(
    service_request: dict[str, Any], owner: str | None, requester: str | None, at: datetime
) -> dict[str, Any]:
    """The hospital-progress (up) or acknowledgement (down) Task of a referral (focus → it)."""
    way = R.direction(service_request) or "up"
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": service_request.get("priority", "routine"),
        "code": {
            "coding": [
                {"system": R.TASK_CODE_SYSTEM, "code": "fulfill"},
                {"system": R.DIRECTION_SYSTEM, "code": way},
            ]
        },
        "focus": {"reference": f"ServiceRequest/{service_request['id']}"},
        "basedOn": [{"reference": f"ServiceRequest/{service_request['id']}"}],
        "authoredOn": fhir_instant(at),
        "lastModified": fhir_instant(at),
    }
    if service_request.get("subject"):
        task["for"] = service_request["subject"]
    if owner:
        task["owner"] = {"reference": owner}
    if requester:
        task["requester"] = {"reference": requester}
    return task


def referral_tasks(repo: Repo, service_request_id: str) -> list[dict[str, Any]]:
    """The Tasks of a referral (hospital progress going up, acknowledgement going down)."""
    return list(search_all(repo, "Task", [("focus", f"ServiceRequest/{service_request_id}")]))


def refused_by_hospital(repo: Repo, service_request_id: str) -> dict[str, Any] | None:
    """The Task by which the hospital turned the referral down, when it did (rules.referral_refused)."""
    tasks = referral_tasks(repo, service_request_id)
    if R.referral_refused([t.get("status") for t in tasks]):
        return tasks[0]
    return None


def booking_recipients(repo: Repo, service_request: dict[str, Any], at: datetime) -> list[str]:
    """Who hears about a booking change: the referring team and doctor, and the hospital Task's
    owner(s)."""
    owners = [
        ref
        for task in referral_tasks(repo, service_request["id"])
        if (ref := (task.get("owner") or {}).get("reference"))
    ]
    return list(dict.fromkeys([*referring_recipients(repo, service_request, at), *owners]))


def referring_recipients(repo: Repo, service_request: dict[str, Any], at: datetime) -> list[str]:
    """Who hears about a change: for an upward referral the referring family-doctor team (from the
    Contract in supportingInfo, else the resident's active contract) and the referring doctor; for a
    downward referral the hospital doctor who referred down."""
    out: list[str] = []
    requester = (service_request.get("requester") or {}).get("reference")
    if R.direction(service_request) == "up":
        contract = None
        for info in service_request.get("supportingInfo") or []:
            contract = contract or load(repo, info.get("reference"), "Contract")
        patient = ref_id((service_request.get("subject") or {}).get("reference"), "Patient")
        if contract is None and patient:
            contract = active_contract(repo, patient, at)
        team = contract_team(contract) if contract else None
        if team:
            out.append(team)
    if requester:
        out.append(requester)
    return list(dict.fromkeys(out))


def notify(
    repo: Repo,
    service_request: dict[str, Any],
    recipients: list[str],
    text: str,
    *,
    sender: str | None = None,
    about: str | None = None,
    attachments: list[str] | None = None,
) -> dict[str, Any]:
    """One `Communication` to the referral's other side (DATA-MODEL: basedOn the referral)."""
    at = fhir_instant(now(repo))
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": R.MARKER_SYSTEM, "code": "referral-notification"}]}],
        "basedOn": [{"reference": f"ServiceRequest/{service_request['id']}"}],
        "sent": at,
        "payload": [{"contentString": text}]
        + [{"contentReference": {"reference": ref}} for ref in attachments or []],
    }
    if recipients:
        communication["recipient"] = [{"reference": r} for r in dict.fromkeys(recipients)]
    if service_request.get("subject"):
        communication["subject"] = service_request["subject"]
    if sender and ref_id(sender, "CareTeam"):
        # R4 Communication.sender allows no CareTeam: the team speaks through its institution
        managing = (load(repo, sender, "CareTeam") or {}).get("managingOrganization") or []
        sender = managing[0].get("reference") if managing else None
    if sender:
        communication["sender"] = {"reference": sender}
    if about:
        communication["about"] = [{"reference": about}]
    subject = str((service_request.get("subject") or {}).get("reference") or "")
    if recipients and (not subject or ref_id(subject, "Patient")):
        communication["meta"] = {"profile": [R.REFERRAL_COMMUNICATION_PROFILE]}
    return repo.create("Communication", communication).record.content


# -- alternatives and worklist ---------------------------------------------------------------------
def free_slots(
    repo: Repo, schedules: list[str], after: datetime, *, reserved: bool | None, limit: int = 5
) -> list[dict[str, Any]]:
    """Free slots of `schedules` starting after `after`, earliest first; `reserved` filters the tag."""
    if not schedules:
        return []
    query = [
        ("schedule", ",".join(schedules)),
        ("status", "free"),
        ("start", f"gt{fhir_instant(after)}"),
        ("_sort", "start"),
    ]
    out = []
    for slot in search_all(repo, "Slot", query):
        if reserved is None or R.is_reserved(slot) == reserved:
            out.append(slot)
        if len(out) >= limit:
            break
    return out


def hospital_schedules(
    repo: Repo, hospital: str, kind: str | None = None, department: str | None = None
) -> list[str]:
    """`Schedule/<id>` of every schedule whose actor belongs to the hospital (of one capacity kind,
    of one department — a `HealthcareService` actor — when given)."""
    actors = [hospital]
    for rtype, param in (
        ("PractitionerRole", "organization"),
        ("HealthcareService", "organization"),
        ("Location", "organization"),
    ):
        actors += [f"{rtype}/{r['id']}" for r in search_all(repo, rtype, [(param, hospital)])]
    query = [("actor", ",".join(a for a in actors if not a.startswith("Organization/")))]
    if len(query[0][1]) == 0:
        return []
    out = []
    for schedule in search_all(repo, "Schedule", query):
        if kind is not None and capacity_kind({}, schedule) != kind:
            continue
        if department is not None and schedule_department(schedule) != department:
            continue
        out.append(f"Schedule/{schedule['id']}")
    return out


def alternatives(
    repo: Repo, service_request: dict[str, Any], limit: int = 5
) -> list[dict[str, Any]]:
    """What a hospital can offer a referral: free slots of the capacity kind the referral asks for
    (`referral-capacity` in its category) and of its target department (a `HealthcareService`
    performer), reserved ones first, then public ones.  A referral the hospital turned down
    (rules.referral_refused) books no reserved capacity, so it is offered public slots only."""
    hospital = department = None
    for performer in service_request.get("performer") or []:
        reference = performer.get("reference")
        hospital = hospital or hospital_of(repo, reference)
        if department is None and ref_id(reference, "HealthcareService"):
            department = f"HealthcareService/{ref_id(reference, 'HealthcareService')}"
    if hospital is None:
        raise E.unprocessable(
            [
                E.error(
                    "invalid", "The referral names no target hospital", "ServiceRequest.performer"
                )
            ]
        )
    schedules = hospital_schedules(repo, hospital, R.referral_kind(service_request), department)
    at = now(repo)
    found: list[dict[str, Any]] = []
    if refused_by_hospital(repo, service_request["id"]) is None:
        found = free_slots(repo, schedules, at, reserved=True, limit=limit)
    if len(found) < limit:
        found += free_slots(repo, schedules, at, reserved=False, limit=limit - len(found))
    return found


def worklist(repo: Repo, team: str) -> list[dict[str, Any]]:
    """Pending downward referrals of a team: Tasks it owns, still unacknowledged, oldest first.
    The same list as `Task?owner=<team>&code=referral-direction|down&status=requested,received`."""
    query = [
        ("owner", team),
        ("code", f"{R.DIRECTION_SYSTEM}|down"),
        ("status", ",".join(sorted(R.PENDING_TASK_STATUSES))),
        ("_sort", "authored-on"),
    ]
    return list(search_all(repo, "Task", query))
