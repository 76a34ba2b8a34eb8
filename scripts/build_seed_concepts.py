"""Homes in the guide for the seed concepts that had none (issue 4, "every concept of both seed
documents has a home"), and the checklist mapping every seed concept to its home.

Writes (edit the tables here, then run `python scripts/build_seed_concepts.py`; commit both):

* `terminology/CodeSystem-primary-care-service.json` + ValueSet: services and arrangements of the
  seeds that are not service-package rows — medication supply (缺药登记, 外配处方流转, 药品配送到家,
  居家药学服务, 重点人群用药监测), the annual health-assessment report, family sickbed, long-term-care
  disability assessment and care, health-education and vaccine prescriptions, self-management group
  activities, home visits with the fee rule, points redemption, the "五个一" community bundle (with
  its five parts as child concepts).  Used as `Task.code`, `ServiceRequest.code`,
  `Communication.category`, `CarePlan.activity.detail.code` … (example binding).
* `terminology/CodeSystem-publicity-day.json` + ValueSet: the publicity days (世界家庭医生日 5-19,
  中国医师节 8-19, 重阳节 lunar 9/9) with their date as a property, for `Communication.category`
  of campaign pushes and `HealthcareService`/`Appointment` of signing events.
* `terminology/CodeSystem-community-setting.json` + ValueSet: the functional communities of
  community signing (五进/六进: 机关, 企业, 校园, 社区, 家庭, 养老/托育机构).
* `profiles/measures/Measure-family-doctors-per-10000.json`: the indicator 每万人家庭医生数.
* `terminology/seed-concepts.json`: the checklist (concept, seed clause, home, rationale), checked by
  `tests/unit/conformance/test_seed_concepts.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASE = "https://jiayi.health/fhir"
NAT = "国卫办基层发〔2025〕21号"
GD = "广东省家庭医生“签约有感”行动方案（2026—2027年）"

# code, display, English, definition (with the seed clause), children
SERVICES: list[tuple[str, str, str, str, list[tuple[str, str, str, str]]]] = [
    (
        "shortage-drug-registration",
        "缺药登记",
        "Shortage-drug registration",
        f"签约居民所需而基层缺少的药品登记与调剂（{NAT} 一(六): 建立缺药登记制度; 粤(六): 建立短缺药登记与调剂制度）。Recorded as a Task (code, for the resident, focus the MedicationRequest or Medication) worked by the institution's pharmacy.",
        [],
    ),
    (
        "prescription-outflow",
        "外配处方流转",
        "Prescription outflow",
        f"处方流转至外部药店配药（{NAT} 一(六): 通过外配处方流转等多种途径; 粤(六): 探索处方流转）。A Task whose focus is the MedicationRequest, owner the receiving pharmacy Organization.",
        [],
    ),
    (
        "home-medicine-delivery",
        "药品配送到家",
        "Home delivery of medicines",
        f"为签约患者提供药品配送到家（{NAT} 一(六); 粤(六): 药品配送等便民举措）。A Task (focus the MedicationDispense or MedicationRequest) with the resident's address as location.",
        [],
    ),
    (
        "home-pharmacy-service",
        "居家药学服务",
        "Home pharmacy service",
        f"基层药师提供居家药学服务/指导（{NAT} 一(六); 粤(六)）。ServiceRequest or Encounter type.",
        [],
    ),
    (
        "kp-medication-monitoring",
        "重点人群用药监测",
        "Medication monitoring of key populations",
        f"对重点人群（慢病、老年人等）用药情况的随访监测与用药指导（{NAT} 一(六)/(七); 粤(七): 提供健康评估、用药指导等服务）。An Observation or Task coded so, in the resident's CarePlan.",
        [],
    ),
    (
        "annual-health-assessment-report",
        "年度健康评估报告",
        "Annual health-assessment report",
        f"家庭医生为签约重点人群出具年度健康评估报告（{NAT} 一(七); 粤(七)）。A DiagnosticReport (or Composition) with this code, subject the resident, once per contract year.",
        [],
    ),
    (
        "family-sickbed",
        "家庭病床",
        "Family sickbed",
        "为有需要的高龄、失能老年人建立家庭病床（粤(七): 有必要的建立家庭病床; 粤(八): 按医药服务收费标准执行）。An EpisodeOfCare type / ServiceRequest code.",
        [],
    ),
    (
        "ltc-disability-assessment",
        "长护失能等级评估",
        "Long-term-care disability assessment",
        f"签约家庭医生提供长期护理保险失能等级评估（{NAT} 一(七); 粤(七): 探索将长护失能等级评估、照护服务纳入签约服务内容）。A ServiceRequest and its result Observation.",
        [],
    ),
    (
        "ltc-care",
        "长护照护服务",
        "Long-term-care services",
        f"失能失智老年人照护服务（{NAT} 一(七); 粤(七)）。",
        [],
    ),
    (
        "health-education-prescription",
        "健康教育处方",
        "Health-education prescription",
        "以健康教育处方普及健康知识（粤 二(三)…: 通过健康教育处方、疫苗处方、义诊咨询、健康讲座…）。A Communication (push) or CommunicationRequest category.",
        [],
    ),
    (
        "vaccine-prescription",
        "疫苗处方",
        "Vaccine prescription",
        "疫苗接种处方/建议（粤: 通过健康教育处方、疫苗处方…向公众普及健康知识）。An ImmunizationRecommendation or CommunicationRequest category.",
        [],
    ),
    (
        "self-management-group-activity",
        "自我管理小组活动",
        "Self-management group activity",
        f"慢病患者自我管理小组活动（{NAT} 一(七); 粤(七)）。The group is a Group (jiayi-self-management-group); an activity an Encounter/Appointment with this type.",
        [],
    ),
    (
        "home-visit",
        "上门服务",
        "Home visit",
        "上门随访、治疗、护理等服务。收费规则（粤(八)）: 上门服务费执行省医保政策；已通过基本公共卫生服务、家庭医生签约、长期护理保险等方式提供经费保障渠道的，不得额外收取上门服务费；上门治疗、药物、康复、护理、家庭病床、巡诊等按医药服务收费标准执行。The fee split itself: fee-standard on the ActivityDefinition.",
        [],
    ),
    (
        "points-redemption",
        "积分兑换服务",
        "Health points redeemed for services",
        f"健康积分兑换检查检验、中医适宜技术、健康管理工具等服务（{NAT} 一(九); 粤(九)）。A negative jiayi-health-points-entry whose points-source.redeemedFor names the service.",
        [],
    ),
    (
        "community-five-ones",
        "“五个一”组合式服务",
        "The 'five ones' community service bundle",
        "联合村（居）公共卫生委员会对接功能社区提供“五个一”组合式服务（粤(五)）。",
        [
            (
                "five-ones.education",
                "一场宣教",
                "One health-education session",
                "粤(五) 五个一: 一场宣教",
            ),
            ("five-ones.consultation", "一次咨询", "One consultation", "粤(五) 五个一: 一次咨询"),
            (
                "five-ones.weight-waist",
                "一次体重腰围测量",
                "One weight and waist measurement",
                "粤(五) 五个一: 一次体重腰围测量",
            ),
            (
                "five-ones.tcm-experience",
                "一次中医适宜技术体验",
                "One TCM appropriate-technique session",
                "粤(五) 五个一: 一次中医适宜技术体验",
            ),
            (
                "five-ones.diet-guidance",
                "一次食养指导",
                "One dietary guidance",
                "粤(五) 五个一: 一次食养指导",
            ),
        ],
    ),
]

DAYS = [
    (
        "world-family-doctor-day",
        "世界家庭医生日",
        "World Family Doctor Day",
        "--05-19",
        "gregorian",
        f"每年5月19日（{NAT} 一(十): 每年5月19日“世界家庭医生日”和重阳节等前后开展主题宣传活动; 粤(十)）",
    ),
    (
        "chinese-physicians-day",
        "中国医师节",
        "Chinese Physicians' Day",
        "--08-19",
        "gregorian",
        "每年8月19日（粤(十): 在“世界家庭医生日”“中国医师节”和重阳节等重要节点开展主题宣传）",
    ),
    (
        "chongyang",
        "重阳节",
        "Double Ninth Festival (Seniors' Day)",
        "09-09",
        "lunar",
        f"农历九月初九（{NAT} 一(十); 粤(十)）; the Gregorian date varies each year",
    ),
]


# The settings of community signing: 国卫办 一(五) "进机关、进企业、进社区、进家庭、进养老机构"
# (五进) and 粤(五) "进机关、企业、校园、社区、家庭、养老托育机构" (六进).
SETTINGS = [
    ("government-agency", "机关", "Government agency", "进机关（国卫办 一(五); 粤(五) 六进）"),
    ("enterprise", "企业", "Enterprise", "进企业（国卫办 一(五); 粤(五) 六进）"),
    ("school", "校园", "School or campus", "进校园（粤(五) 六进）"),
    ("community", "社区", "Residential community", "进社区（国卫办 一(五); 粤(五) 六进）"),
    ("family", "家庭", "Family home", "进家庭（国卫办 一(五); 粤(五) 六进）"),
    (
        "elderly-care-institution",
        "养老机构",
        "Elderly-care institution",
        "进养老机构（国卫办 一(五); 粤(五) 六进: 养老托育机构）",
    ),
    (
        "childcare-institution",
        "托育机构",
        "Childcare institution",
        "进托育机构（粤(五) 六进: 养老托育机构）",
    ),
]


def _concept(
    code: str, zh: str, en: str, definition: str, children: list[Any] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {
        "code": code,
        "display": zh,
        "definition": definition,
        "designation": [{"language": "en", "value": en}],
    }
    if children:
        out["concept"] = [_concept(*c) for c in children]
    return out


def _codesystem(
    cid: str,
    title: str,
    name: str,
    description: str,
    concepts: list[dict[str, Any]],
    properties: list[dict[str, Any]] = (),
) -> dict[str, Any]:  # type: ignore[assignment]
    cs: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": cid,
        "url": f"{BASE}/CodeSystem/{cid}",
        "version": "0.1.0",
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": description,
        "caseSensitive": True,
        "valueSet": f"{BASE}/ValueSet/{cid}",
        "hierarchyMeaning": "is-a",
        "content": "complete",
    }
    if properties:
        cs["property"] = list(properties)
    cs["count"] = _count(concepts)
    cs["concept"] = concepts
    return cs


def _count(concepts: list[dict[str, Any]]) -> int:
    return sum(1 + _count(c.get("concept", [])) for c in concepts)


def _valueset(cs: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": cs["id"],
        "url": f"{BASE}/ValueSet/{cs['id']}",
        "version": "0.1.0",
        "name": cs["name"],
        "title": cs["title"],
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": f"All codes of {cs['url']}.",
        "compose": {"include": [{"system": cs["url"]}]},
    }


def services() -> dict[str, Any]:
    return _codesystem(
        "primary-care-service",
        "基层签约服务事项",
        "PrimaryCareService",
        "Services and arrangements of family-doctor contract services named by the seeds that are "
        f"not rows of the service-package annexes ({NAT}; {GD}): medication supply, assessments, "
        "family sickbeds, long-term care, prescriptions for health education and vaccination, "
        "self-management groups, home visits (with the fee rule), points redemption and the "
        "'five ones' community bundle.",
        [_concept(*row) for row in SERVICES],
    )


def days() -> dict[str, Any]:
    concepts = []
    for code, zh, en, date, calendar, definition in DAYS:
        c = _concept(code, zh, en, definition)
        c["property"] = [
            {"code": "date", "valueString": date},
            {"code": "calendar", "valueCode": calendar},
        ]
        concepts.append(c)
    return _codesystem(
        "publicity-day",
        "签约服务主题宣传日",
        "PublicityDay",
        f"The days around which family-doctor publicity and signing events are held ({NAT} 一(十); "
        f"{GD} (十)); property date is --MM-DD (Gregorian) or MM-DD (lunar calendar).",
        concepts,
        [
            {
                "code": "date",
                "description": "Month and day (--MM-DD Gregorian, MM-DD lunar)",
                "type": "string",
            },
            {"code": "calendar", "description": "gregorian | lunar", "type": "code"},
        ],
    )


def settings() -> dict[str, Any]:
    return _codesystem(
        "community-setting",
        "签约服务进驻场所（功能社区）",
        "CommunitySetting",
        f"The functional communities where community signing and the 'five ones' services are taken "
        f"({NAT} 一(五) 五进; {GD} (五) 六进). Used with signing-channel community-event: as "
        "Location.type of a fixed or mobile medical point or signing venue, HealthcareService."
        "characteristic of a signing event, or Encounter.serviceType context (example binding).",
        [_concept(*row) for row in SETTINGS],
    )


def measure() -> dict[str, Any]:
    """The indicator, computable: FHIRPath criteria evaluated by
    `fhir_server/operations/measure_family_doctors.py` with the variables `definition` names."""
    pop = "http://terminology.hl7.org/CodeSystem/measure-population"
    division = f"{BASE}/StructureDefinition/division-code"
    in_area = (
        f"extension('{division}').value.where(%areas contains $this"
        " or %areas contains (substring(0, 4) + '00') or %areas contains (substring(0, 2) + '0000'))"
        ".exists()"
    )
    team = (
        "status = 'active' and category.coding.where(system = 'http://loinc.org'"
        " and code = 'LA28865-6').exists()"
    )
    numerator = (
        "active.where($this = false).empty()"
        " and (period.start.empty() or period.start.toString() <= %periodEnd)"
        " and (period.end.empty() or period.end.toString() >= %periodEnd)"
        " and %areaOrganizations contains organization.reference"
        f" and code.coding.where(system = '{BASE}/CodeSystem/care-team-role'"
        " and (code in %doctorRoles)).exists()"
        " and (%familyDoctorTeamMembers contains ('PractitionerRole/' + id)"
        " or %familyDoctorTeamMembers contains practitioner.reference)"
    )
    residents = (
        "active.where($this = false).empty()"
        " and deceased.ofType(boolean).where($this = true).empty()"
        " and deceased.ofType(dateTime).where(toString() <= %periodEnd).empty()"
        f" and address.where(use.empty() or use = 'home').{in_area}"
    )

    def population(code: str, language: str, expression: str, description: str) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": pop, "code": code}]},
            "description": description,
            "criteria": {"language": language, "expression": expression},
        }

    doctors = population(
        "numerator",
        "text/fhirpath",
        numerator,
        "Family doctors: distinct PractitionerRole.practitioner of the roles meeting the "
        "criterion (counted once however many roles or teams they hold)",
    )
    return {
        "resourceType": "Measure",
        "id": "family-doctors-per-10000",
        "meta": {"profile": [f"{BASE}/StructureDefinition/jiayi-indicator"]},
        "url": f"{BASE}/Measure/family-doctors-per-10000",
        "version": "0.1.0",
        "name": "FamilyDoctorsPer10000",
        "title": "每万人家庭医生数 Family doctors per 10,000 residents",
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": "Family doctors per 10,000 residents of an area on the last day of the "
        f"period ({GD}: 拓宽家庭医生来源，提高每万人家庭医生数). A ratio: numerator the distinct "
        "Practitioners holding, on the period end, an active doctor PractitionerRole at an "
        "institution of the area as a member of an active family-doctor CareTeam; denominator "
        "the area's residents / 10 000, twice: group `registered` counts the residents stored "
        "(Patients with a home address division code in the area, not deceased), group `census` "
        "uses the 7th national census resident population (2020-11-01, Guangdong 7th-census "
        "bulletin, terminology/population/guangdong-reference-figures.json), published for the "
        "province and its 21 cities only. The area is a GB/T 2260 code (a code covers the "
        "divisions under it) or an institution (Organization: its doctors over the residents of "
        "its address divisions). Computed by Measure/family-doctors-per-10000/$evaluate-measure "
        "(OperationDefinition family-doctors-evaluate-measure) evaluating the text/fhirpath "
        "criteria with the variables under definition.",
        "definition": [
            "%periodEnd: the periodEnd parameter (YYYY-MM-DD): the day counted",
            "%areas: the GB/T 2260 division codes of the area: the subject/reporter code, or the "
            "division codes of the reporting Organization's addresses",
            "%areaOrganizations: references of the Organizations meeting `address." + in_area + "`"
            " (or the reporting Organization alone)",
            "%familyDoctorTeamMembers: participant.member references of the CareTeams meeting `"
            + team
            + "` (family-doctor teams)",
            "%doctorRoles: the care-team-role codes of doctors: general-practitioner, specialist, "
            "sinking-doctor, village-doctor, tcm-physician, public-health-physician (nurses, "
            "pharmacists, health managers and assistants are team members, not family doctors)",
        ],
        "scoring": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "ratio"}
            ]
        },
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/measure-type",
                        "code": "structure",
                    }
                ]
            }
        ],
        "improvementNotation": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                    "code": "increase",
                }
            ]
        },
        "group": [
            {
                "id": "registered",
                "description": "Per 10 000 residents stored in the server",
                "population": [
                    doctors,
                    population(
                        "denominator",
                        "text/fhirpath",
                        residents,
                        "Residents: Patients of the area (home or unspecified-use address), "
                        "not deceased on the period end; the score divides by count / 10 000",
                    ),
                ],
            },
            {
                "id": "census",
                "description": "Per 10 000 residents of the 2020 census (province and cities)",
                "population": [
                    doctors,
                    population(
                        "denominator",
                        "text/plain",
                        "7th national census resident population of the area "
                        "(terminology/population/guangdong-reference-figures.json: "
                        "figures.population for 440000, cities[].population2020 for a city)",
                        "Census residents; no figure (group not reported) for a district or "
                        "an institution",
                    ),
                ],
            },
        ],
    }


def _dump(path: Path, resource: Any) -> None:
    path.write_text(json.dumps(resource, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    term = REPO / "terminology"
    for cs in (services(), days(), settings()):
        _dump(term / f"CodeSystem-{cs['id']}.json", cs)
        _dump(term / f"ValueSet-{cs['id']}.json", _valueset(cs))
    _dump(REPO / "profiles" / "measures" / "Measure-family-doctors-per-10000.json", measure())
    print(
        "primary-care-service, publicity-day, community-setting, "
        "Measure/family-doctors-per-10000 written"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
