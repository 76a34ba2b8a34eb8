"""Build the service packages of 附件1/附件2 as FHIR: PlanDefinitions, ActivityDefinitions, the
`service-item` CodeSystem and the extensions they use.

Texts come verbatim from `service_package_rows.py`; structure (codes, schedules, applicability,
fees) from the tables below, which cite the national basic public-health service specification,
3rd edition (国家基本公共卫生服务规范（第三版）, 2017; "规范" below).  Run
`python scripts/build_service_packages.py && python scripts/build_terminology.py`.

Conventions (documented in terminology/README.md):
- `Timing.code` says what kind of schedule applies (CodeSystem service-schedule) and, for 附件1, keeps
  the 服务频次 cell verbatim in `Timing.code.text`; `Timing.repeat` holds any minimum/maximum the text
  fixes, with the `timing-comparator` extension (">=" for 不少于/至少, "<=" for ≤).
- A row whose text holds several schedules (reminders and consultation; follow-ups and health
  check; the antenatal visits …) has sub-actions, each with its own ActivityDefinition and timing.
- Applicability conditions are FHIRPath over `%subject` (the Patient) and `%keyPopulations` (the
  resident's derived key populations as Codings); conditions that no record element carries are
  `text/plain`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_package_rows import ROWS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "profiles" / "packages"
EXTENSIONS = ROOT / "profiles" / "extensions"
TERM = ROOT / "terminology"
BASE = "https://jiayi.health/fhir"
CS = f"{BASE}/CodeSystem"
SD = f"{BASE}/StructureDefinition"
VERSION = "0.1.0"
UCUM = "http://unitsofmeasure.org"
SPEC = "国家基本公共卫生服务规范（第三版）"
PLAN = "广东省家庭医生“签约有感”行动方案（2026—2027年）"
KP_POPULATIONS = {
    "kp-elderly-65": ("elderly-65", "65岁及以上老年人", "Older adults aged 65 and over"),
    "kp-hypertension": ("hypertension", "高血压患者", "Patients with hypertension"),
    "kp-t2dm": ("t2dm", "2型糖尿病患者", "Patients with type 2 diabetes"),
    "kp-copd": ("copd", "慢性阻塞性肺疾病患者", "Patients with COPD"),
    "kp-severe-mental-disorder": (
        "severe-mental-disorder",
        "严重精神障碍患者",
        "Patients with severe mental disorders",
    ),
    "kp-tuberculosis": ("tuberculosis", "肺结核患者", "Patients with pulmonary tuberculosis"),
    "kp-maternal": ("maternal", "孕产妇", "Pregnant and postpartum women"),
    "kp-child-0-6": ("child-0-6", "0～6岁儿童", "Children aged 0 to 6"),
    "kp-disabled": ("disabled", "残疾人", "People with disabilities"),
    "kp-cancer-high-risk": (
        "cancer-high-risk",
        "癌症高危人群（40-70岁）",
        "People at high risk of cancer (40-70)",
    ),
}
AGE_CONTEXT = {"kp-elderly-65": (65, None), "kp-child-0-6": (0, 6), "kp-cancer-high-risk": (40, 70)}

# library item slug → (中文, English, category, delivery modes, ActivityDefinition.kind)
LIBRARY: dict[str, tuple[str, str, str, tuple[str, ...], str]] = {
    "health-record": (
        "居民健康档案管理",
        "Health record management",
        "public-health",
        ("face-to-face", "online"),
        "ServiceRequest",
    ),
    "key-population-records": (
        "重点人群分类专档管理",
        "Key-population record management",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "reminder-consultation": (
        "健康提醒与健康咨询",
        "Health reminders and consultation",
        "health-management",
        ("online", "face-to-face"),
        "CommunicationRequest",
    ),
    "weight-management": (
        "体重管理服务",
        "Weight management",
        "health-management",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "contact-channel": (
        "建立家庭医生和签约居民联系渠道",
        "Contact channel between family doctor and resident",
        "community",
        ("face-to-face", "online"),
        "CommunicationRequest",
    ),
    "signing-publicity": (
        "签约咨询和个性化签约服务宣传",
        "Signing consultation and publicity of personalised packages",
        "community",
        ("face-to-face", "online"),
        "CommunicationRequest",
    ),
    "priority-consultation": (
        "优先安排签约家庭医生接诊",
        "Priority consultation by the contracted family doctor",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "referral-coordination": (
        "协调转诊医院预约专家、床位和检查检验",
        "Coordinating referral hospitals: experts, beds, examinations",
        "medical",
        ("face-to-face", "online"),
        "ServiceRequest",
    ),
    "priority-referral": (
        "优先转诊",
        "Priority referral",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "general-diagnosis": (
        "一般诊疗服务",
        "General diagnosis and treatment",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "insurance-publicity": (
        "医疗保障政策宣传",
        "Medical insurance policy publicity",
        "community",
        ("face-to-face", "online"),
        "CommunicationRequest",
    ),
    "elderly-health-management": (
        "老年人健康管理服务",
        "Older adults' health management",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "elderly-tcm": (
        "老年人中医药健康管理服务",
        "TCM health management for older adults",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "home-follow-up-80": (
        "上门健康随访（80岁及以上）",
        "Home or face-to-face follow-up (80 and over)",
        "health-management",
        ("home", "face-to-face"),
        "ServiceRequest",
    ),
    "disabled-elderly-service": (
        "失能老年人健康服务",
        "Health services for older adults with functional disability",
        "health-management",
        ("home", "face-to-face"),
        "ServiceRequest",
    ),
    "outpatient": (
        "门诊服务",
        "Outpatient services",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "referral": (
        "转诊服务",
        "Referral services",
        "medical",
        ("face-to-face", "online"),
        "ServiceRequest",
    ),
    "long-term-prescription": (
        "长期处方服务",
        "Long-term prescriptions",
        "medical",
        ("face-to-face",),
        "MedicationRequest",
    ),
    "medication-guidance": (
        "合理用药指导",
        "Guidance on rational medication use",
        "medical",
        ("face-to-face", "online"),
        "CommunicationRequest",
    ),
    "other-medical": (
        "其他基本医疗服务项目",
        "Other basic medical services",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "hypertension-management": (
        "高血压患者健康管理服务",
        "Hypertension health management",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "auxiliary-examination": (
        "辅助检查",
        "Auxiliary examinations",
        "medical",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "t2dm-management": (
        "2型糖尿病患者健康管理服务",
        "Type 2 diabetes health management",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "copd-management": (
        "慢性阻塞性肺疾病患者健康管理",
        "COPD health management",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "smd-management": (
        "严重精神障碍患者健康管理服务",
        "Severe mental disorder health management",
        "public-health",
        ("face-to-face", "home"),
        "ServiceRequest",
    ),
    "tb-management": (
        "肺结核患者健康管理服务",
        "Tuberculosis health management",
        "public-health",
        ("home", "face-to-face"),
        "ServiceRequest",
    ),
    "maternal-management": (
        "孕产妇健康管理服务",
        "Maternal health management",
        "public-health",
        ("face-to-face", "home"),
        "ServiceRequest",
    ),
    "child-management": (
        "0～6岁儿童健康管理服务",
        "Health management of children aged 0-6",
        "public-health",
        ("face-to-face", "home"),
        "ServiceRequest",
    ),
    "vaccination": (
        "预防接种服务",
        "Vaccination",
        "public-health",
        ("face-to-face",),
        "ImmunizationRecommendation",
    ),
    "child-tcm": (
        "0~36个月儿童中医药管理服务",
        "TCM health management for children aged 0-36 months",
        "public-health",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "rehabilitation-assessment": (
        "康复（功能）评估",
        "Rehabilitation (functional) assessment",
        "medical",
        ("face-to-face", "home"),
        "ServiceRequest",
    ),
    "cancer-risk-assessment": (
        "癌症风险评估",
        "Cancer risk assessment",
        "health-management",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "colorectal-screening": (
        "结直肠癌初筛",
        "Colorectal cancer initial screening",
        "health-management",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "nasopharyngeal-screening": (
        "鼻咽癌初筛",
        "Nasopharyngeal cancer initial screening",
        "health-management",
        ("face-to-face",),
        "ServiceRequest",
    ),
    "cancer-education": (
        "癌症防治科普宣教",
        "Cancer prevention education",
        "health-management",
        ("face-to-face",),
        "CommunicationRequest",
    ),
}
# -- the personalised items of the library (个性化服务项目, 点单/接单) ----------------------------------
HOME_SERVICES = "附件2 65岁及以上老年人服务包 上门健康随访 服务要求"
HOME_FEES = "如涉及上门治疗、药物、康复、护理、家庭病床、巡诊等服务，按医药服务收费标准执行"
NOTICE = "国卫办基层发〔2025〕21号"
#: slug → (中文, English, category, delivery modes, kind, description, timing, funding sources, source)
PERSONALISED: dict[str, tuple[str, str, str, tuple[str, ...], str, str, dict[str, Any], tuple[str, ...], str]] = {
    "home-treatment": ("上门治疗", "Treatment at home", "medical", ("home",), "ServiceRequest", HOME_FEES, {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("medical-insurance", "personal-payment"), HOME_SERVICES),
    "home-rehabilitation": ("上门康复", "Rehabilitation at home", "medical", ("home",), "ServiceRequest", HOME_FEES, {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("medical-insurance", "personal-payment"), HOME_SERVICES),
    "home-nursing": ("上门护理", "Nursing at home", "medical", ("home",), "ServiceRequest", HOME_FEES, {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("medical-insurance", "personal-payment"), HOME_SERVICES),
    "family-bed": ("家庭病床", "Hospital bed at home (家庭病床)", "medical", ("home",), "ServiceRequest", HOME_FEES, {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("medical-insurance", "personal-payment"), HOME_SERVICES),
    "home-rounds": ("巡诊", "Home rounds (巡诊)", "medical", ("home",), "ServiceRequest", HOME_FEES, {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("medical-insurance", "personal-payment"), HOME_SERVICES),
    "ltc-assessment": ("长护失能等级评估", "Long-term-care disability assessment", "health-management", ("home", "face-to-face"), "ServiceRequest", "对失能失智老年人，鼓励通过个性化签约增加服务频次，探索支持签约家庭医生提供长护失能等级评估或照护服务，丰富签约服务内容。", {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("personal-payment",), f"{NOTICE} 二(七)"),
    "ltc-care": ("长期护理照护服务", "Long-term care services", "health-management", ("home",), "ServiceRequest", "对失能失智老年人，鼓励通过个性化签约增加服务频次，探索支持签约家庭医生提供长护失能等级评估或照护服务，丰富签约服务内容。", {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("personal-payment",), f"{NOTICE} 二(七)"),
    "annual-health-report": ("年度健康评估报告", "Yearly health assessment report", "health-management", ("face-to-face", "online"), "ServiceRequest", "鼓励家庭医生为重点人群出具年度健康评估报告。", {"timingTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "a"}, "code": {"coding": [{"system": f"{CS}/service-schedule", "code": "scheduled"}]}}}, ("personal-payment",), f"{NOTICE} 二(七)"),
    "indicator-monitoring": ("身体异常指标监测和干预", "Monitoring of abnormal indicators and intervention", "health-management", ("face-to-face", "online"), "ServiceRequest", "个性化签约服务应综合签约人群身体异常指标监测和干预、慢性病医防融合共管等情况制定。", {"timingTiming": {"code": {"coding": [{"system": f"{CS}/service-schedule", "code": "per-agreement"}]}}}, ("personal-payment",), "粤(八)"),
}  # fmt: skip
for _slug, _p in PERSONALISED.items():
    LIBRARY[_slug] = (_p[0], _p[1], _p[2], _p[3], _p[4])

ON_DEMAND = {
    "outpatient", "referral", "long-term-prescription", "medication-guidance", "other-medical",
    "auxiliary-examination", "rehabilitation-assessment", "weight-management", "signing-publicity",
    "priority-consultation", "referral-coordination", "priority-referral",
}  # fmt: skip


# -- timing helpers ------------------------------------------------------------------------------
def schedule(code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": f"{CS}/service-schedule", "code": code}]}
    if text:
        out["text"] = text
    return out


def per(
    n: int,
    period: float = 1,
    unit: str = "a",
    comparator: str | None = ">=",
    code: str = "scheduled",
    count: int | None = None,
) -> dict[str, Any]:
    repeat: dict[str, Any] = {}
    if comparator:
        repeat["extension"] = [{"url": f"{SD}/timing-comparator", "valueCode": comparator}]
    if count:
        repeat["count"] = count
    repeat.update({"frequency": n, "period": period, "periodUnit": unit})
    return {"timingTiming": {"repeat": repeat, "code": schedule(code)}}


def age(value: int, unit: str) -> dict[str, Any]:
    names = {"d": "days", "mo": "months", "a": "years"}
    return {"timingAge": {"value": value, "unit": names[unit], "system": UCUM, "code": unit}}


def window(low: int, high: int, unit: str, anchor: str) -> dict[str, Any]:
    names = {"d": "days", "wk": "weeks", "h": "hours", "mo": "months"}
    q = lambda v: {"value": v, "unit": names[unit], "system": UCUM, "code": unit}  # noqa: E731
    return {"timingRange": {"low": q(low), "high": q(high)}, "anchor": anchor}


def phase(n: int, period: float, unit: str, low: int, high: int, anchor: str) -> dict[str, Any]:
    """`n` per `period unit` inside months [low, high) after `anchor` (Timing.repeat.boundsRange)."""
    months = lambda v: {"value": v, "unit": "months", "system": UCUM, "code": "mo"}  # noqa: E731
    timing = per(n, period, unit, comparator=None)
    timing["timingTiming"]["repeat"]["boundsRange"] = {"low": months(low), "high": months(high)}
    timing["anchor"] = anchor
    return timing


#: The phases of treatment: the standard regimen for new pulmonary TB (初治, 2HRZE/4HR): an intensive
#: phase of 2 months and a continuation phase of 4 months from the start of treatment.
TB_REGIMEN = "中国结核病预防控制工作技术规范（2020年版）: 初治肺结核标准治疗方案2HRZE/4HR（强化期2个月，继续期4个月）"


def spec_only() -> dict[str, Any]:
    return {"timingTiming": {"code": schedule("per-specification")}}


# -- sub-actions: slug → list of (sub slug, 中文, English, timing, condition text, citation) -------
Sub = tuple[str, str, str, dict[str, Any], str | None, str]
REMINDERS: list[Sub] = [
    (
        "reminder",
        "健康提醒",
        "Health reminders",
        per(12),
        None,
        "附件1/附件2: 每年不少于12次的健康提醒; 粤(三)",
    ),
    (
        "consultation",
        "健康咨询",
        "Health consultation",
        per(1),
        None,
        "附件1/附件2: 至少每年1次了解签约居民健康状况",
    ),
]


def follow_up_and_check(clause: str) -> list[Sub]:
    return [
        (
            "follow-up",
            "面对面随访",
            "Face-to-face follow-up",
            per(4),
            None,
            f"{SPEC} {clause}: 每年至少4次面对面随访",
        ),
        (
            "health-check",
            "年度健康检查",
            "Yearly health check",
            per(1, comparator=None),
            None,
            f"{SPEC} {clause}: 每年进行1次较全面的健康检查",
        ),
    ]


CHILD_AGES = [("3m", 3, "mo"), ("6m", 6, "mo"), ("8m", 8, "mo"), ("12m", 12, "mo"), ("18m", 18, "mo"), ("24m", 24, "mo"), ("30m", 30, "mo"), ("36m", 36, "mo"), ("4y", 4, "a"), ("5y", 5, "a"), ("6y", 6, "a")]  # fmt: skip
_MONTHS = "个月"
SUBS: dict[str, list[Sub]] = {
    "reminder-consultation": REMINDERS,
    "hypertension-management": follow_up_and_check("高血压患者健康管理服务规范 三(二)/(四)"),
    "t2dm-management": follow_up_and_check("2型糖尿病患者健康管理服务规范 三(二)/(四)"),
    "smd-management": [
        (
            "follow-up",
            "随访评估",
            "Follow-up assessment",
            per(4),
            None,
            f"{SPEC} 严重精神障碍患者管理服务规范 三(二): 每年至少随访4次",
        ),
        (
            "health-check",
            "年度健康检查",
            "Yearly health check",
            per(1, comparator=None),
            "病情许可并征得监护人与（或）患者本人同意",
            f"{SPEC} 严重精神障碍患者管理服务规范 三(四): 每年进行1次健康检查",
        ),
    ],
    "tb-management": [
        (
            "first-visit",
            "首次入户随访",
            "First home visit",
            window(0, 72, "h", "management-notice"),
            None,
            f"{SPEC} 肺结核患者健康管理服务规范 三(二): 接到通知后72小时内访视",
        ),
        (
            "intensive-phase",
            "强化期随访",
            "Follow-up in the intensive phase",
            phase(1, 10, "d", 0, 2, "treatment-start"),
            None,
            f"{SPEC} 肺结核患者健康管理服务规范 三(三): 强化期或注射期内每10天随访1次; {TB_REGIMEN}",
        ),
        (
            "continuation-phase",
            "继续期随访",
            "Follow-up in the continuation phase",
            phase(1, 1, "mo", 2, 6, "treatment-start"),
            None,
            f"{SPEC} 肺结核患者健康管理服务规范 三(三): 继续期或非注射期内每1个月随访1次; {TB_REGIMEN}",
        ),
        (
            "closing-assessment",
            "结案评估",
            "Closing assessment",
            window(6, 6, "mo", "treatment-start"),
            None,
            f"{SPEC} 肺结核患者健康管理服务规范 三(五): 结案评估（停止抗结核治疗后）; {TB_REGIMEN}",
        ),
    ],
    "maternal-management": [
        (
            "antenatal-1",
            "孕早期健康管理（孕13周前）",
            "First-trimester visit (before 13 weeks)",
            window(0, 13, "wk", "gestational-age"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(一)",
        ),
        (
            "antenatal-2",
            "孕中期随访（孕16～20周）",
            "Second-trimester visit (16-20 weeks)",
            window(16, 20, "wk", "gestational-age"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(二)",
        ),
        (
            "antenatal-3",
            "孕中期随访（孕21～24周）",
            "Second-trimester visit (21-24 weeks)",
            window(21, 24, "wk", "gestational-age"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(二)",
        ),
        (
            "antenatal-4",
            "孕晚期随访（孕28～36周）",
            "Third-trimester visit (28-36 weeks)",
            window(28, 36, "wk", "gestational-age"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(三)",
        ),
        (
            "antenatal-5",
            "孕晚期随访（孕37～40周）",
            "Third-trimester visit (37-40 weeks)",
            window(37, 40, "wk", "gestational-age"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(三)",
        ),
        (
            "postpartum-visit",
            "产后访视（出院后1周内）",
            "Postpartum home visit (within 7 days of discharge)",
            window(0, 7, "d", "delivery-discharge"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(四)",
        ),
        (
            "postpartum-42d",
            "产后42天健康检查",
            "42-day postpartum check",
            window(42, 42, "d", "delivery"),
            None,
            f"{SPEC} 孕产妇健康管理服务规范 三(五)",
        ),
    ],
    "child-management": [
        (
            "newborn-visit",
            "新生儿家庭访视（出院后1周内）",
            "Newborn home visit (within 7 days of discharge)",
            window(0, 7, "d", "newborn-discharge"),
            None,
            f"{SPEC} 0～6岁儿童健康管理服务规范 三(一)",
        ),
        (
            "1m",
            "新生儿满月健康管理（满28～30天）",
            "One-month check (28-30 days)",
            window(28, 30, "d", "birth"),
            None,
            f"{SPEC} 0～6岁儿童健康管理服务规范 三(二)",
        ),
        *[
            (
                key,
                f"{'婴幼儿' if u == 'mo' else '学龄前儿童'}健康管理（{v}{_MONTHS if u == 'mo' else '岁'}）",
                f"Well-child visit at {v} {'months' if u == 'mo' else 'years'}",
                age(v, u),
                None,
                f"{SPEC} 0～6岁儿童健康管理服务规范 三({'三' if u == 'mo' else '四'})",
            )
            for key, v, u in CHILD_AGES
        ],
    ],
    "child-tcm": [
        (
            f"{m}m",
            f"中医药健康指导（{m}月龄）",
            f"TCM guidance at {m} months",
            age(m, "mo"),
            None,
            f"{SPEC} 0～36个月儿童中医药健康管理服务规范: 6、12、18、24、30、36月龄时各1次",
        )
        for m in (6, 12, 18, 24, 30, 36)
    ],
    "colorectal-screening": [
        (
            "fobt-yearly",
            "粪便潜血检测（每年）",
            "Faecal occult blood test, yearly",
            per(1, comparator=None),
            None,
            "附件2: 每年进行一次粪便潜血检测",
        ),
        (
            "fobt-after-colonoscopy",
            "粪便潜血检测（肠镜无异常后每5年）",
            "Faecal occult blood test every 5 years after a normal colonoscopy",
            per(1, 5, comparator=None),
            "肠镜检查结果无异常",
            "附件2: 肠镜检查结果无异常的居民推荐间隔5年进行一次粪便潜血检测",
        ),
    ],
    "nasopharyngeal-screening": [
        (
            "ebv-positive",
            "EB病毒抗体检测（阳性者每年，连续3年）",
            "EBV antibody test yearly for 3 years when positive",
            per(1, comparator=None, count=3),
            "EB病毒抗体阳性",
            "附件2: 阳性的居民推荐每年开展一次检测，连续3年",
        ),
        (
            "ebv-recheck-5y",
            "EB病毒抗体检测（阳性连续3年未出癌者，5年后复查）",
            "EBV antibody recheck after 5 years when positive for 3 years without cancer",
            per(1, 5, comparator=None, count=1),
            "EB病毒抗体阳性且连续3年检测后未出癌",
            "附件2: 连续3年后未出癌者转为5年后复查",
        ),
        (
            "ebv-negative",
            "EB病毒抗体检测（阴性者每5年）",
            "EBV antibody test every 5 years when negative",
            per(1, 5, comparator=None),
            "EB病毒抗体阴性",
            "附件2: 阴性的居民推荐每5年开展一次EB病毒抗体检测",
        ),
    ],
}
# row timing when there are no sub-actions: slug → (timing, citation)
ROW_TIMING: dict[str, tuple[dict[str, Any], str]] = {
    "health-record": (per(1), "至少每年动态更新1次"),
    "elderly-health-management": (
        per(1, comparator=None),
        f"{SPEC} 老年人健康管理服务规范: 每年提供1次健康管理服务",
    ),
    "elderly-tcm": (
        per(1, comparator=None),
        f"{SPEC} 老年人中医药健康管理服务规范: 每年提供1次中医药健康管理服务",
    ),
    "home-follow-up-80": (
        per(1, comparator=None),
        "附件2: 每年1次; 国卫办基层发〔2025〕21号 二(七)",
    ),
    "contact-channel": (
        {"timingTiming": {"code": schedule("per-agreement")}},
        "在签订服务协议时主动告知",
    ),
    "disabled-elderly-service": (
        {"timingTiming": {"code": schedule("per-notice")}},
        "国卫办老龄函〔2024〕285号",
    ),
    "key-population-records": (spec_only(), f"{SPEC}"),
    "copd-management": (
        spec_only(),
        "按国家基本公共卫生服务规范（慢阻肺患者健康服务不在第三版中，频次不在此固定）",
    ),
    "vaccination": (spec_only(), f"{SPEC} 预防接种服务规范；国家免疫规划疫苗儿童免疫程序"),
    "cancer-risk-assessment": (per(1, 5, comparator=None), "附件2: 推荐每5年开展一次癌症风险评估"),
    "cancer-education": (per(1, comparator=None), "附件2: 推荐每年开展一次科普宣教"),
    "general-diagnosis": (per(1, comparator="<="), "附件1: ≤1次/年"),
    "insurance-publicity": (
        {"timingTiming": {"code": schedule("policy-driven")}},
        "附件1: 按政策更新情况",
    ),
}
ANNEX1_SCHEDULE = {"按需服务": "on-demand", "按国家基本公共卫生服务规范服务": "per-specification", "≤1次/年": "scheduled", "按政策更新情况": "policy-driven"}  # fmt: skip
# extra applicability per slug: (language, expression, description)
CONDITIONS: dict[str, list[tuple[str, str, str]]] = {
    "home-follow-up-80": [
        ("text/fhirpath", "%subject.birthDate <= today() - 80 years", "80岁及以上"),
        ("text/plain", "签约居民申请并知情同意", "根据签约居民的申请，在知情同意情况下"),
    ],
    "disabled-elderly-service": [
        ("text/plain", "居家失能老年人（65岁及以上）", "签约的65岁及以上居家失能老年人")
    ],
    "child-tcm": [("text/fhirpath", "%subject.birthDate >= today() - 36 months", "0~36个月儿童")],
    "long-term-prescription": [
        (
            "text/plain",
            "病情稳定、需长期药物治疗的慢性病患者",
            "临床诊断明确、用药方案稳定、依从性良好、病情控制平稳",
        )
    ],
}


def kp_condition(population: str, zh: str) -> dict[str, Any]:
    return {
        "kind": "applicability",
        "expression": {
            "description": f"适用人群：{zh}",
            "language": "text/fhirpath",
            "expression": f"%keyPopulations.where(system = '{CS}/key-population' and code = '{population}').exists()",
        },
    }


def condition(language: str, expression: str, description: str) -> dict[str, Any]:
    return {
        "kind": "applicability",
        "expression": {"description": description, "language": language, "expression": expression},
    }


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": f"{CS}/{system}", "code": code}
    if display:
        out["display"] = display
    return out


def _timing_fields(timing: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    timing = dict(timing)
    anchor = timing.pop("anchor", None)
    ext = [{"url": f"{SD}/timing-anchor", "valueCode": anchor}] if anchor else []
    return timing, ext


def activity_definition(
    aid: str,
    title: str,
    en: str,
    description: str,
    slug: str,
    code: str,
    timing: dict[str, Any] | None,
    usage: str | None,
    population: str | None,
    citation: str | None,
    fees: list[dict[str, Any]] = (),  # type: ignore[assignment]
    source: str | None = None,
) -> dict[str, Any]:
    zh_lib, en_lib, category, modes, kind = LIBRARY[slug]
    source = source or f"{PLAN}{' 附件2' if population else ' 附件1'}"
    ad: dict[str, Any] = {"resourceType": "ActivityDefinition", "id": aid}
    ext = [
        {
            "url": f"{SD}/delivery-mode",
            "valueCodeableConcept": {"coding": [coding("delivery-mode", m)]},
        }
        for m in modes
    ]
    fields: dict[str, Any] = {}
    if timing:
        fields, anchor_ext = _timing_fields(timing)
        ext += anchor_ext
    ext += [json.loads(json.dumps(f)) for f in fees]
    ad["extension"] = ext
    ad.update(
        {
            "url": f"{BASE}/ActivityDefinition/{aid}",
            "version": VERSION,
            "name": "".join(p.capitalize() for p in aid.replace(".", "-").split("-") if p)[:255],
            "title": title,
            "status": "active",
            "experimental": False,
            "publisher": "Jiayi",
            "description": f"{description}\n\n{en}. Source: {source}"
            + (f"; schedule: {citation}" if citation else "")
            + ".",
        }
    )
    if population:
        ad["useContext"] = [
            {
                "code": {
                    "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
                    "code": "focus",
                },
                "valueCodeableConcept": {"coding": [coding("key-population", population)]},
            }
        ]
    if usage:
        ad["usage"] = usage
    ad["topic"] = [
        {"coding": [coding("service-item-category", category)]},
        {"coding": [coding("service-item", slug, zh_lib)]},
    ]
    ad["relatedArtifact"] = related_artifacts(source, citation)
    ad["kind"] = kind
    ad["code"] = {"coding": [coding("service-item", code, title)], "text": title}
    ad.update(fields)
    return ad


def related_artifacts(source: str, citation: str | None) -> list[dict[str, Any]]:
    """Machine-readable citations (RelatedArtifact type `citation`): the annex or notice the item
    comes from, then each clause its schedule rests on.  A clause of the 3rd-edition specification
    is `label` = the clause number (e.g. 三(二)), `display` = specification and section, `citation`
    = the clause as cited; other sources keep the whole citation in `display`."""
    out: list[dict[str, Any]] = [{"type": "documentation", "display": source, "citation": source}]
    for part in (citation or "").split("; "):
        part = part.strip()
        if not part or part in ("按需服务",):
            continue
        if part.startswith(SPEC):
            section, _, clause = part[len(SPEC) :].strip().partition(" ")
            entry: dict[str, Any] = {"type": "citation"}
            label = clause.split(":", 1)[0].strip()
            if label:
                entry["label"] = label
            entry["display"] = f"{SPEC} {section}".strip()
            entry["citation"] = part
            out.append(entry)
        else:
            out.append({"type": "citation", "display": part.split(":", 1)[0], "citation": part})
    return out


def item_fees(package: str) -> list[dict[str, Any]]:
    """The fee standard of a package's item: the package's funding sources; the amount is the
    package's (an item is not charged apart), so items carry no amount of their own."""
    if package == "basic-public-health":
        return [
            fee(
                None,
                "public-health-funds",
                "包含在基本公卫服务包（20元/人·年）内",
                "附件1 备注2：基本公卫服务包费用已包含，不另收费",
            )
        ]
    if package == "basic-medical":
        return FEES["basic-medical"]
    return KP_FEES


