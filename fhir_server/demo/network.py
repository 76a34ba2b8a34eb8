"""The demo district's provider network as FHIR resources (pure; fixed ids prefixed `demo-`).

天河区, 广州市 (GB/T 2260 440106): a close-knit medical group (紧密型城市医疗集团) led by the district
hospital, two community health centres with two community stations each, a private clinic taking
part in signing (粤(二): 社会办医疗机构参与签约), eight family-doctor teams — team 6 with a
cardiologist sinking from the leading hospital (下沉医生) —, a public notice (HealthcareService) per
community with its signing channels, service-area Locations with GeoJSON boundaries, and the
hospital's referral capacity: expert clinics, an examination service and ward beds published as
Schedules with Slots for the week after the load date (docs/DATA-MODEL.md, "Providers";
fhir_server/domain/referrals/README.md, "Modelling").
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ..generator.resources import (
    DIVISION,
    SD,
    TEAM_CATEGORY,
    institution_types,
    practitioner,
    profile,
    ref,
    role_coding,
)

DISTRICT = ("440106", "天河区")
CITY = ("440100", "广州市")
SIGNING_CHANNEL = "https://jiayi.health/fhir/CodeSystem/signing-channel"
CAPACITY = "https://jiayi.health/fhir/CodeSystem/referral-capacity"
BOUNDARY = "http://hl7.org/fhir/StructureDefinition/location-boundary-geojson"
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
SNOMED = "http://snomed.info/sct"
CST = timedelta(hours=8)
CHANNELS = {
    "on-site": "机构现场签约",
    "online": "线上签约",
    "community-event": "社区集中签约活动",
    "home-visit": "入户签约",
}


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    kind: str | None  # institution-type code (None: the medical group itself)
    lat: float
    lon: float
    part_of: str | None
    phone: str
    line: str
    extra_types: tuple[str, ...] = ()


SITES = (
    Site("group", "广州市天河区人民医院医疗集团", None, 23.1339, 113.3650, None,
         "020-38000000", "天河区"),
    Site("hospital", "广州市天河区人民医院", "medical-group-lead", 23.1339, 113.3650, "group",
         "020-38001000", "天河路中山大道西123号", ("level-3-hospital",)),
    Site("chc-1", "广州市天河区石牌街社区卫生服务中心", "community-health-centre", 23.1370,
         113.3420, "group", "020-38002000", "石牌街石牌东路45号"),
    Site("chc-2", "广州市天河区棠下街社区卫生服务中心", "community-health-centre", 23.1380,
         113.3790, "group", "020-38003000", "棠下街棠东东路12号"),
    Site("station-1", "石牌村社区卫生服务站", "community-health-station", 23.1330, 113.3380,
         "chc-1", "020-38002100", "石牌街石牌村东约8号"),
    Site("station-2", "华师社区卫生服务站", "community-health-station", 23.1420, 113.3500,
         "chc-1", "020-38002200", "石牌街华师东路3号"),
    Site("station-3", "棠下社区卫生服务站", "community-health-station", 23.1350, 113.3750,
         "chc-2", "020-38003100", "棠下街棠下大街21号"),
    Site("station-4", "车陂社区卫生服务站", "community-health-station", 23.1290, 113.3920,
         "chc-2", "020-38003200", "车陂街车陂路56号"),
    Site("clinic", "广州天河康健全科诊所", "clinic", 23.1310, 113.3960, None, "020-38004000",
         "车陂街东圃大马路9号", ("non-government",)),
)  # fmt: skip
SITE = {s.key: s for s in SITES}


@dataclass(frozen=True)
class Community:
    name: str  # 社区 (the residents' committee is "<name>居委会")
    street: str  # 街道
    station: str  # site key
    teams: tuple[int, ...]


COMMUNITIES = (
    Community("石牌村社区", "石牌街", "station-1", (1, 2)),
    Community("华师社区", "石牌街", "station-2", (3, 4)),
    Community("棠下社区", "棠下街", "station-3", (5, 6)),
    Community("车陂社区", "车陂街", "station-4", (7, 8)),
)

#: team number → (managing institution, GP lead, nurse, public-health physician)
TEAMS: dict[int, tuple[str, tuple[str, str, str], str, str]] = {
    1: ("chc-1", ("陈", "志明", "male"), "罗秀娟", "曾涛"),
    2: ("chc-1", ("李", "丽芳", "female"), "杨燕", "王鸿"),
    3: ("chc-1", ("黄", "伟强", "male"), "郑晓梅", "邓锦荣"),
    4: ("chc-1", ("张", "敏", "female"), "谢雪", "许永"),
    5: ("chc-2", ("梁", "俊杰", "male"), "何玲", "冯达"),
    6: ("chc-2", ("林", "婷", "female"), "周倩", "蔡峰"),
    7: ("chc-2", ("刘", "建国", "male"), "叶佩", "卢勇"),
    8: ("clinic", ("吴", "嘉怡", "female"), "钟莹", "余健"),
}
SINKING_TEAM = 6
#: hospital specialists: key → (family, given, sex, specialty SNOMED code, display, department)
SPECIALISTS = {
    "cardio": ("欧阳", "明远", "male", "394579002", "Cardiology", "心血管内科"),
    "endo": ("司徒", "慧敏", "female", "394583002", "Endocrinology", "内分泌科"),
}
BEDS = ("bed-1", "bed-2")


def team_ref(n: int) -> str:
    return f"CareTeam/demo-team-{n}"


def lead_role(n: int) -> str:
    return f"PractitionerRole/demo-role-dr-{n}"


def _address(line: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "extension": [{"url": DIVISION, "valueCode": DISTRICT[0]}],
        "state": "广东省",
        "city": CITY[1],
        "district": DISTRICT[1],
    }
    if line:
        out["line"] = [line]
        out["text"] = f"广东省{CITY[1]}{DISTRICT[1]}{line}"
    return out


def organization(site: Site) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": f"demo-{site.key}",
        "meta": profile("jiayi-organization"),
        "active": True,
        "name": site.name,
        "telecom": [{"system": "phone", "value": site.phone}],
        "address": [_address(site.line)],
    }
    if site.kind is None:
        org["type"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "other",
                        "display": "Other",
                    }
                ],
                "text": "紧密型城市医疗集团",
            }
        ]
        org["extension"] = [
            {"url": f"{SD}consortium-lead", "valueReference": ref("Organization", "demo-hospital")}
        ]
    else:
        org["type"] = institution_types(site.kind) + [
            {"coding": [{"system": "https://jiayi.health/fhir/CodeSystem/institution-type",
                         "code": t}]}
            for t in site.extra_types
        ]  # fmt: skip
    if site.part_of:
        org["partOf"] = ref("Organization", f"demo-{site.part_of}")
    return org


def _geojson(lat: float, lon: float, half: float) -> str:
    ring = [
        [round(lon - half, 4), round(lat - half, 4)],
        [round(lon + half, 4), round(lat - half, 4)],
        [round(lon + half, 4), round(lat + half, 4)],
        [round(lon - half, 4), round(lat + half, 4)],
        [round(lon - half, 4), round(lat - half, 4)],
    ]
    text = json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode()


def site_location(site: Site) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": f"demo-loc-{site.key}",
        "meta": profile("jiayi-location"),
        "status": "active",
        "name": site.name,
        "mode": "instance",
        "address": _address(site.line),
        "position": {"latitude": site.lat, "longitude": site.lon},
        "managingOrganization": ref("Organization", f"demo-{site.key}"),
    }


def service_area(c: Community) -> dict[str, Any]:
    """The community's family-doctor service area (责任区域) with its GeoJSON boundary."""
    station = SITE[c.station]
    centre = station.part_of or station.key
    address = _address()
    address["extension"].append(
        {
            "url": f"{SD}community-unit",
            "extension": [{"url": "committee", "valueString": f"{c.name}居委会"}],
        }
    )
    return {
        "resourceType": "Location",
        "id": f"demo-area-{c.station}",
        "meta": profile("jiayi-location"),
        "extension": [
            {
                "url": BOUNDARY,
                "valueAttachment": {
                    "contentType": "application/geo+json",
                    "data": _geojson(station.lat, station.lon, 0.004),
                },
            }
        ],
        "status": "active",
        "name": f"{c.street}{c.name}家庭医生责任区域",
        "mode": "instance",
        "address": address,
        "physicalType": {"coding": [{"system": PHYSICAL, "code": "area", "display": "Area"}]},
        "position": {"latitude": station.lat, "longitude": station.lon},
        "managingOrganization": ref("Organization", f"demo-{centre}"),
    }


