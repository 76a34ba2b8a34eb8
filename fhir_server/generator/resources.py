"""Generated people and providers → FHIR R4 resources, shaped as docs/DATA-MODEL.md and
INTERFACE.md say (identifier systems, division-code extension, key-population Flags, ICD-10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from .population import Household, Resident
from .providers import Doctor, Institution, Providers, Team

ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
RECORD_NUMBER = "urn:oid:2.16.156.10011.1.2"
DIVISION = "https://jiayi.health/fhir/StructureDefinition/division-code"
KEY_POPULATION = "https://jiayi.health/fhir/CodeSystem/key-population"
INSTITUTION_TYPE = "https://jiayi.health/fhir/CodeSystem/institution-type"
TEAM_ROLE = "https://jiayi.health/fhir/CodeSystem/care-team-role"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
PREGNANCY_ICD10 = "Z34.9"


def _ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def patient(p: Resident, prefix: str, city: str, city_name: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": f"{prefix}p-{p.key}",
        "identifier": [
            {"system": ID_NUMBER, "value": p.id_number},
            {"system": RECORD_NUMBER, "value": p.record_number},
        ],
        "active": True,
        "name": [
            {
                "use": "official",
                "text": p.family_name + p.given_name,
                "family": p.family_name,
                "given": [p.given_name],
            }
        ],
        "telecom": [{"system": "phone", "value": p.phone, "use": "mobile"}],
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
        "address": [
            {
                "extension": [{"url": DIVISION, "valueCode": p.district}],
                "use": "home",
                "line": [p.community],
                "city": city_name,
                "district": p.district_name,
                "state": "广东省",
                "country": "CN",
            }
        ],
    }


def family_group(h: Household, prefix: str) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": f"{prefix}g-{h.key}",
        "type": "person",
        "actual": True,
        "code": {"text": "家庭 family"},
        "name": f"{h.members[0].family_name}家",
        "quantity": len(h.members),
        "member": [{"entity": _ref("Patient", f"{prefix}p-{m.key}")} for m in h.members],
    }


def health_resources(p: Resident, prefix: str, on: date) -> Iterator[dict[str, Any]]:
    subject = _ref("Patient", f"{prefix}p-{p.key}")
    for i, (population, code) in enumerate(p.conditions):
        yield {
            "resourceType": "Condition",
            "id": f"{prefix}c-{p.key}-{i}",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": code}], "text": population},
            "subject": subject,
        }
    if p.pregnant:
        yield {
            "resourceType": "Condition",
            "id": f"{prefix}c-{p.key}-preg",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": PREGNANCY_ICD10}], "text": "妊娠监护"},
            "subject": subject,
            "onsetDateTime": on.isoformat(),
        }
    if p.disabled:
        yield {
            "resourceType": "Flag",
            "id": f"{prefix}f-{p.key}",
            "status": "active",
            "code": {
                "coding": [{"system": KEY_POPULATION, "code": "disabled", "display": "残疾人"}],
                "text": f"残疾人证 {p.id_number}{p.key[-1]}1",
            },
            "subject": subject,
        }
    if p.cancer_high_risk:
        yield {
            "resourceType": "RiskAssessment",
            "id": f"{prefix}r-{p.key}",
            "status": "final",
            "subject": subject,
            "occurrenceDateTime": on.isoformat(),
            "code": {"text": "癌症风险评估 cancer risk assessment"},
            "prediction": [
                {
                    "outcome": {"text": "cancer"},
                    "qualitativeRisk": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/risk-probability",
                                "code": "high",
                            }
                        ]
                    },
                }
            ],
        }


def institution(org: Institution, prefix: str) -> Iterator[dict[str, Any]]:
    oid = f"{prefix}o-{org.key}"
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "active": True,
        "type": [{"coding": [{"system": INSTITUTION_TYPE, "code": org.type}]}],
        "name": org.name,
        "address": [
            {"extension": [{"url": DIVISION, "valueCode": org.district}], "state": "广东省"}
        ],
    }
    if org.part_of:
        resource["partOf"] = _ref("Organization", f"{prefix}o-{org.part_of}")
    yield resource
    yield {
        "resourceType": "Location",
        "id": f"{prefix}l-{org.key}",
        "status": "active",
        "name": org.name,
        "mode": "instance",
        "position": {"latitude": org.position[0], "longitude": org.position[1]},
        "managingOrganization": _ref("Organization", oid),
    }


def _practitioner(d: Doctor, prefix: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": f"{prefix}dr-{d.key}",
        "active": True,
        "identifier": [
            {
                "system": "https://jiayi.health/fhir/NamingSystem/practice-certificate",
                "value": d.licence,
            }
        ],
        "name": [
            {"text": d.family_name + d.given_name, "family": d.family_name, "given": [d.given_name]}
        ],
        "gender": d.sex,
    }


def _role(d: Doctor, prefix: str, org: str, sinking_from: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": f"{prefix}pr-{d.key}",
        "active": True,
        "practitioner": _ref("Practitioner", f"{prefix}dr-{d.key}"),
        "organization": _ref("Organization", f"{prefix}o-{org}"),
        "code": [{"coding": [{"system": TEAM_ROLE, "code": d.role}]}],
    }
    if sinking_from:
        role["extension"] = [
            {
                "url": "https://jiayi.health/fhir/StructureDefinition/sinking-from",
                "valueReference": _ref("Organization", f"{prefix}o-{sinking_from}"),
            }
        ]
    return role


def team_resources(team: Team, prefix: str, hospital: str) -> Iterator[dict[str, Any]]:
    participants = []
    members = list(team.members) + ([team.sinking] if team.sinking else [])
    for i, d in enumerate(members):
        yield _practitioner(d, prefix)
        yield _role(d, prefix, team.centre, hospital if d is team.sinking else None)
        code = "team-leader" if i == 0 else d.role
        participants.append(
            {
                "role": [{"coding": [{"system": TEAM_ROLE, "code": code}]}],
                "member": _ref("PractitionerRole", f"{prefix}pr-{d.key}"),
            }
        )
    yield {
        "resourceType": "CareTeam",
        "id": f"{prefix}t-{team.key}",
        "status": "active",
        "category": [{"text": "家庭医生团队 family-doctor team"}],
        "name": f"{team.members[0].family_name}{team.members[0].given_name}家庭医生团队",
        "participant": participants,
        "managingOrganization": [_ref("Organization", f"{prefix}o-{team.centre}")],
    }


def provider_resources(providers: Providers, prefix: str) -> Iterator[dict[str, Any]]:
    yield from institution(providers.hospital, prefix)
    for org in [*providers.centres, *providers.stations]:
        yield from institution(org, prefix)
    for team in providers.teams:
        yield from team_resources(team, prefix, providers.hospital.key)
