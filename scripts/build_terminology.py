"""Build the guide's CodeSystems and ValueSets (`terminology/*.json`) from the tables below.

The tables are the source: edit them, run `python scripts/build_terminology.py`, commit the JSON.
Each concept is `(code, 中文 display, English designation, definition, children)`.  Every CodeSystem
gets a ValueSet of the same id holding all its codes.  The GB/T 2260 code system comes from
`scripts/build_gb2260.py` and the service items from `scripts/build_service_packages.py`; their
ValueSets are written here too.  Sources are cited in each description (seed clauses: 国卫办基层发
〔2025〕21号 = the national notice; 粤 = the Guangdong "签约有感" action plan 2026–2027).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERM = ROOT / "terminology"
BASE = "https://jiayi.health/fhir"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
VERSION = "0.1.0"

Concept = tuple[str, str, str, str | None, list[Any]]


def c(code: str, zh: str, en: str, definition: str | None = None, *kids: Concept) -> Concept:
    return (code, zh, en, definition, list(kids))


# id → (name, title, description, hierarchyMeaning or None, concepts)
CODE_SYSTEMS: dict[str, tuple[str, str, str, str | None, list[Concept]]] = {
    "key-population": (
        "KeyPopulation",
        "重点人群",
        "The ten key-population groups of 附件2 of the Guangdong plan (重点人群家庭医生签约基本服务包参考"
        "内容), whose codes are fixed by INTERFACE.md. Membership is derived from the record by the "
        "rules in terminology/key-population-rules.json or declared by an active Flag.",
        None,
        [
            c("elderly-65", "65岁及以上老年人", "Older adults aged 65 and over"),
            c("hypertension", "高血压患者", "Patients with hypertension"),
            c("t2dm", "2型糖尿病患者", "Patients with type 2 diabetes"),
            c(
                "copd",
                "慢性阻塞性肺疾病患者",
                "Patients with chronic obstructive pulmonary disease",
            ),
            c(
                "severe-mental-disorder",
                "严重精神障碍患者",
                "Patients with severe mental disorders",
            ),
            c("tuberculosis", "肺结核患者", "Patients with pulmonary tuberculosis"),
            c("maternal", "孕产妇", "Pregnant and postpartum women"),
            c("child-0-6", "0～6岁儿童", "Children aged 0 to 6"),
            c("disabled", "残疾人", "People with disabilities"),
            c(
                "cancer-high-risk",
                "癌症高危人群（40-70岁）",
                "People at high risk of cancer (aged 40-70)",
            ),
        ],
    ),
    "contract-termination-reason": (
        "ContractTerminationReason",
        "签约解约原因",
        "Why a family-doctor contract ended early (fixed by INTERFACE.md): one active contract per "
        "resident (粤(一)/(十)), transfers between doctors, and the usual administrative reasons.",
        None,
        [
            c("moved-out", "迁出服务区域", "Moved out of the service area"),
            c("unreachable", "无法联系", "Resident unreachable"),
            c("refused-service", "拒绝服务", "Resident refused the services"),
            c("resident-request", "居民申请解约", "Terminated at the resident's request"),
            c("death", "死亡", "Death of the resident"),
            c("transfer", "转签其他家庭医生", "Transferred to another family doctor or team"),
        ],
    ),
    "signing-channel": (
        "SigningChannel",
        "签约途径",
        'How a contract was signed (fixed by INTERFACE.md): on site, online ("互联网+"签约, 国卫办'
        '基层发〔2025〕21号 一(一); 粤(一)), at a community event (社区签约/"六进", 粤(五)) or at home.',
        None,
        [
            c("on-site", "机构现场签约", "On site at the institution"),
            c("online", "线上签约", "Online (internet-based signing)"),
            c("community-event", "社区集中签约活动", "Community signing event"),
            c("home-visit", "入户签约", "During a home visit"),
        ],
    ),
    "push-kind": (
        "PushKind",
        "健康信息推送类型",
        "Kinds of health push (fixed by INTERFACE.md): at least 12 pushes a year of which at least "
        "one personalised (粤(三)), routine seasonal reminders, and alerts such as climate-sensitive "
        "disease warnings (粤(七)).",
        None,
        [
            c("personalised", "个性化健康指导", "Personalised health guidance"),
            c("routine", "常规健康提醒", "Routine health reminder"),
            c("alert", "预警提醒", "Alert (e.g. climate-sensitive disease warning)"),
        ],
    ),
    "slot-reservation": (
        "SlotReservation",
        "号源预留类型",
        "Tags for reserved shares of expert slots and beds (fixed by INTERFACE.md): second and third "
        "level hospitals reserve slots and beds for referred signed residents (国卫办基层发〔2025〕21号 "
        "一(四); 粤(四)).",
        None,
        [c("referral", "转诊预留号源", "Reserved for referrals by family doctors")],
    ),
    "push-topic": (
        "PushTopic",
        "健康信息推送主题",
        'Topics of the ≥12 yearly health pushes: exercise, diet, tobacco control, alcohol, "三减" '
        "(oil, salt, sugar), iodine, healthy weight (国卫办基层发〔2025〕21号 一(三)); chronic disease, "
        "weight management, 健康素养66条, key infectious diseases (粤(三)); climate-sensitive diseases "
        "and cancer screening (粤(七)); and the groups of 附件2 (maternal and child care, mental "
        "health, older adults).",
        "is-a",
        [
            c("exercise", "科学运动", "Physical activity"),
            c("diet", "合理膳食", "Healthy diet"),
            c("tobacco", "烟草控制", "Tobacco control"),
            c("alcohol", "限酒", "Limiting alcohol"),
            c(
                "three-reductions",
                "三减",
                "Three reductions (oil, salt, sugar)",
                None,
                c("reduce-oil", "减油", "Reduce oil"),
                c("reduce-salt", "减盐", "Reduce salt"),
                c("reduce-sugar", "减糖", "Reduce sugar"),
            ),
            c("iodine", "科学补碘", "Adequate iodine intake"),
            c("weight", "体重管理", "Healthy weight management"),
            c(
                "chronic-disease",
                "慢性病防控",
                "Chronic disease prevention and control",
                None,
                c("hypertension", "高血压防治", "Hypertension"),
                c("diabetes", "糖尿病防治", "Diabetes"),
                c("dyslipidaemia", "血脂异常防治", "Dyslipidaemia"),
                c("copd", "慢性阻塞性肺疾病防治", "COPD"),
            ),
            c("health-literacy-66", "健康素养66条", "The 66 items of health literacy"),
            c(
                "infectious-disease",
                "重点传染病防控",
                "Key infectious disease prevention",
                None,
                c("tuberculosis", "结核病防治", "Tuberculosis"),
                c("vector-borne", "媒介生物传染病防控", "Vector-borne diseases (e.g. dengue)"),
                c("respiratory", "呼吸道传染病防控", "Respiratory infectious diseases"),
            ),
            c("tcm", "中医药健康", "Traditional Chinese medicine and health"),
            c("vaccination", "预防接种", "Vaccination"),
            c(
                "climate-sensitive",
                "气候敏感疾病",
                "Climate-sensitive diseases (heat, cold, humidity)",
            ),
            c("medication", "合理用药", "Rational use of medicines"),
            c("maternal-care", "孕产期保健", "Maternal care"),
            c("child-care", "儿童保健", "Child health care"),
            c("mental-health", "心理健康", "Mental health"),
            c(
                "elderly-care",
                "老年健康",
                "Older people's health",
                None,
                c("falls", "预防跌倒", "Fall prevention"),
            ),
            c("cancer-prevention", "癌症防治", "Cancer prevention and screening"),
            c("personal-protection", "个人防护", "Personal protection"),
        ],
    ),
    "service-item-category": (
        "ServiceItemCategory",
        "签约服务项目类别",
        "Dimensions of the signing service item library: health management, medical services, "
        "community services and public-health services (粤(八); 国卫办基层发〔2025〕21号 二(八)).",
        None,
        [
            c("health-management", "健康管理", "Health management"),
            c("medical", "医疗服务", "Medical services"),
            c("community", "社区服务", "Community services"),
            c("public-health", "公共卫生服务", "Public-health services"),
        ],
    ),
    "delivery-mode": (
        "DeliveryMode",
        "服务方式",
        "How a service item is delivered: face to face, at home (上门) or online (线上线下结合, "
        "粤(七); 国卫办基层发〔2025〕21号 二(七)).",
        None,
        [
            c("face-to-face", "面对面", "Face to face"),
            c("home", "上门", "At home"),
            c("online", "线上", "Online (phone, messaging, app)"),
        ],
    ),
    "funding-source": (
        "FundingSource",
        "签约服务费资金来源",
        "Who pays for a package: basic public-health service funds, medical insurance, personal "
        "payment and other sources (粤(八): 医保基金、基本公共卫生服务经费和个人付费等分担机制; 附件1 备注2–3).",
        None,
        [
            c("public-health-funds", "基本公共卫生服务经费", "Basic public-health service funds"),
            c("medical-insurance", "医保基金", "Medical insurance fund"),
            c("personal-payment", "个人付费", "Personal payment"),
            c("other", "其他", "Other sources"),
        ],
    ),
    "contract-term": (
        "ContractTerm",
        "签约服务周期",
        "Contract terms of one to three years (粤(一): 签订1－3年的中长期服务协议).",
        None,
        [
            c("1-year", "1年", "One year"),
            c("2-year", "2年", "Two years"),
            c("3-year", "3年", "Three years"),
        ],
    ),
    "contract-status-reason": (
        "ContractStatusReason",
        "签约状态原因",
        "Why a contract has its status: new signing, renewal, transfer, the yearly confirmation "
        "window from Q4 to early next year (粤(十)), expiry, termination (reasons in "
        "contract-termination-reason).",
        None,
        [
            c("new-signing", "新签约", "New signing"),
            c("renewal", "续约", "Renewal"),
            c("transfer-in", "转签", "Signed after transfer from another doctor"),
            c("confirmation-pending", "待年度确认", "Awaiting yearly confirmation"),
            c("confirmed", "已年度确认", "Confirmed for the year"),
            c("expired", "到期未续约", "Expired without renewal"),
            c("terminated", "已解约", "Terminated early"),
        ],
    ),
    "solar-term": (
        "SolarTerm",
        "二十四节气",
        "The 24 solar terms in calendar order from 立春: pushes follow them (附件1 and 附件2: "
        "按照节气向签约居民推送健康提醒; 粤(三) 岭南地区季节特点).",
        None,
        [
            c("lichun", "立春", "Start of Spring"),
            c("yushui", "雨水", "Rain Water"),
            c("jingzhe", "惊蛰", "Awakening of Insects"),
            c("chunfen", "春分", "Spring Equinox"),
            c("qingming", "清明", "Pure Brightness"),
            c("guyu", "谷雨", "Grain Rain"),
            c("lixia", "立夏", "Start of Summer"),
            c("xiaoman", "小满", "Grain Buds"),
            c("mangzhong", "芒种", "Grain in Ear"),
            c("xiazhi", "夏至", "Summer Solstice"),
            c("xiaoshu", "小暑", "Minor Heat"),
            c("dashu", "大暑", "Major Heat"),
            c("liqiu", "立秋", "Start of Autumn"),
            c("chushu", "处暑", "End of Heat"),
            c("bailu", "白露", "White Dew"),
            c("qiufen", "秋分", "Autumn Equinox"),
            c("hanlu", "寒露", "Cold Dew"),
            c("shuangjiang", "霜降", "Frost's Descent"),
            c("lidong", "立冬", "Start of Winter"),
            c("xiaoxue", "小雪", "Minor Snow"),
            c("daxue", "大雪", "Major Snow"),
            c("dongzhi", "冬至", "Winter Solstice"),
            c("xiaohan", "小寒", "Minor Cold"),
            c("dahan", "大寒", "Major Cold"),
        ],
    ),
    "referral-direction": (
        "ReferralDirection",
        "转诊方向",
        "Two-way referral (双向转诊, 粤(四)): up to a leading or higher-level hospital, down back to "
        "the primary institution with feedback.",
        None,
        [
            c("up", "上转", "Upward referral"),
            c("down", "下转", "Downward referral"),
        ],
    ),
    "referral-priority": (
        "ReferralPriority",
        "转诊三优先",
        'The "three priorities" for residents referred up by their family doctor: appointment, '
        "examination and admission (粤(四): 预约就诊、检查和住院三优先; 国卫办基层发〔2025〕21号 一(四)).",
        None,
        [
            c("appointment", "优先预约就诊", "Priority appointment"),
            c("examination", "优先检查检验", "Priority examination and tests"),
            c("admission", "优先住院", "Priority admission"),
        ],
    ),
    "institution-type": (
        "InstitutionType",
        "医疗卫生机构类型",
        "Institutions that take part in family-doctor services: primary institutions, leading "
        "hospitals of medical groups and county consortia, level-2/3 hospitals, internet hospitals "
        "and non-government institutions (国卫办基层发〔2025〕21号 一(二), 二(八); 粤(二), (五), (八)).",
        "is-a",
        [
            c(
                "primary",
                "基层医疗卫生机构",
                "Primary healthcare institution",
                None,
                c("community-health-centre", "社区卫生服务中心", "Community health centre"),
                c("community-health-station", "社区卫生服务站", "Community health station"),
                c("township-health-centre", "乡镇卫生院", "Township health centre"),
                c("village-clinic", "村卫生室", "Village clinic"),
                c("clinic", "诊所/门诊部", "Clinic or outpatient department"),
            ),
            c(
                "hospital",
                "医院",
                "Hospital",
                None,
                c(
                    "medical-group-lead",
                    "紧密型城市医疗集团牵头医院",
                    "Leading hospital of a close-knit urban medical group",
                ),
                c(
                    "county-consortium-lead",
                    "紧密型县域医共体牵头医院",
                    "Leading hospital of a close-knit county medical consortium",
                ),
                c("level-2-hospital", "二级医院", "Level-2 hospital"),
                c("level-3-hospital", "三级医院", "Level-3 hospital"),
                c("county-hospital", "县级医院", "County hospital"),
                c("general-hospital", "综合医院", "General hospital"),
            ),
            c("internet-hospital", "互联网医院", "Internet hospital"),
            c(
                "non-government",
                "社会办（非政府办）医疗卫生机构",
                "Non-government healthcare institution",
            ),
            c(
                "elderly-care-institution",
                "养老机构医务室",
                "Medical room of an elderly-care institution",
            ),
        ],
    ),
    "care-team-role": (
        "CareTeamRole",
        "家庭医生团队成员角色",
        "Roles in a family-doctor team: general practitioners (including those of leading hospitals "
        "and doctors sinking to primary institutions, 粤(二)), specialists, village doctors, nurses, "
        "public-health physicians, pharmacists (居家药学指导, 粤(六)), TCM physicians and others.",
        None,
        [
            c("team-leader", "团队长", "Team leader"),
            c("general-practitioner", "全科医生", "General practitioner"),
            c("specialist", "专科医生", "Specialist"),
            c("sinking-doctor", "下沉医生", "Doctor sinking from a higher-level hospital"),
            c("village-doctor", "乡村医生", "Village doctor"),
            c("nurse", "护士", "Nurse"),
            c("public-health-physician", "公共卫生医师", "Public-health physician"),
            c("pharmacist", "药师", "Pharmacist"),
            c("tcm-physician", "中医师", "Traditional Chinese medicine physician"),
            c("health-manager", "健康管理师", "Health manager"),
            c("rehabilitation-therapist", "康复治疗师", "Rehabilitation therapist"),
            c("psychiatric-prevention-worker", "精防人员", "Mental-health prevention worker"),
            c("assistant", "助理", "Assistant"),
        ],
    ),
    "service-schedule": (
        "ServiceSchedule",
        "服务频次类型",
        "How often a service item is due when no fixed repeat applies (Timing.code of the packages' "
        "actions): on demand (按需服务), per the national basic public-health service specification "
        "(按国家基本公共卫生服务规范服务), when policies change (按政策更新情况), or on a fixed schedule "
        "(附件1 服务频次 column; 附件2 服务要求 column).",
        None,
        [
            c("on-demand", "按需服务", "On demand"),
            c(
                "per-specification",
                "按国家基本公共卫生服务规范服务",
                "As the national basic public-health service specification schedules",
            ),
            c("policy-driven", "按政策更新情况", "When policies are updated"),
            c("scheduled", "按固定频次", "On a fixed schedule"),
            c("per-agreement", "按服务协议约定", "As agreed in the service agreement"),
            c("per-notice", "按专项通知开展", "As a dedicated national notice specifies"),
        ],
    ),
    "service-type": (
        "ServiceType",
        "服务包类型/服务类型",
        "The 服务包类型 column of 附件1 and the 服务类型 column of 附件2.",
        None,
        [
            c(
                "basic-public-health-package",
                "基本公卫服务包",
                "Basic public-health service package",
            ),
            c("basic-medical-package", "基本医疗服务包", "Basic medical service package"),
            c(
                "public-health-and-health-management",
                "基本公共卫生服务和健康管理服务",
                "Basic public-health and health-management services",
            ),
            c("basic-medical-service", "基本医疗服务", "Basic medical services"),
            c("health-management-service", "健康管理服务", "Health-management services"),
        ],
    ),
    "contract-audit": (
        "ContractAudit",
        "签约质量核查发现",
        "Findings of the contract quality audit (签约真实、履约务实, 粤 三 组织实施; jiayi jobs run "
        "contract-audit), recorded as DetectedIssue.code.",
        None,
        [
            c("no-consent", "无知情同意记录", "No informed consent recorded for the contract"),
            c("no-contact", "一年内无服务接触", "No contact with the resident in the last year"),
            c("signed-twice", "重复签约", "The resident has another contract in force"),
            c(
                "signer-without-role",
                "签约医生在签约机构无有效执业角色",
                "The signing practitioner has no active role at the contract's institution",
            ),
        ],
    ),
    "timing-anchor": (
        "TimingAnchor",
        "服务时间起点",
        "The event a relative service time counts from (timing-anchor extension): the child's birth, "
        "gestational age, delivery or discharge after delivery, start of tuberculosis treatment, "
        "the contract start.",
        None,
        [
            c("birth", "出生", "Birth of the subject"),
            c("gestational-age", "孕周", "Gestational age"),
            c("delivery-discharge", "分娩出院", "Discharge after delivery"),
            c("delivery", "分娩", "Delivery"),
            c("newborn-discharge", "新生儿出院", "Newborn's discharge"),
            c("treatment-start", "开始治疗", "Start of treatment"),
            c("management-notice", "接到管理通知", "Receipt of the management notice"),
            c("contract-start", "签约生效", "Contract start"),
        ],
    ),
}

# ICD-10 categories that recognise key populations (INTERFACE.md).
ICD10_CONCEPTS: list[tuple[str, str, str, str]] = [
    # (code, zh, en, population)
    ("I10", "特发性（原发性）高血压", "Essential (primary) hypertension", "hypertension"),
    ("I11", "高血压心脏病", "Hypertensive heart disease", "hypertension"),
    ("I12", "高血压肾脏病", "Hypertensive renal disease", "hypertension"),
    ("I13", "高血压心脏和肾脏病", "Hypertensive heart and renal disease", "hypertension"),
    ("I15", "继发性高血压", "Secondary hypertension", "hypertension"),
    ("E11", "2型糖尿病", "Type 2 diabetes mellitus", "t2dm"),
    ("J44", "其他慢性阻塞性肺病", "Other chronic obstructive pulmonary disease", "copd"),
    (
        "A15",
        "呼吸道结核，经细菌学和组织学证实",
        "Respiratory tuberculosis, bacteriologically and histologically confirmed",
        "tuberculosis",
    ),
    (
        "A16",
        "呼吸道结核，未经细菌学或组织学证实",
        "Respiratory tuberculosis, not confirmed bacteriologically or histologically",
        "tuberculosis",
    ),
    ("A17", "神经系统结核", "Tuberculosis of nervous system", "tuberculosis"),
    ("A18", "其他器官的结核", "Tuberculosis of other organs", "tuberculosis"),
    ("A19", "粟粒性结核", "Miliary tuberculosis", "tuberculosis"),
    ("F20", "精神分裂症", "Schizophrenia", "severe-mental-disorder"),
    ("F22", "持续性妄想性障碍", "Persistent delusional disorders", "severe-mental-disorder"),
    ("F25", "分裂情感性障碍", "Schizoaffective disorders", "severe-mental-disorder"),
    ("F31", "双相情感障碍", "Bipolar affective disorder", "severe-mental-disorder"),
    (
        "F06",
        "癫痫所致精神障碍（脑损害和功能紊乱及躯体疾病所致的其他精神障碍）",
        "Epilepsy-associated mental disorder (other mental disorders due to brain damage and dysfunction and to physical disease)",
        "severe-mental-disorder",
    ),
    ("F70", "轻度精神发育迟滞", "Mild mental retardation", "severe-mental-disorder"),
    ("F71", "中度精神发育迟滞", "Moderate mental retardation", "severe-mental-disorder"),
    ("F72", "重度精神发育迟滞", "Severe mental retardation", "severe-mental-disorder"),
    ("F73", "极重度精神发育迟滞", "Profound mental retardation", "severe-mental-disorder"),
    ("F78", "其他精神发育迟滞", "Other mental retardation", "severe-mental-disorder"),
    ("F79", "未特指的精神发育迟滞", "Unspecified mental retardation", "severe-mental-disorder"),
    ("Z33", "妊娠状态，附带的", "Pregnant state, incidental", "maternal"),
    ("Z34", "正常妊娠监督", "Supervision of normal pregnancy", "maternal"),
    ("Z35", "高危妊娠监督", "Supervision of high-risk pregnancy", "maternal"),
    ("Z36", "产前筛查", "Antenatal screening", "maternal"),
]
ICD10_NOTES = {
    "F06": "Only when the mental disorder is associated with epilepsy (癫痫所致精神障碍); the national "
    "management scope of severe mental disorders names it explicitly, ICD-10 files it under F06.",
    "F70": "F70–F79 count only with an accompanying psychotic disorder (精神发育迟滞伴发精神障碍), as "
    "the national management scope of severe mental disorders says.",
}
ICD10_POPULATIONS = {
    "hypertension": ("高血压", "hypertension (I10–I15; I14 does not exist)"),
    "t2dm": ("2型糖尿病", "type 2 diabetes (E11)"),
    "copd": ("慢性阻塞性肺疾病", "COPD (J44)"),
    "tuberculosis": ("结核病", "tuberculosis (A15–A19)"),
    "severe-mental-disorder": (
        "六种严重精神障碍",
        "the six severe mental disorders of the national management scope (F20, F22, F25, F31, F06 "
        "epilepsy-associated, F70–F79 with psychotic disorder)",
    ),
    "maternal": ("妊娠", "pregnancy (Z33–Z36)"),
}


def _concept(concept: Concept) -> dict[str, Any]:
    code, zh, en, definition, kids = concept
    out: dict[str, Any] = {"code": code, "display": zh}
    if definition:
        out["definition"] = definition
    out["designation"] = [{"language": "en", "value": en}]
    if kids:
        out["concept"] = [_concept(k) for k in kids]
    return out


def _count(concepts: list[dict[str, Any]]) -> int:
    return sum(1 + _count(x.get("concept", [])) for x in concepts)


def _header(
    resource_type: str, rid: str, name: str, title: str, description: str
) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "id": rid,
        "url": f"{BASE}/{resource_type}/{rid}",
        "version": VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": description,
    }


def code_system(rid: str) -> dict[str, Any]:
    name, title, description, hierarchy, concepts = CODE_SYSTEMS[rid]
    out = _header("CodeSystem", rid, name, title, description)
    out["caseSensitive"] = True
    out["valueSet"] = f"{BASE}/ValueSet/{rid}"
    if hierarchy:
        out["hierarchyMeaning"] = hierarchy
    out["content"] = "complete"
    tree = [_concept(x) for x in concepts]
    out["count"] = _count(tree)
    out["concept"] = tree
    return out


def all_codes_value_set(cs: dict[str, Any]) -> dict[str, Any]:
    out = _header(
        "ValueSet",
        cs["id"],
        cs["name"],
        cs["title"],
        f"All codes of the {cs['name']} code system ({cs['url']}). {cs['description']}",
    )
    out["compose"] = {"include": [{"system": cs["url"]}]}
    return out


def icd10_code_system() -> dict[str, Any]:
    out = _header(
        "CodeSystem",
        "icd-10-key-populations",
        "ICD10KeyPopulations",
        "ICD-10 重点人群识别类目",
        "A fragment of ICD-10 (http://hl7.org/fhir/sid/icd-10): the categories that recognise key "
        "populations from diagnoses (INTERFACE.md: hypertension I10–I15, type 2 diabetes E11, COPD "
        "J44, tuberculosis A15–A19, the six severe mental disorders of the national management "
        "scope, pregnancy Z33–Z36). Codes of the Chinese national clinical edition (e.g. I10.x00) "
        "match by their category prefix. Chinese titles follow the Chinese ICD-10 edition.",
    )
    out["url"] = ICD10
    out["caseSensitive"] = True
    out["valueSet"] = f"{BASE}/ValueSet/icd-10-key-populations"
    out["content"] = "fragment"
    concepts = []
    for code, zh, en, _pop in ICD10_CONCEPTS:
        concept: dict[str, Any] = {"code": code, "display": zh}
        note = ICD10_NOTES.get(code)
        if note:
            concept["definition"] = note
        concept["designation"] = [{"language": "en", "value": en}]
        concepts.append(concept)
    out["count"] = len(concepts)
    out["concept"] = concepts
    return out


def icd10_value_set(population: str) -> dict[str, Any]:
    zh, en = ICD10_POPULATIONS[population]
    rid = f"icd-10-{population}"
    name = "ICD10" + "".join(p.capitalize() for p in population.split("-"))
    out = _header(
        "ValueSet",
        rid,
        name,
        f"{zh}（ICD-10）",
        f"ICD-10 categories that make a resident a member of the key population '{population}': "
        f"{en} (INTERFACE.md; 附件2). Codes of the Chinese clinical edition match by category prefix "
        f"(terminology/key-population-rules.json).",
    )
    concepts = []
    for code, czh, _en, pop in ICD10_CONCEPTS:
        if pop == population:
            concepts.append({"code": code, "display": czh})
    out["compose"] = {"include": [{"system": ICD10, "concept": concepts}]}
    return out


def key_population_rules() -> dict[str, Any]:
    kp = f"{BASE}/CodeSystem/key-population"

    def diagnosis(pop: str) -> dict[str, Any]:
        return {
            "kind": "condition",
            "system": ICD10,
            "prefixes": [code for code, _zh, _en, p in ICD10_CONCEPTS if p == pop],
            "valueSet": f"{BASE}/ValueSet/icd-10-{pop}",
            "clinicalStatus": ["active", "recurrence", "relapse"],
        }

    flag = {"kind": "flag", "system": kp, "status": "active"}
    populations = [
        ("elderly-65", [{"kind": "age", "minYears": 65}]),
        ("hypertension", [diagnosis("hypertension")]),
        ("t2dm", [diagnosis("t2dm")]),
        ("copd", [diagnosis("copd")]),
        ("severe-mental-disorder", [diagnosis("severe-mental-disorder")]),
        ("tuberculosis", [diagnosis("tuberculosis")]),
        ("maternal", [{**diagnosis("maternal"), "gender": "female"}]),
        ("child-0-6", [{"kind": "age", "minYears": 0, "maxYears": 6}]),
        ("disabled", []),
        (
            "cancer-high-risk",
            [
                {
                    "kind": "risk-assessment",
                    "status": ["final", "amended", "corrected"],
                    "qualitativeRisk": {
                        "system": "http://terminology.hl7.org/CodeSystem/risk-probability",
                        "code": "high",
                    },
                    "minYears": 40,
                    "maxYears": 70,
                }
            ],
        ),
    ]
    displays = {x[0]: x[1] for x in CODE_SYSTEMS["key-population"][4]}
    return {
        "description": (
            "Key-population derivation rules (INTERFACE.md 'Key-population membership'). A resident "
            "belongs to a population when ANY of its rules holds. Ages are completed years at the "
            "evaluation date, bounds inclusive (child-0-6: 0 to 6 completed years, i.e. before the "
            "7th birthday). 'condition' rules match an active Condition whose code has the given "
            "system and starts with one of the prefixes (ICD-10 category, so I10.x00 matches I10); "
            "the F06 and F70–F79 notes of CodeSystem icd-10-key-populations apply. 'risk-assessment' "
            "matches a RiskAssessment with a prediction of that qualitativeRisk for a resident in the "
            "age range. 'flag' (implicit for every population) matches an active Flag whose code is "
            "the population code; disability is declared only this way (with the certificate number)."
        ),
        "system": kp,
        "version": VERSION,
        "flagRule": flag,
        "populations": [
            {"code": code, "display": displays[code], "rules": rules} for code, rules in populations
        ],
    }


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    TERM.mkdir(exist_ok=True)
    written = 0
    for rid in CODE_SYSTEMS:
        cs = code_system(rid)
        write_json(TERM / f"CodeSystem-{rid}.json", cs)
        write_json(TERM / f"ValueSet-{rid}.json", all_codes_value_set(cs))
        written += 2
    icd = icd10_code_system()
    write_json(TERM / "CodeSystem-icd-10-key-populations.json", icd)
    vs = all_codes_value_set(icd)
    vs["id"] = "icd-10-key-populations"
    vs["url"] = f"{BASE}/ValueSet/icd-10-key-populations"
    write_json(TERM / "ValueSet-icd-10-key-populations.json", vs)
    written += 2
    for population in ICD10_POPULATIONS:
        write_json(TERM / f"ValueSet-icd-10-{population}.json", icd10_value_set(population))
        written += 1
    for generated in ("gb2260-guangdong", "service-item"):
        source = TERM / f"CodeSystem-{generated}.json"
        if source.exists():
            cs = json.loads(source.read_text(encoding="utf-8"))
            write_json(TERM / f"ValueSet-{generated}.json", all_codes_value_set(cs))
            written += 1
    write_json(TERM / "key-population-rules.json", key_population_rules())
    print(f"wrote {written} terminology resources and key-population-rules.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