def _role(
    key: str, practitioner_key: str, organization_key: str, codes: tuple[str, ...], **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": f"demo-role-{key}",
        "meta": profile("jiayi-practitioner-role"),
        "active": True,
        "practitioner": ref("Practitioner", f"demo-{practitioner_key}"),
        "organization": ref("Organization", f"demo-{organization_key}"),
        "code": [role_coding(c) for c in codes],
        **extra,
    }


def _licence(n: int) -> str:
    return f"110440106{n:06d}"


def _specialty(key: str) -> list[dict[str, Any]]:
    _f, _g, _s, code, display, text = SPECIALISTS[key]
    return [{"coding": [{"system": SNOMED, "code": code, "display": display}], "text": text}]


def people() -> list[dict[str, Any]]:
    """Practitioners, their roles, the eight CareTeams and the hospital's specialists."""
    out: list[dict[str, Any]] = []
    licence = 0
    for key, (family, given, sex, *_rest) in SPECIALISTS.items():
        licence += 1
        out.append(practitioner(f"demo-{key}", family, given, sex, _licence(licence)))
        out.append(_role(f"{key}", key, "hospital", ("specialist",), specialty=_specialty(key)))
    for n, (org, (family, given, sex), nurse, ph) in TEAMS.items():
        members = [
            (f"dr-{n}", family, given, sex, "general-practitioner"),
            (f"nurse-{n}", nurse[0], nurse[1:], "female", "nurse"),
            (f"ph-{n}", ph[0], ph[1:], "male", "public-health-physician"),
        ]
        participants = []
        for j, (key, fam, giv, sx, code) in enumerate(members):
            licence += 1
            out.append(practitioner(f"demo-{key}", fam, giv, sx, _licence(licence)))
            out.append(_role(key, key, org, (code,)))
            participants.append(
                {
                    "role": [role_coding("team-leader" if j == 0 else code)],
                    "member": ref("PractitionerRole", f"demo-role-{key}"),
                }
            )
        if n == SINKING_TEAM:
            out.append(
                _role(
                    "cardio-sinking",
                    "cardio",
                    org,
                    ("sinking-doctor", "specialist"),
                    specialty=_specialty("cardio"),
                    extension=[
                        {
                            "url": f"{SD}sinking-from",
                            "valueReference": ref("Organization", "demo-hospital"),
                        }
                    ],
                    availableTime=[
                        {
                            "daysOfWeek": ["thu"],
                            "availableStartTime": "08:30:00",
                            "availableEndTime": "12:00:00",
                        }
                    ],
                )
            )
            participants.append(
                {
                    "role": [role_coding("sinking-doctor")],
                    "member": ref("PractitionerRole", "demo-role-cardio-sinking"),
                }
            )
        out.append(
            {
                "resourceType": "CareTeam",
                "id": f"demo-team-{n}",
                "meta": profile("jiayi-family-doctor-team"),
                "status": "active",
                "category": [TEAM_CATEGORY],
                "name": f"{SITE[org].name}{family}{given}家庭医生团队",
                "participant": participants,
                "managingOrganization": [ref("Organization", f"demo-{org}")],
                "telecom": [{"system": "phone", "value": SITE[org].phone}],
            }
        )
    licence += 1
    out.append(practitioner("demo-admin", "管", "理员", "female", _licence(licence)))
    out.append(_role("admin", "admin", "chc-1", ("assistant",)))
    return out