class Builder:
    def __init__(self) -> None:
        self.ads: list[dict[str, Any]] = []
        self.items: dict[str, list[dict[str, Any]]] = {}  # package → concepts
        self.rows_en: dict[str, str] = {}

    def row_action(
        self,
        package: str,
        index: int,
        row: tuple[str, str, str, str, str | None],
        population: tuple[str, str, str] | None,
    ) -> dict[str, Any]:
        slug, service_type, title, content, last = row
        annex1 = population is None
        requirement = None if annex1 else last
        code = f"{package}.{slug}"
        zh_lib, en_lib = LIBRARY[slug][:2]
        action: dict[str, Any] = {
            "id": slug,
            "prefix": str(index),
            "title": title,
            "description": content,
        }
        if requirement:
            action["textEquivalent"] = requirement
        action["code"] = [
            {"coding": [coding("service-item", code, title)]},
            {"coding": [coding("service-type", service_type)]},
        ]
        conditions = [kp_condition(population[0], population[1])] if population else []
        conditions += [condition(*x) for x in CONDITIONS.get(slug, [])]
        if conditions:
            action["condition"] = conditions
        timing, citation = self._row_timing(slug, last if annex1 else None)
        ext: list[dict[str, Any]] = []
        if timing:
            fields, ext = _timing_fields(timing)
            action.update(fields)
        if ext:
            action["extension"] = ext
        action["definitionCanonical"] = f"{BASE}/ActivityDefinition/{code}"
        concept = {
            "code": code,
            "display": title,
            "designation": [{"language": "en", "value": en_lib}],
            "property": [
                {"code": "library-item", "valueCode": slug},
                {"code": "service-type", "valueCode": service_type},
            ],
        }
        self.ads.append(
            activity_definition(
                code,
                title,
                en_lib,
                content,
                slug,
                code,
                timing,
                requirement,
                population[0] if population else None,
                citation,
                item_fees(package),
            )
        )
        subs = []
        for sub, zh, en, sub_timing, cond, cite in SUBS.get(slug, []):
            sub_code = f"{code}.{sub}"
            sub_action: dict[str, Any] = {
                "id": f"{slug}.{sub}",
                "title": zh,
                "code": [{"coding": [coding("service-item", sub_code, zh)]}],
            }
            if cond:
                sub_action["condition"] = [condition("text/plain", cond, cond)]
            fields, sub_ext = _timing_fields(sub_timing)
            if sub_ext:
                sub_action["extension"] = sub_ext
            sub_action.update(fields)
            sub_action["definitionCanonical"] = f"{BASE}/ActivityDefinition/{sub_code}"
            subs.append(sub_action)
            concept.setdefault("concept", []).append(
                {
                    "code": sub_code,
                    "display": zh,
                    "designation": [{"language": "en", "value": en}],
                    "property": [{"code": "library-item", "valueCode": slug}],
                }
            )
            self.ads.append(
                activity_definition(
                    sub_code,
                    zh,
                    en,
                    f"{title}：{zh}（{cite}）",
                    slug,
                    sub_code,
                    sub_timing,
                    cond,
                    population[0] if population else None,
                    cite,
                    item_fees(package),
                )
            )
        if subs:
            action["action"] = subs
        self.items.setdefault(package, []).append(concept)
        return action

    @staticmethod
    def _row_timing(
        slug: str, frequency_text: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        timing, citation = ROW_TIMING.get(slug, (None, None))
        if slug in SUBS and frequency_text is None:
            return None, None
        if frequency_text is not None:  # 附件1: keep 服务频次 verbatim in Timing.code
            base = (
                json.loads(json.dumps(timing))
                if timing and "timingTiming" in timing
                else {"timingTiming": {}}
            )
            kind = ANNEX1_SCHEDULE[frequency_text]
            base["timingTiming"]["code"] = schedule(kind, frequency_text)
            return base, citation or f"附件1 服务频次: {frequency_text}"
        if timing is None and slug in ON_DEMAND:
            return {"timingTiming": {"code": schedule("on-demand")}}, "按需服务"
        return timing, citation


def personalised_definitions(builder: Builder) -> None:
    """One ActivityDefinition per personalised item (`personalised.<slug>`), with its fee standard:
    the funding sources that pay (amount set locally: 按医药服务收费标准执行 / 由各地确定)."""
    concepts = []
    for slug, (zh, en, _cat, _modes, _kind, text, timing, sources, source) in PERSONALISED.items():
        code = f"personalised.{slug}"
        basis = (
            f"{source}：{HOME_FEES}"
            if source == HOME_SERVICES
            else f"{source}：个性化服务包费用标准由各地确定（粤(八)）"
        )
        fees = [fee(None, src, zh, basis) for src in sources]
        builder.ads.append(
            activity_definition(
                code, zh, en, text, slug, code, timing, None, None, None, fees, source=source
            )
        )
        concepts.append(
            {
                "code": code,
                "display": zh,
                "designation": [{"language": "en", "value": en}],
                "property": [{"code": "library-item", "valueCode": slug}],
            }
        )
    builder.items["personalised"] = concepts


# -- packages ------------------------------------------------------------------------------------
def fee(
    amount: float | None,
    source: str,
    component: str | None,
    basis: str,
    includes: list[tuple[float, str]] = (),
) -> dict[str, Any]:  # type: ignore[assignment]
    parts: list[dict[str, Any]] = []
    if amount is not None:
        parts.append({"url": "amount", "valueMoney": {"value": amount, "currency": "CNY"}})
    parts.append(
        {
            "url": "fundingSource",
            "valueCodeableConcept": {"coding": [coding("funding-source", source)]},
        }
    )
    if component:
        parts.append({"url": "component", "valueString": component})
    parts.append({"url": "basis", "valueString": basis})
    for value, label in includes:
        parts.append(
            {
                "url": "part",
                "extension": [
                    {"url": "amount", "valueMoney": {"value": value, "currency": "CNY"}},
                    {"url": "component", "valueString": label},
                ],
            }
        )
    return {"url": f"{SD}/fee-standard", "extension": parts}


FEE_BASIS_PH = "附件1 备注2：基本公卫服务包20元，按照粤财社〔2024〕14号确定的人均服务成本"
FEES: dict[str, list[dict[str, Any]]] = {
    "basic-public-health": [
        fee(
            20,
            "public-health-funds",
            "基本公卫服务包",
            FEE_BASIS_PH,
            [(5.13, "建立居民健康档案"), (4.38, "健康教育"), (10, "家庭医生签约服务费")],
        ),
    ],
    "basic-medical": [
        fee(
            None,
            "medical-insurance",
            "属于基本医疗保险政策范围内的门诊费用",
            "附件1 备注1、3：由各地级以上市卫生健康局（委）确定；按规定纳入普通门诊统筹报销范围",
        ),
    ],
}
KP_FEES = [
    fee(
        None,
        "medical-insurance",
        "基本医疗保险支付范围内的费用",
        "附件2 备注：按现行医疗服务价格和普通门诊待遇医保支付政策执行，由基本医疗保险基金和参保个人按规定予以支付",
    ),
    fee(None, "personal-payment", "参保个人按规定支付的部分", "附件2 备注"),
]
ANNEX1_TITLES = {
    "basic-public-health": (
        "基本公卫服务包",
        "Basic public-health service package",
        "BasicPublicHealth",
    ),
    "basic-medical": ("基本医疗服务包", "Basic medical service package", "BasicMedical"),
}


def _context(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": {
            "system": "http://terminology.hl7.org/CodeSystem/usage-context-type",
            "code": code,
        },
        **value,
    }


