"""Test data for the referral scenarios, as plain FHIR resources per docs/DATA-MODEL.md: a leading
hospital with an expert, an examination room and a ward bed; a primary institution with a
family-doctor team; a hypertensive signed resident with an executed Contract (created directly, not
through the contracting workflow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fhir_server.domain.referrals import rules as R

Create = Callable[[dict[str, Any]], dict[str, Any]]  # posts a resource, returns it with its id
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=R.CST)  # a Monday morning in Guangzhou


def iso(dt: datetime) -> str:
    return dt.isoformat()


def ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def capacity(kind: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": R.CAPACITY_SYSTEM, "code": kind}]}]


@dataclass
class World:
    hospital: dict[str, Any]
    primary: dict[str, Any]
    expert_role: dict[str, Any]
    family_doctor: dict[str, Any]
    team: dict[str, Any]
    patient: dict[str, Any]
    contract: dict[str, Any]
    hospital_doctor: dict[str, Any]
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)


def build_world(create: Create, *, name: str = "张三") -> World:
    hospital = create(
        {
            "resourceType": "Organization",
            "name": "广州市第一人民医院",
            "type": [
                {
                    "coding": [
                        {"system": f"{R.BASE}/CodeSystem/institution-type", "code": "hospital"}
                    ]
                }
            ],
        }
    )
    primary = create(
        {
            "resourceType": "Organization",
            "name": "越秀区某社区卫生服务中心",
            "type": [
                {"coding": [{"system": f"{R.BASE}/CodeSystem/institution-type", "code": "primary"}]}
            ],
        }
    )
    expert = create({"resourceType": "Practitioner", "name": [{"text": "李主任"}]})
    expert_role = create(
        {
            "resourceType": "PractitionerRole",
            "practitioner": ref(expert),
            "organization": ref(hospital),
        }
    )
    hospital_doctor = create(
        {
            "resourceType": "PractitionerRole",
            "practitioner": ref(expert),
            "organization": ref(hospital),
        }
    )
    gp = create({"resourceType": "Practitioner", "name": [{"text": "王医生"}]})
    family_doctor = create(
        {"resourceType": "PractitionerRole", "practitioner": ref(gp), "organization": ref(primary)}
    )
    team = create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "name": f"{name}的家庭医生团队",
            "category": [  # the guide's family-doctor team (jiayi-family-doctor-team)
                {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "LA28865-6",
                            "display": "Longitudinal care-coordination focused care team",
                        }
                    ]
                }
            ],
            "managingOrganization": [ref(primary)],
            "participant": [
                {
                    "role": [
                        {
                            "coding": [
                                {
                                    "system": f"{R.BASE}/CodeSystem/care-team-role",
                                    "code": "team-leader",
                                }
                            ]
                        }
                    ],
                    "member": ref(family_doctor),
                }
            ],
        }
    )
    patient = create(
        {"resourceType": "Patient", "name": [{"text": name}], "birthDate": "1958-05-01"}
    )
    create(
        {
            "resourceType": "Condition",
            "subject": ref(patient),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
        }
    )
    contract = create(
        {
            "resourceType": "Contract",
            "status": "executed",
            "subject": [ref(patient)],
            "applies": {"start": "2026-01-01", "end": "2026-12-31"},
            "authority": [ref(primary)],
            "extension": [{"url": R.CARE_TEAM_EXTENSION, "valueReference": ref(team)}],
            "signer": [
                {
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                        "code": "PRIMAUTH",
                    },
                    "party": ref(family_doctor),
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                }
                            ],
                            "when": "2026-01-01T10:00:00+08:00",
                            "who": ref(family_doctor),
                        }
                    ],
                }
            ],
        }
    )
    return World(
        hospital, primary, expert_role, family_doctor, team, patient, contract, hospital_doctor
    )


def add_schedule(
    create: Create, world: World, kind: str, actor: dict[str, Any] | None = None
) -> dict[str, Any]:
    if actor is None and kind == "bed":
        actor = create(
            {
                "resourceType": "Location",
                "name": "心内科 12 床",
                "physicalType": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                            "code": "bd",
                        }
                    ]
                },
                "managingOrganization": ref(world.hospital),
            }
        )
    schedule = create(
        {
            "resourceType": "Schedule",
            "active": True,
            "serviceCategory": capacity(kind),
            "actor": [ref(actor or world.expert_role)],
        }
    )
    world.schedules[kind] = schedule
    return schedule


def add_slots(
    create: Create,
    schedule: dict[str, Any],
    first: datetime,
    count: int,
    *,
    every: timedelta = timedelta(minutes=30),
    reserved: int = 0,
) -> list[dict[str, Any]]:
    """`count` free slots from `first`; the first `reserved` carry the INTERFACE reservation tag."""
    out = []
    for i in range(count):
        slot: dict[str, Any] = {
            "resourceType": "Slot",
            "schedule": ref(schedule),
            "status": "free",
            "start": iso(first + i * every),
            "end": iso(first + i * every + every),
        }
        if i < reserved:
            slot["meta"] = {"tag": [{"system": R.RESERVATION_SYSTEM, "code": R.RESERVATION_CODE}]}
        out.append(create(slot))
    return out


def referral_code(text: str) -> dict[str, Any]:
    """ServiceRequest.code of a referral: the guide's fixed coding (jiayi-referral: SNOMED CT
    3457005 Patient referral), the requested service in text."""
    return {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}
        ],
        "text": text,
    }


def upward_referral(world: World, *, priority: str = "routine", **extra: Any) -> dict[str, Any]:
    """A complete upward referral; an `extra` value of None drops that element."""
    body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": priority,
        "category": [{"coding": [{"system": R.DIRECTION_SYSTEM, "code": "up"}]}],
        "code": referral_code("心内科专家门诊"),
        "subject": ref(world.patient),
        "requester": ref(world.family_doctor),
        "performer": [ref(world.hospital)],
        "reasonCode": [
            {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}],
                "text": "血压控制不佳",
            }
        ],
        "note": [{"text": "高血压10年，三种降压药联合血压仍160/100 mmHg"}],
        "supportingInfo": [ref(world.contract)],
        **extra,
    }
    return {k: v for k, v in body.items() if v is not None}


def appointment(
    world: World, slot: dict[str, Any], referral: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [ref(slot)],
        "start": slot["start"],
        "end": slot["end"],
        "participant": [{"actor": ref(world.patient), "status": "accepted"}],
    }
    if referral is not None:
        body["basedOn"] = [ref(referral)]
    return body
