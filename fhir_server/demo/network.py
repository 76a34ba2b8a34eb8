"""The demo district's provider network as FHIR resources (pure; ids prefixed `demo-`).

A medical group led by a district hospital, two community health centres with two stations each, a
private clinic taking part (seed: non-government institutions may sign), eight family-doctor teams —
one with a cardiologist sinking from the leading hospital — a public notice (HealthcareService) per
community, and Locations with coordinates and service-area boundaries (GeoJSON).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

DIVISION = "https://jiayi.health/fhir/StructureDefinition/division-code"
INSTITUTION_TYPE = "https://jiayi.health/fhir/CodeSystem/institution-type"
TEAM_ROLE = "https://jiayi.health/fhir/CodeSystem/care-team-role"
SIGNING_CHANNEL = "https://jiayi.health/fhir/CodeSystem/signing-channel"
BOUNDARY = "http://hl7.org/fhir/StructureDefinition/location-boundary-geojson"
SINKING_FROM = "https://jiayi.health/fhir/StructureDefinition/sinking-from"
DISTRICT = ("440106", "天河区")


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    types: tuple[str, ...]
    lat: float
    lon: float
    part_of: str | None
    phone: str


SITES = (
    Site("group", "天河区紧密型城市医疗集团", (), 23.1250, 113.3610, None, "020-38000000"),
    Site(
        "hospital",
        "广州市天河区人民医院",
        ("medical-group-lead", "level-2-hospital"),
        23.1339,
        113.3650,
        "group",
        "020-38001000",
    ),
    Site(
        "chc-1",
        "天河区石牌街社区卫生服务中心",
        ("community-health-centre",),
        23.1370,
        113.3420,
        "group",
        "020-38002000",
    ),
    Site(
        "chc-2",
        "天河区棠下街社区卫生服务中心",
        ("community-health-centre",),
        23.1380,
        113.3790,
        "group",
        "020-38003000",
    ),
    Site(
        "station-1",
        "石牌村社区卫生服务站",
        ("community-health-station",),
        23.1330,
        113.3380,
        "chc-1",
        "020-38002100",
    ),
    Site(
        "station-2",
        "华师社区卫生服务站",
        ("community-health-station",),
        23.1420,
        113.3500,
        "chc-1",
        "020-38002200",
    ),
    Site(
        "station-3",
        "棠下社区卫生服务站",
        ("community-health-station",),
        23.1350,
        113.3750,
        "chc-2",
        "020-38003100",
    ),
    Site(
        "station-4",
        "车陂社区卫生服务站",
        ("community-health-station",),
        23.1290,
        113.3920,
        "chc-2",
        "020-38003200",
    ),
    Site(
        "clinic",
        "天河康健门诊部",
        ("non-government", "clinic"),
        23.1310,
        113.3560,
        None,
        "020-38004000",
    ),
)

#: community → (its station, its centre, the teams serving it)
COMMUNITIES = {
    "石牌村社区": ("station-1", "chc-1", (1, 2)),
    "华师社区": ("station-2", "chc-1", (3, 4)),
    "棠下社区": ("station-3", "chc-2", (5, 6)),
    "车陂社区": ("station-4", "chc-2", (7, 8)),
}

DOCTORS = (
    ("陈", "志明", "male"), ("李", "丽芳", "female"), ("黄", "伟强", "male"), ("张", "敏", "female"),
    ("梁", "俊杰", "male"), ("林", "婷", "female"), ("刘", "建国", "male"), ("吴", "嘉怡", "female"),
)  # fmt: skip
NURSES = ("罗秀娟", "杨燕", "郑晓梅", "谢雪", "何玲", "周倩", "叶佩", "钟莹")
PUBLIC_HEALTH = ("曾涛", "王鸿", "邓锦荣", "许永", "冯达", "蔡峰", "卢勇", "余健")


def _ref(kind: str, key: str) -> dict[str, str]:
    return {"reference": f"{kind}/demo-{key}"}


def _square(lat: float, lon: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def organization(site: Site) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": f"demo-{site.key}",
        "active": True,
        "name": site.name,
        "telecom": [{"system": "phone", "value": site.phone}],
        "address": [
            {
                "extension": [{"url": DIVISION, "valueCode": DISTRICT[0]}],
                "city": "广州市",
                "district": DISTRICT[1],
                "state": "广东省",
            }
        ],
    }
    if site.types:
        org["type"] = [{"coding": [{"system": INSTITUTION_TYPE, "code": t}]} for t in site.types]
    else:
        org["type"] = [{"text": "紧密型城市医疗集团 medical group"}]
    if site.part_of:
        org["partOf"] = _ref("Organization", site.part_of)
    return org


def location(site: Site) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "resourceType": "Location",
        "id": f"demo-loc-{site.key}",
        "status": "active",
        "name": site.name,
        "mode": "instance",
        "position": {"latitude": site.lat, "longitude": site.lon},
        "managingOrganization": _ref("Organization", site.key),
    }
    if site.key.startswith(("chc", "station")):
        geojson = json.dumps(
            _square(site.lat, site.lon, 0.006 if site.key.startswith("chc") else 0.003)
        ).encode()
        loc["extension"] = [
            {
                "url": BOUNDARY,
                "valueAttachment": {
                    "contentType": "application/geo+json",
                    "data": base64.b64encode(geojson).decode(),
                },
            }
        ]
    return loc


def _practitioner(key: str, family: str, given: str, sex: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": f"demo-{key}",
        "active": True,
        "gender": sex,
        "name": [{"text": family + given, "family": family, "given": [given]}],
        "identifier": [
            {
                "system": "https://jiayi.health/fhir/NamingSystem/practice-certificate",
                "value": f"11044010600{key[-2:].replace('-', '0')}",
            }
        ],
    }


def _role(
    key: str, organization_key: str, role: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": f"demo-role-{key}",
        "active": True,
        "practitioner": _ref("Practitioner", key),
        "organization": _ref("Organization", organization_key),
        "code": [{"coding": [{"system": TEAM_ROLE, "code": role}]}],
        **(extra or {}),
    }


def team_centre(team: int) -> str:
    return "chc-1" if team <= 4 else "chc-2"


def teams() -> list[dict[str, Any]]:
    """Practitioners, their roles and the eight CareTeams."""
    out: list[dict[str, Any]] = []
    for i in range(1, 9):
        centre = team_centre(i)
        family, given, sex = DOCTORS[i - 1]
        members = [
            (f"dr-{i}", family, given, sex, "general-practitioner"),
            (f"nurse-{i}", NURSES[i - 1][0], NURSES[i - 1][1:], "female", "nurse"),
            (
                f"ph-{i}",
                PUBLIC_HEALTH[i - 1][0],
                PUBLIC_HEALTH[i - 1][1:],
                "male",
                "public-health-physician",
            ),
        ]
        participants = []
        for j, (key, fam, giv, sx, role) in enumerate(members):
            out.append(_practitioner(key, fam, giv, sx))
            out.append(_role(key, centre, role))
            participants.append(
                {
                    "role": [
                        {
                            "coding": [
                                {"system": TEAM_ROLE, "code": "team-leader" if j == 0 else role}
                            ]
                        }
                    ],
                    "member": _ref("PractitionerRole", key),
                }
            )
        if i == 8:
            out.append(_practitioner("dr-sink", "欧阳", "明远", "male"))
            out.append(
                _role(
                    "dr-sink",
                    "hospital",
                    "specialist",
                    {"specialty": [{"text": "心血管内科 cardiology"}]},
                )
            )
            out.append(
                _role(
                    "dr-sink-chc",
                    centre,
                    "sinking-doctor",
                    {
                        "practitioner": _ref("Practitioner", "dr-sink"),
                        "extension": [
                            {
                                "url": SINKING_FROM,
                                "valueReference": _ref("Organization", "hospital"),
                            }
                        ],
                    },
                )
            )
            participants.append(
                {
                    "role": [{"coding": [{"system": TEAM_ROLE, "code": "sinking-doctor"}]}],
                    "member": _ref("PractitionerRole", "dr-sink-chc"),
                }
            )
        out.append(
            {
                "resourceType": "CareTeam",
                "id": f"demo-team-{i}",
                "status": "active",
                "category": [{"text": "家庭医生团队 family-doctor team"}],
                "name": f"{family}{given}家庭医生团队",
                "participant": participants,
                "managingOrganization": [_ref("Organization", centre)],
            }
        )
    return out


def notices() -> list[dict[str, Any]]:
    """One public notice per community (seed: 以社区居委为单位公示 contacts, hours and signing ways)."""
    out = []
    for community, (station, centre, team_numbers) in COMMUNITIES.items():
        site = next(s for s in SITES if s.key == station)
        out.append(
            {
                "resourceType": "HealthcareService",
                "id": f"demo-notice-{station}",
                "active": True,
                "providedBy": _ref("Organization", centre),
                "location": [_ref("Location", f"loc-{station}")],
                "name": f"{community}家庭医生签约服务公示",
                "comment": f"服务团队：{'、'.join(f'{DOCTORS[t - 1][0]}{DOCTORS[t - 1][1]}团队' for t in team_numbers)}；签约方式：现场、线上（粤健通）、社区活动、上门。",
                "telecom": [{"system": "phone", "value": site.phone}],
                "characteristic": [
                    {"coding": [{"system": SIGNING_CHANNEL, "code": c}]}
                    for c in ("on-site", "online", "community-event", "home-visit")
                ],
                "availableTime": [
                    {
                        "daysOfWeek": ["mon", "tue", "wed", "thu", "fri"],
                        "availableStartTime": "08:00:00",
                        "availableEndTime": "17:30:00",
                    },
                    {
                        "daysOfWeek": ["sat"],
                        "availableStartTime": "08:30:00",
                        "availableEndTime": "12:00:00",
                    },
                ],
            }
        )
    return out


def network() -> list[dict[str, Any]]:
    sites = [r for s in SITES for r in (organization(s), location(s))]
    return [*sites, *teams(), *notices()]