def plan_definition(package: str, builder: Builder) -> dict[str, Any]:
    population = KP_POPULATIONS.get(package)
    if population:
        code, zh, en = population
        title = f"重点人群家庭医生签约基本服务包——{zh}"
        name = "Kp" + "".join(p.capitalize() for p in code.split("-"))
        annex = "附件2 重点人群家庭医生签约基本服务包参考内容"
        fees = KP_FEES
        subject_text = zh
    else:
        zh, en, name = ANNEX1_TITLES[package]
        title = f"一般人群家庭医生签约基本服务包——{zh}"
        annex = "附件1 一般人群家庭医生签约基本服务包参考内容"
        fees = FEES[package]
        subject_text = "辖区内所有签约居民"
    rows = ROWS[package]
    actions = [builder.row_action(package, i, row, population) for i, row in enumerate(rows, 1)]
    contexts = []
    if population:
        contexts.append(
            _context(
                "focus",
                {
                    "valueCodeableConcept": {
                        "coding": [coding("key-population", population[0], population[1])]
                    }
                },
            )
        )
    if package in AGE_CONTEXT:
        low, high = AGE_CONTEXT[package]
        rng: dict[str, Any] = {"low": {"value": low, "unit": "years", "system": UCUM, "code": "a"}}
        if high is not None:
            rng["high"] = {"value": high, "unit": "years", "system": UCUM, "code": "a"}
        contexts.append(_context("age", {"valueRange": rng}))
    if package == "kp-maternal":
        contexts.append(
            _context(
                "gender",
                {
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/administrative-gender",
                                "code": "female",
                            }
                        ]
                    }
                },
            )
        )
    why = (
        f"The {en.lower()} package of {annex} ({PLAN}, 二(八)), one action per table row: 服务项目 in "
        "action.title, 服务内容 verbatim in action.description"
        + (
            ", 服务要求 verbatim in action.textEquivalent"
            if population
            else ", 服务频次 verbatim in Timing.code.text"
        )
        + f". Schedules fixed by the {SPEC} are structured timings on the actions and their sub-actions, "
        "citing the clause in the linked ActivityDefinitions."
    )
    if package == "basic-public-health":
        why += " Fee standard: 20 yuan per person from basic public-health funds, which includes (包含) 5.13 for health records, 4.38 for health education and 10 for the family-doctor signing fee (附件1 备注2; the three listed parts add up to 19.51, the annex does not allocate the remaining 0.49)."
    if population:
        why += " 若签约居民在服务协议期内未到机构就诊或未使用服务协议中约定的服务项目，不视为未履约（附件2 门诊服务 服务要求）."
    pd: dict[str, Any] = {"resourceType": "PlanDefinition", "id": package, "extension": fees}
    pd.update(
        {
            "url": f"{BASE}/PlanDefinition/{package}",
            "version": VERSION,
            "name": name,
            "title": title,
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                        "code": "order-set",
                    }
                ]
            },
            "status": "active",
            "experimental": False,
            "subjectCodeableConcept": {
                "coding": [{"system": "http://hl7.org/fhir/resource-types", "code": "Patient"}],
                "text": subject_text,
            },
            "publisher": "Jiayi",
            "description": why,
        }
    )
    if contexts:
        pd["useContext"] = contexts
    pd["jurisdiction"] = [
        {"coding": [{"system": "urn:iso:std:iso:3166:-2", "code": "CN-GD"}], "text": "广东省"}
    ]
    pd["relatedArtifact"] = [{"type": "citation", "display": f"{PLAN} {annex}"}]
    pd["action"] = actions
    return pd