def notices() -> list[dict[str, Any]]:
    """One public notice per community (以社区居委为单位公示): contacts, hours, signing ways."""
    out = []
    for c in COMMUNITIES:
        station = SITE[c.station]
        team_names = "、".join(f"{TEAMS[t][1][0]}{TEAMS[t][1][1]}团队" for t in c.teams)
        out.append(
            {
                "resourceType": "HealthcareService",
                "id": f"demo-notice-{c.station}",
                "meta": profile("jiayi-healthcare-service"),
                "extension": [
                    {
                        "url": f"{SD}signing-channel",
                        "valueCoding": {"system": SIGNING_CHANNEL, "code": code, "display": text},
                    }
                    for code, text in CHANNELS.items()
                ],
                "active": True,
                "providedBy": ref("Organization", f"demo-{station.part_of}"),
                "name": f"{c.street}{c.name}家庭医生签约服务",
                "comment": f"责任团队：{team_names}；签约可到{station.name}现场、粤健通线上、"
                "社区集中签约活动或预约入户办理。",
                "location": [ref("Location", f"demo-loc-{c.station}")],
                "coverageArea": [ref("Location", f"demo-area-{c.station}")],
                "telecom": [{"system": "phone", "value": station.phone}],
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


# -- the leading hospital's referral capacity ---------------------------------------------------
@dataclass(frozen=True)
class Capacity:
    key: str  # Schedule id suffix
    kind: str  # referral-capacity code: expert | examination | bed
    actors: tuple[str, ...]  # references
    comment: str
    times: tuple[time, ...]  # slot starts on a day
    minutes: int
    weekdays_only: bool


CAPACITIES = (
    Capacity("cardio", "expert",
             ("HealthcareService/demo-dept-cardio", "PractitionerRole/demo-role-cardio"),
             "心血管内科专家门诊（欧阳明远主任医师），预留号源给家庭医生转诊的签约居民",
             tuple(time(8 + (30 * i) // 60, (30 * i) % 60) for i in range(1, 8)), 30, True),
    Capacity("endo", "expert",
             ("HealthcareService/demo-dept-endo", "PractitionerRole/demo-role-endo"),
             "内分泌科专家门诊（司徒慧敏主任医师）",
             tuple(time(8 + (30 * i) // 60, (30 * i) % 60) for i in range(1, 8)), 30, True),
    Capacity("ct", "examination", ("HealthcareService/demo-dept-imaging",),
             "影像科CT检查预约", tuple(time(14 + i // 2, 30 * (i % 2)) for i in range(6)), 30,
             True),
    *(Capacity(bed, "bed", (f"Location/demo-{bed}",), f"心血管内科病区 {bed[-1]} 床",
               (time(9, 0),), 24 * 60, False) for bed in BEDS),
)  # fmt: skip
CAPACITY_DAYS = 7


def departments() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, (_f, _g, _s, _code, _display, text) in SPECIALISTS.items():
        out.append(
            {
                "resourceType": "HealthcareService",
                "id": f"demo-dept-{key}",
                "active": True,
                "providedBy": ref("Organization", "demo-hospital"),
                "name": f"{text}专家门诊",
                "specialty": _specialty(key),
                "location": [ref("Location", "demo-loc-hospital")],
            }
        )
    out.append(
        {
            "resourceType": "HealthcareService",
            "id": "demo-dept-imaging",
            "active": True,
            "providedBy": ref("Organization", "demo-hospital"),
            "name": "影像科（CT、彩超）检查",
            "location": [ref("Location", "demo-loc-hospital")],
        }
    )
    for bed in BEDS:
        out.append(
            {
                "resourceType": "Location",
                "id": f"demo-{bed}",
                "status": "active",
                "name": f"心血管内科病区 {bed[-1]} 床",
                "mode": "instance",
                "physicalType": {"coding": [{"system": PHYSICAL, "code": "bd", "display": "Bed"}]},
                "managingOrganization": ref("Organization", "demo-hospital"),
                "partOf": ref("Location", "demo-loc-hospital"),
            }
        )
    return out


def schedules() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Schedule",
            "id": f"demo-sched-{c.key}",
            "meta": profile("jiayi-referral-schedule"),
            "active": True,
            "serviceCategory": [{"coding": [{"system": CAPACITY, "code": c.kind}]}],
            "actor": [{"reference": a} for a in c.actors],
            "comment": c.comment,
        }
        for c in CAPACITIES
    ]


def _instant(day: date, at: time) -> datetime:
    return datetime.combine(day, at)


def cst(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00"


def slots(on: date) -> list[dict[str, Any]]:
    """Free Slots for the `CAPACITY_DAYS` days after `on` (experts and examinations on working
    days); ids carry the day and time, so a load on the same date writes the same slots."""
    out = []
    for c in CAPACITIES:
        for d in range(1, CAPACITY_DAYS + 1):
            day = on + timedelta(days=d)
            if c.weekdays_only and day.weekday() >= 5:
                continue
            for at in c.times:
                start = _instant(day, at)
                end = start + timedelta(minutes=c.minutes)
                out.append(
                    {
                        "resourceType": "Slot",
                        "id": f"demo-slot-{c.key}-{start:%Y%m%d-%H%M}",
                        "schedule": ref("Schedule", f"demo-sched-{c.key}"),
                        "serviceCategory": [{"coding": [{"system": CAPACITY, "code": c.kind}]}],
                        "status": "free",
                        "start": cst(start),
                        "end": cst(end),
                    }
                )
    return out


def network() -> list[dict[str, Any]]:
    """Everything but the slots, in reference order."""
    sites = [r for s in SITES for r in (organization(s), site_location(s))]
    areas = [service_area(c) for c in COMMUNITIES]
    return [*sites, *areas, *people(), *notices(), *departments(), *schedules()]
