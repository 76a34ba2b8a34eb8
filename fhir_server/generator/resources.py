"""Generated people and providers → FHIR R4 resources, shaped as docs/DATA-MODEL.md and
INTERFACE.md say and claiming the guide's profiles (identifier systems, division-code and
community-unit extensions, families as `jiayi-family` Groups, key-population Flags, ICD-10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from .population import Household, Resident
from .providers import Doctor, Institution, Providers, Team

BASE = "https://jiayi.health/fhir"
SD = f"{BASE}/StructureDefinition/"
ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
RECORD_NUMBER = "urn:oid:2.16.156.10011.1.2"
PRACTICE_CERTIFICATE = f"{BASE}/sid/practice-certificate"
DIVISION = f"{SD}division-code"
COMMUNITY_UNIT = f"{SD}community-unit"
FAMILY_MEMBERSHIP = f"{SD}family-membership"
FAMILY_ROLE = f"{SD}family-role"
SINKING_FROM = f"{SD}sinking-from"
KEY_POPULATION = f"{BASE}/CodeSystem/key-population"
INSTITUTION_TYPE = f"{BASE}/CodeSystem/institution-type"
TEAM_ROLE = f"{BASE}/CodeSystem/care-team-role"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
PREGNANCY_ICD10 = "Z34.9"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
TEAM_CATEGORY = {
    "coding": [
        {
            "system": "http://loinc.org",
            "code": "LA28865-6",
            "display": "Longitudinal care-coordination focused care team",
        }
    ]
}
ROLE_DISPLAY = {
    "team-leader": "团队长",
    "general-practitioner": "全科医生",
    "specialist": "专科医生",
    "sinking-doctor": "下沉医生",
    "nurse": "护士",
    "public-health-physician": "公共卫生医师",
}
RELATIONSHIP_DISPLAY = {
    "WIFE": "wife",
    "HUSB": "husband",
    "SON": "natural son",
    "DAU": "natural daughter",
    "FTH": "father",
    "MTH": "mother",
    "GRNDSON": "grandson",
    "GRNDDAU": "granddaughter",
}
#: GB/T 26341 disability categories (the 19th digit of a 残疾人证 number)
DISABILITY_KINDS = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
CONDITION_TEXT = {
    "I10": "原发性高血压",
    "E11.9": "2型糖尿病",
    "J44.9": "慢性阻塞性肺疾病",
    "F20.9": "精神分裂症",
    "A15.0": "肺结核",
    PREGNANCY_ICD10: "妊娠监护",
}


def ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def profile(name: str) -> dict[str, list[str]]:
    return {"profile": [SD + name]}


def patient_id(p: Resident, prefix: str) -> str:
    return f"{prefix}p-{p.key}"


def group_id(h: Household, prefix: str) -> str:
    return f"{prefix}g-{h.key}"


def patient(
    p: Resident, prefix: str, city: str, city_name: str, family: str | None = None
) -> dict[str, Any]:
    line = f"{p.street}{p.community}{p.unit}"
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id(p, prefix),
        "meta": profile("jiayi-patient"),
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
                "extension": [
                    {"url": DIVISION, "valueCode": p.district},
                    {
                        "url": COMMUNITY_UNIT,
                        "extension": [
                            {"url": "committee", "valueString": f"{p.community}居委会"},
                            *([{"url": "unit", "valueString": p.unit}] if p.unit else []),
                        ],
                    },
                ],
                "use": "home",
                "text": f"广东省{city_name}{p.district_name}{line}",
                "line": [line],
                "city": city_name,
                "district": p.district_name,
                "state": "广东省",
                "country": "CN",
            }
        ],
    }
    if family:
        resource["extension"] = [{"url": FAMILY_MEMBERSHIP, "valueReference": ref("Group", family)}]
    return resource


def family_group(h: Household, prefix: str) -> dict[str, Any]:
    members = []
    for m in h.members:
        if m.relationship is None:
            role = [{"url": "householder", "valueBoolean": True}]
        else:
            coding = {
                "system": ROLE_CODE,
                "code": m.relationship,
                "display": RELATIONSHIP_DISPLAY[m.relationship],
            }
            role = [{"url": "relationship", "valueCodeableConcept": {"coding": [coding]}}]
        members.append(
            {
                "extension": [{"url": FAMILY_ROLE, "extension": role}],
                "entity": ref("Patient", patient_id(m, prefix)),
            }
        )
    head = h.members[0]
    return {
        "resourceType": "Group",
        "id": group_id(h, prefix),
        "meta": profile("jiayi-family"),
        "type": "person",
        "actual": True,
        "code": {"coding": [{"system": ROLE_CODE, "code": "FAMMEMB", "display": "family member"}]},
        "name": f"{head.family_name}{head.given_name}家庭（{head.community}{head.unit}）",
        "quantity": len(h.members),
        "member": members,
    }


def household_resources(
    h: Household, prefix: str, city: str, city_name: str, on: date
) -> Iterator[dict[str, Any]]:
    """Members (Patient and health record), then the family Group (households of 2 or more)."""
    family = group_id(h, prefix) if len(h.members) > 1 else None
    for member in h.members:
        yield patient(member, prefix, city, city_name, family)
        yield from health_resources(member, prefix, on)
    if family:
        yield family_group(h, prefix)


def _condition(
    rid: str, subject: dict[str, str], code: str, population: str, onset: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "code": {
            "coding": [{"system": ICD10, "code": code}],
            "text": CONDITION_TEXT.get(code, population),
        },
        "subject": subject,
    }
    if onset:
        out["onsetDateTime"] = onset
    return out


def disability_certificate(p: Resident) -> str:
    """残疾人证号: the ID number, the category digit (GB/T 26341) and the level digit (1–4)."""
    digits = int(p.id_number[-5:-1])
    return f"{p.id_number}{digits % len(DISABILITY_KINDS) + 1}{digits % 4 + 1}"


def health_resources(p: Resident, prefix: str, on: date) -> Iterator[dict[str, Any]]:
    subject = ref("Patient", patient_id(p, prefix))
    for i, (population, code) in enumerate(p.conditions):
        yield _condition(f"{prefix}c-{p.key}-{i}", subject, code, population, None)
    if p.pregnant:
        yield _condition(
            f"{prefix}c-{p.key}-preg", subject, PREGNANCY_ICD10, "maternal", on.isoformat()
        )
    if p.disabled:
        number = disability_certificate(p)
        kind = DISABILITY_KINDS[int(number[18]) - 1]
        yield {
            "resourceType": "Flag",
            "id": f"{prefix}f-{p.key}",
            "identifier": [{"type": {"text": "残疾人证号"}, "value": number}],
            "status": "active",
            "category": [{"text": "残疾人 disability certificate"}],
            "code": {
                "coding": [{"system": KEY_POPULATION, "code": "disabled", "display": "残疾人"}],
                "text": f"残疾人证 {number}（{kind}残疾{number[19]}级）",
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


def institution_types(kind: str) -> list[dict[str, Any]]:
    """An institution's type codings: its kind plus `primary`/`hospital` (what contracting checks)."""
    group = "hospital" if kind in ("medical-group-lead", "level-2-hospital") else "primary"
    return [{"coding": [{"system": INSTITUTION_TYPE, "code": c}]} for c in (group, kind)]