def service_item_code_system(builder: Builder) -> dict[str, Any]:
    library = [
        {
            "code": slug,
            "display": zh,
            "designation": [{"language": "en", "value": en}],
            "property": [{"code": "category", "valueCode": cat}],
        }
        for slug, (zh, en, cat, _m, _k) in LIBRARY.items()
    ]
    groups = [
        {
            "code": "library",
            "display": "签约服务项目库",
            "definition": "The signing service item library (项目库, 粤(八)): one item per kind of service, shared by the packages' rows.",
            "designation": [{"language": "en", "value": "Service item library"}],
            "property": [{"code": "notSelectable", "valueBoolean": True}],
            "concept": library,
        }
    ]
    for package, concepts in builder.items.items():
        if package == "personalised":
            groups.append(
                {
                    "code": "personalised",
                    "display": "个性化服务项目",
                    "definition": "Items a resident may order (点单) beyond the basic packages and the family-doctor team accepts (接单) (一(八); 粤(八)); fees by local price standards.",
                    "designation": [{"language": "en", "value": "Personalised items"}],
                    "property": [{"code": "notSelectable", "valueBoolean": True}],
                    "concept": concepts,
                }
            )
            continue
        population = KP_POPULATIONS.get(package)
        zh, en = (population[1], population[2]) if population else ANNEX1_TITLES[package][:2]
        groups.append(
            {
                "code": package,
                "display": f"{zh}服务包" if population else zh,
                "designation": [{"language": "en", "value": f"{en} package" if population else en}],
                "property": [{"code": "notSelectable", "valueBoolean": True}],
                "concept": concepts,
            }
        )

    def count(xs: list[dict[str, Any]]) -> int:
        return sum(1 + count(x.get("concept", [])) for x in xs)

    return {
        "resourceType": "CodeSystem",
        "id": "service-item",
        "url": f"{CS}/service-item",
        "version": VERSION,
        "name": "ServiceItem",
        "title": "家庭医生签约服务项目",
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": (
            f"Service items of the Guangdong packages ({PLAN} 附件1 and 附件2), hierarchical by package: one "
            "code per table row (<package>.<item>), with the sub-items whose schedules the national basic "
            "public-health service specification (3rd edition) fixes, plus the item library (项目库, 粤(八)) "
            "that the property library-item points to, so that the same item in several packages can be "
            "recognised. Generated by scripts/build_service_packages.py."
        ),
        "caseSensitive": True,
        "valueSet": f"{BASE}/ValueSet/service-item",
        "hierarchyMeaning": "is-a",
        "content": "complete",
        "count": count(groups),
        "property": [
            {
                "code": "notSelectable",
                "uri": "http://hl7.org/fhir/concept-properties#notSelectable",
                "description": "A grouper, not an item",
                "type": "boolean",
            },
            {
                "code": "library-item",
                "description": "The item of the library this row or sub-item is an instance of",
                "type": "code",
            },
            {
                "code": "service-type",
                "description": "The annex's 服务类型/服务包类型 (CodeSystem service-type)",
                "type": "code",
            },
            {
                "code": "category",
                "description": "Item category (CodeSystem service-item-category)",
                "type": "code",
            },
        ],
        "concept": groups,
    }


# -- extensions ----------------------------------------------------------------------------------
def _sd(
    sid: str, title: str, description: str, contexts: list[str], elements: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "id": sid,
        "url": f"{SD}/{sid}",
        "version": VERSION,
        "name": "".join(p.capitalize() for p in sid.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": "Jiayi",
        "description": description,
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": c} for c in contexts],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def simple_extension(
    sid: str,
    title: str,
    description: str,
    contexts: list[str],
    value_type: str,
    binding: str | None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": "Extension.value[x]",
        "path": "Extension.value[x]",
        "min": 1,
        "type": [{"code": value_type}],
    }
    if binding:
        value["binding"] = {"strength": "required", "valueSet": binding}
    return _sd(sid, title, description, contexts, [
        {"id": "Extension", "path": "Extension", "short": title, "definition": description},
        {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": f"{SD}/{sid}"},
        value,
    ])  # fmt: skip


def fee_standard_extension() -> dict[str, Any]:
    description = (
        "A fee standard of a service package or contract: an amount in CNY per resident and year, the funding "
        "source that pays it (CodeSystem funding-source), what it pays for and the rule it rests on. Several "
        "repetitions split a package's fee between funding sources; `part` lists what an amount includes, e.g. "
        "the 20-yuan basic public-health package includes 5.13 (health records), 4.38 (health education) and "
        "10 (family-doctor signing fee) (附件1 备注2; 粤(八): 医保基金、基本公共卫生服务经费和个人付费等分担机制). "
        "The amount is absent where the annex leaves it to the cities."
    )
    elements: list[dict[str, Any]] = [
        {
            "id": "Extension",
            "path": "Extension",
            "short": "Fee standard (费用标准)",
            "definition": description,
        },
        {
            "id": "Extension.extension",
            "path": "Extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            "min": 1,
        },
    ]
    subs = [
        ("amount", 0, "Money", None, "Amount per resident and year (CNY)"),
        (
            "fundingSource",
            1,
            "CodeableConcept",
            f"{BASE}/ValueSet/funding-source",
            "Who pays (资金来源)",
        ),
        ("component", 0, "string", None, "What the amount pays for"),
        ("basis", 0, "string", None, "The rule or document the amount rests on"),
    ]
    for name, minimum, vtype, binding, short in subs:
        key = f"Extension.extension:{name}"
        value: dict[str, Any] = {
            "id": f"{key}.value[x]",
            "path": "Extension.extension.value[x]",
            "min": 1,
            "type": [{"code": vtype}],
        }
        if binding:
            value["binding"] = {"strength": "extensible", "valueSet": binding}
        elements += [
            {
                "id": key,
                "path": "Extension.extension",
                "sliceName": name,
                "short": short,
                "definition": short,
                "min": minimum,
                "max": "1",
            },
            {"id": f"{key}.extension", "path": "Extension.extension.extension", "max": "0"},
            {"id": f"{key}.url", "path": "Extension.extension.url", "fixedUri": name},
            value,
        ]
    part = "Extension.extension:part"
    elements += [
        {
            "id": part,
            "path": "Extension.extension",
            "sliceName": "part",
            "short": "A part the amount includes",
            "definition": "A part the amount includes (包含), with its own amount",
            "min": 0,
            "max": "*",
        },
        {
            "id": f"{part}.extension",
            "path": "Extension.extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
            "min": 2,
        },
        {
            "id": f"{part}.extension:amount",
            "path": "Extension.extension.extension",
            "sliceName": "amount",
            "min": 1,
            "max": "1",
        },
        {
            "id": f"{part}.extension:amount.url",
            "path": "Extension.extension.extension.url",
            "fixedUri": "amount",
        },
        {
            "id": f"{part}.extension:amount.value[x]",
            "path": "Extension.extension.extension.value[x]",
            "min": 1,
            "type": [{"code": "Money"}],
        },
        {
            "id": f"{part}.extension:component",
            "path": "Extension.extension.extension",
            "sliceName": "component",
            "min": 1,
            "max": "1",
        },
        {
            "id": f"{part}.extension:component.url",
            "path": "Extension.extension.extension.url",
            "fixedUri": "component",
        },
        {
            "id": f"{part}.extension:component.value[x]",
            "path": "Extension.extension.extension.value[x]",
            "min": 1,
            "type": [{"code": "string"}],
        },
        {"id": f"{part}.url", "path": "Extension.extension.url", "fixedUri": "part"},
        {"id": f"{part}.value[x]", "path": "Extension.extension.value[x]", "max": "0"},
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": f"{SD}/fee-standard"},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    return _sd(
        "fee-standard",
        "费用标准 Fee standard",
        description,
        ["PlanDefinition", "Contract", "ActivityDefinition"],
        elements,
    )


def extensions() -> list[dict[str, Any]]:
    return [
        fee_standard_extension(),
        simple_extension("timing-comparator", "频次比较 Timing comparator", "Whether Timing.repeat's frequency is a minimum ('>=': 不少于/至少, e.g. 每年不少于12次) or a maximum ('<=': e.g. ≤1次/年); absent means exactly.", ["Timing.repeat"], "code", "http://hl7.org/fhir/ValueSet/quantity-comparator"),
        simple_extension("timing-anchor", "服务时间起点 Timing anchor", "The event a relative timing (timingRange, timingAge) counts from: gestational age for antenatal visits, discharge after delivery for the postpartum visit, birth for child visits, the management notice for tuberculosis (国家基本公共卫生服务规范（第三版）).", ["PlanDefinition.action", "ActivityDefinition"], "code", f"{BASE}/ValueSet/timing-anchor"),
        simple_extension("delivery-mode", "服务方式 Delivery mode", "How a service item is delivered: face to face, at home or online (粤(七): 线上线下结合; 上门或面对面随访). Repeats when several modes apply.", ["ActivityDefinition", "PlanDefinition.action"], "CodeableConcept", f"{BASE}/ValueSet/delivery-mode"),
    ]  # fmt: skip


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    builder = Builder()
    for old in PACKAGES.glob("*.json"):
        old.unlink()
    plans = [plan_definition(package, builder) for package in ROWS]
    personalised_definitions(builder)
    for pd in plans:
        write_json(PACKAGES / f"PlanDefinition-{pd['id']}.json", pd)
    for ad in builder.ads:
        write_json(PACKAGES / f"ActivityDefinition-{ad['id']}.json", ad)
    write_json(TERM / "CodeSystem-service-item.json", service_item_code_system(builder))
    for sd in extensions():
        write_json(EXTENSIONS / f"StructureDefinition-{sd['id']}.json", sd)
    print(
        f"wrote {len(plans)} PlanDefinitions, {len(builder.ads)} ActivityDefinitions, service-item, 4 extensions"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