def institution(org: Institution, prefix: str) -> Iterator[dict[str, Any]]:
    oid = f"{prefix}o-{org.key}"
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "meta": profile("jiayi-organization"),
        "active": True,
        "type": institution_types(org.type),
        "name": org.name,
        "address": [
            {"extension": [{"url": DIVISION, "valueCode": org.district}], "state": "广东省"}
        ],
    }
    if org.part_of:
        resource["partOf"] = ref("Organization", f"{prefix}o-{org.part_of}")
    yield resource
    yield {
        "resourceType": "Location",
        "id": f"{prefix}l-{org.key}",
        "meta": profile("jiayi-location"),
        "status": "active",
        "name": org.name,
        "mode": "instance",
        "position": {"latitude": org.position[0], "longitude": org.position[1]},
        "managingOrganization": ref("Organization", oid),
    }


def practitioner(key: str, family: str, given: str, sex: str, licence: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": key,
        "meta": profile("jiayi-practitioner"),
        "active": True,
        "qualification": [
            {
                "identifier": [{"system": PRACTICE_CERTIFICATE, "value": licence}],
                "code": {"text": "医师执业证书"},
            }
        ],
        "name": [{"text": family + given, "family": family, "given": [given]}],
        "gender": sex,
    }


def role_coding(code: str) -> dict[str, Any]:
    return {
        "coding": [{"system": TEAM_ROLE, "code": code, "display": ROLE_DISPLAY.get(code, code)}]
    }


def _role(d: Doctor, prefix: str, org: str, sinking_from: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": f"{prefix}pr-{d.key}",
        "meta": profile("jiayi-practitioner-role"),
        "active": True,
        "practitioner": ref("Practitioner", f"{prefix}dr-{d.key}"),
        "organization": ref("Organization", f"{prefix}o-{org}"),
        "code": [role_coding(d.role)],
    }
    if sinking_from:
        role["extension"] = [
            {
                "url": SINKING_FROM,
                "valueReference": ref("Organization", f"{prefix}o-{sinking_from}"),
            }
        ]
    return role


def team_resources(team: Team, prefix: str, hospital: str) -> Iterator[dict[str, Any]]:
    participants = []
    members = list(team.members) + ([team.sinking] if team.sinking else [])
    for i, d in enumerate(members):
        yield practitioner(f"{prefix}dr-{d.key}", d.family_name, d.given_name, d.sex, d.licence)
        yield _role(d, prefix, team.centre, hospital if d is team.sinking else None)
        participants.append(
            {
                "role": [role_coding("team-leader" if i == 0 else d.role)],
                "member": ref("PractitionerRole", f"{prefix}pr-{d.key}"),
            }
        )
    yield {
        "resourceType": "CareTeam",
        "id": f"{prefix}t-{team.key}",
        "meta": profile("jiayi-family-doctor-team"),
        "status": "active",
        "category": [TEAM_CATEGORY],
        "name": f"{team.members[0].family_name}{team.members[0].given_name}家庭医生团队",
        "participant": participants,
        "managingOrganization": [ref("Organization", f"{prefix}o-{team.centre}")],
    }


def provider_resources(providers: Providers, prefix: str) -> Iterator[dict[str, Any]]:
    yield from institution(providers.hospital, prefix)
    for org in [*providers.centres, *providers.stations]:
        yield from institution(org, prefix)
    for team in providers.teams:
        yield from team_resources(team, prefix, providers.hospital.key)
