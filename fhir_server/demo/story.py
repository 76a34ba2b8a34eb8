"""What happens in the demo district over the year before the load date (pure, seeded).

- Signings: which families sign, with which team (or the sinking cardiologist), by which channel,
  when and for how long.  Key-population families sign as often as Guangzhou's key populations did
  (74 %, `keyPopulationSigningGuangzhou`), others less (assumption: 25 %).
- Services: for a signed member's CarePlan, the delivered services of each scheduled activity
  (Encounter with the activity's service-item codes, basedOn the plan, and the measurements of that
  kind of visit as Observations: weight, height, BMI, waist, blood pressure, fasting glucose; FIT
  screening as a Procedure; childhood vaccinations as Immunizations of the visit's Encounter).  Each
  member keeps a share of the appointments (their own diligence), so fulfilment is partial; the
  monthly health reminders are the pushes job's.
- Referrals up and down, and satisfaction answers (the guide's Questionnaire).

Every id is derived from the seed, the member and the activity, and every random draw from a
`Random` seeded by the thing it is about, so a load on the same date makes the same choices in any
order, and a second load finds everything in place.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ..generator.figures import load_figures
from ..generator.population import Resident, age_on
from ..generator.resources import profile
from .network import COMMUNITIES, SINKING_TEAM, TEAMS, cst, lead_role, team_ref
from .residents import Home, key_populations, member_ref

SERVICE_ITEM = "https://jiayi.health/fhir/CodeSystem/service-item"
SIGNING_CHANNEL = "https://jiayi.health/fhir/CodeSystem/signing-channel"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CVX = "http://hl7.org/fhir/sid/cvx"
GENERAL_SIGNING = 0.25  # assumption: share of families without a key population who sign
CHANNEL_WEIGHTS = {"on-site": 50, "online": 25, "community-event": 15, "home-visit": 10}
TERM_WEIGHTS = {1: 70, 2: 10, 3: 20}  # contract years (粤: 1–3 year contracts)


def rng_for(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def day_at(day: date, hour: int, minute: int = 0) -> str:
    return cst(datetime.combine(day, time(hour, minute)))


# -- signings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Signing:
    home: Home
    care_team: str | None  # CareTeam/<id> (or None when a doctor signs alone)
    practitioner_role: str | None
    team: int
    channel: str
    start: date
    term: int

    def parameters(self) -> dict[str, Any]:
        """The `Contract/$sign` Parameters (OperationDefinition contract-sign)."""
        params: list[dict[str, Any]] = [
            {"name": "consent", "valueBoolean": True},
            {"name": "channel", "valueCoding": {"system": SIGNING_CHANNEL, "code": self.channel}},
            {"name": "start", "valueDate": self.start.isoformat()},
            {"name": "term", "valueInteger": self.term},
        ]
        if len(self.home.members) > 1:
            params.append({"name": "family", "valueReference": {"reference": self.family_ref}})
        else:
            params.append(
                {"name": "subject", "valueReference": {"reference": member_ref(self.members[0])}}
            )
        if self.care_team:
            params.append({"name": "careTeam", "valueReference": {"reference": self.care_team}})
        else:
            params.append(
                {
                    "name": "practitionerRole",
                    "valueReference": {"reference": self.practitioner_role},
                }
            )
        return {"resourceType": "Parameters", "parameter": params}

    @property
    def members(self) -> list[Resident]:
        return self.home.members

    @property
    def family_ref(self) -> str:
        return f"Group/demo-g-{self.home.key}"

    @property
    def signed_at(self) -> datetime:
        return datetime.combine(self.start, time(2, 0))  # 10:00 CST, in UTC


def _weighted(rng: random.Random, table: Mapping[Any, int]) -> Any:
    return rng.choices(list(table), weights=list(table.values()))[0]


def signings(homes: list[Home], seed: int, on: date) -> list[Signing]:
    key_share = load_figures().figure("keyPopulationSigningGuangzhou")
    out = []
    for home in homes:
        rng = rng_for(seed, "sign", home.key)
        key = any(key_populations(m, on) for m in home.members)
        if rng.random() >= (key_share if key else GENERAL_SIGNING):
            continue
        team = rng.choice(home.community.teams)
        care_team: str | None = team_ref(team)
        role = None
        if team == SINKING_TEAM and rng.random() < 0.3:  # signed by the sinking cardiologist
            care_team, role = None, "PractitionerRole/demo-role-cardio-sinking"
        elderly = any(age_on(m.birth_date, on) >= 80 or m.disabled for m in home.members)
        channel = (
            "home-visit" if elderly and rng.random() < 0.5 else _weighted(rng, CHANNEL_WEIGHTS)
        )
        start = on - timedelta(days=rng.randint(300, 360))
        out.append(
            Signing(home, care_team, role, team, channel, start, _weighted(rng, TERM_WEIGHTS))
        )
    return out


# -- measurements ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    height: float  # cm
    bmi: float
    systolic: float
    glucose: float
    waist_ratio: float  # waist cm per BMI point


def baseline(member: Resident, seed: int, on: date) -> Baseline:
    rng = rng_for(seed, "body", member.key)
    age = age_on(member.birth_date, on)
    codes = {c for _, c in member.conditions}
    if age < 7:
        height = 50.0 + min(age, 1) * 25 + max(0, min(age, 2) - 1) * 12 + max(0, age - 2) * 7
        bmi = rng.gauss(16, 1)
    else:
        adult = 170 if member.sex == "male" else 158
        height = adult * min(1.0, 0.55 + 0.04 * age) + rng.gauss(0, 6)
        bmi = rng.gauss(24.5 if age >= 40 else 22.5, 3)
    hypertensive = "I10" in codes
    return Baseline(
        height=max(45.0, height),
        bmi=min(38.0, max(15.0, bmi)),
        systolic=rng.gauss(150, 10) if hypertensive else rng.gauss(118 + max(0, age - 30) * 0.3, 9),
        glucose=rng.gauss(8.2, 1.1) if "E11.9" in codes else rng.gauss(5.1, 0.45),
        waist_ratio=rng.gauss(3.4 if member.sex == "male" else 3.25, 0.15),
    )


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _observation(
    oid: str,
    prof: str,
    category: str,
    code: str,
    text: str,
    subject: str,
    plan: str,
    encounter: str,
    when: str,
    performer: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": profile(prof),
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "subject": {"reference": subject},
        "basedOn": [{"reference": plan}],
        "encounter": {"reference": encounter},
        "effectiveDateTime": when,
        "performer": [{"reference": performer}],
    }


def measurements(
    kind: set[str],
    member: Resident,
    body: Baseline,
    visit: int,
    rng: random.Random,
    ids: str,
    links: tuple[str, str, str, str, str],
) -> Iterator[dict[str, Any]]:
    """Observations of one visit; values rounded as recorded in practice (blood pressure to
    2 mmHg, weight to 0.5 kg, waist and height to 1 cm, glucose to 0.1 mmol/L)."""
    subject, plan, encounter, when, performer = links
    args = (subject, plan, encounter, when, performer)
    weight = round(body.bmi * (body.height / 100) ** 2 * 2 + rng.gauss(0, 1)) / 2
    if "weight" in kind:
        o = _observation(f"{ids}-wt", "jiayi-body-weight", "vital-signs", "29463-7", "体重", *args)
        o["valueQuantity"] = _quantity(weight, "kg", "kg")
        yield o
    if "height" in kind:
        height = float(round(body.height))
        o = _observation(f"{ids}-ht", "jiayi-body-height", "vital-signs", "8302-2", "身高", *args)
        o["valueQuantity"] = _quantity(height, "cm", "cm")
        yield o
        o = _observation(f"{ids}-bmi", "jiayi-bmi", "vital-signs", "39156-5", "体质指数", *args)
        o["valueQuantity"] = _quantity(round(weight / (height / 100) ** 2, 1), "kg/m2", "kg/m2")
        o["derivedFrom"] = [
            {"reference": f"Observation/{ids}-wt"},
            {"reference": f"Observation/{ids}-ht"},
        ]
        yield o
    if "waist" in kind:
        o = _observation(
            f"{ids}-waist", "jiayi-waist-circumference", "vital-signs", "8280-0", "腰围", *args
        )
        o["valueQuantity"] = _quantity(float(round(body.bmi * body.waist_ratio)), "cm", "cm")
        yield o
    if "bp" in kind:
        improving = -2.5 * visit if body.systolic >= 140 else 0  # managed hypertension comes down
        systolic = 2 * round((body.systolic + improving + rng.gauss(0, 6)) / 2)
        diastolic = 2 * round((systolic * 0.62 + rng.gauss(0, 3)) / 2)
        o = _observation(
            f"{ids}-bp", "jiayi-blood-pressure", "vital-signs", "85354-9", "血压", *args
        )
        o["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}], "text": "收缩压"},
                "valueQuantity": _quantity(systolic, "mmHg", "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}], "text": "舒张压"},
                "valueQuantity": _quantity(diastolic, "mmHg", "mm[Hg]"),
            },
        ]
        yield o
    if "glucose" in kind:
        o = _observation(
            f"{ids}-glu", "jiayi-blood-glucose", "laboratory", "14771-0", "空腹血糖", *args
        )
        value = round(max(3.5, body.glucose - (0.15 * visit if body.glucose > 7 else 0)
                          + rng.gauss(0, 0.4)), 1)  # fmt: skip
        o["valueQuantity"] = _quantity(value, "mmol/L", "mmol/L")
        yield o


# -- services --------------------------------------------------------------------------------
#: activity code suffix → what the visit measures
VISIT_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("hypertension-management.follow-up", frozenset({"bp", "weight"})),
    ("t2dm-management.follow-up", frozenset({"glucose", "bp", "weight"})),
    ("health-check", frozenset({"weight", "height", "waist", "bp", "glucose"})),
    ("elderly-health-management", frozenset({"weight", "height", "waist", "bp", "glucose"})),
    ("child-management.", frozenset({"weight", "height"})),
    ("maternal-management.", frozenset({"weight", "bp"})),
)
#: child-management visit → the vaccination given at it (China's national immunisation schedule)
VACCINES = {
    "1m": ("08", "乙肝疫苗（第2剂）", 2),
    "3m": ("20", "百白破疫苗（第1剂）", 1),
    "6m": ("08", "乙肝疫苗（第3剂）", 3),
    "8m": ("03", "麻腮风疫苗（第1剂）", 1),
    "18m": ("20", "百白破疫苗（第4剂）", 4),
}
#: delivered on their own (the annual items ahead of their year-end deadline, some members)
EARLY = ("elderly-health-management", "health-check", "basic-public-health.health-record")


def visit_kind(code: str) -> frozenset[str]:
    return next((kind for suffix, kind in VISIT_KINDS if suffix in code), frozenset())


@dataclass(frozen=True)
class Team:
    lead: str  # PractitionerRole reference (doctor)
    nurse: str
    organization: str


def team_of(number: int) -> Team:
    org = TEAMS[number][0]
    return Team(
        lead_role(number), f"PractitionerRole/demo-role-nurse-{number}", f"Organization/demo-{org}"
    )


def _activities(plan: Mapping[str, Any]) -> Iterator[tuple[int, list[str], list[str]]]:
    for i, activity in enumerate(plan.get("activity") or []):
        detail = activity.get("detail") or {}
        codes = [
            c["code"]
            for c in (detail.get("code") or {}).get("coding") or []
            if c.get("system") == SERVICE_ITEM
        ]
        events = (detail.get("scheduledTiming") or {}).get("event") or []
        if codes and events and not codes[0].endswith(".reminder"):
            yield i, codes, events


def _encounter(
    eid: str, codes: list[str], subject: str, plan: str, when: str, team: Team, home: bool
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "HH" if home else "AMB"},
        "type": [{"coding": [{"system": SERVICE_ITEM, "code": c} for c in codes]}],
        "subject": {"reference": subject},
        "basedOn": [{"reference": plan}],
        "participant": [{"individual": {"reference": team.lead}}],
        "period": {"start": when},
        "serviceProvider": {"reference": team.organization},
    }


def services(
    plan: Mapping[str, Any], member: Resident, team: Team, seed: int, on: date
) -> Iterator[dict[str, Any]]:
    """The services delivered under `plan` up to `on`: a share of each scheduled deadline (the
    member's diligence), plus some annual items delivered ahead of their deadline."""
    start = date.fromisoformat(plan["period"]["start"][:10])
    plan_ref = f"CarePlan/{plan['id']}"
    subject = member_ref(member)
    body = baseline(member, seed, on)
    diligence = rng_for(seed, "diligence", member.key).uniform(0.35, 0.95)
    age = age_on(member.birth_date, on)
    home_visits = age >= 80 or member.disabled
    for i, codes, events in _activities(plan):
        rng = rng_for(seed, "service", member.key, codes[0])
        kind = visit_kind(codes[0])
        for n, event in enumerate(events):
            deadline = date.fromisoformat(event[:10])
            if deadline <= on:
                if rng.random() >= diligence:
                    continue
                day = max(start, deadline - timedelta(days=rng.randint(0, 40)))
            elif n == 0 and any(e in codes[0] for e in EARLY) and rng.random() < diligence:
                latest = (on - start).days
                if latest < 30:
                    continue
                day = start + timedelta(days=rng.randint(30, latest))
            else:
                continue
            ids = f"demo-s-{member.key}-{i}-{n}"
            when = day_at(day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))
            if "colorectal-screening" in codes[0]:
                yield {
                    "resourceType": "Procedure",
                    "id": ids,
                    "status": "completed",
                    "code": {
                        "coding": [{"system": SERVICE_ITEM, "code": c} for c in codes],
                        "text": "粪便隐血试验（FIT）结直肠癌初筛",
                    },
                    "subject": {"reference": subject},
                    "basedOn": [{"reference": plan_ref}],
                    "performedDateTime": when,
                    "performer": [{"actor": {"reference": team.nurse}}],
                }
                continue
            encounter = _encounter(ids, codes, subject, plan_ref, when, team, home_visits)
            yield encounter
            links = (subject, plan_ref, f"Encounter/{ids}", when, team.nurse)
            yield from measurements(set(kind), member, body, n, rng, ids, links)
            vaccine = (
                VACCINES.get(codes[0].rsplit(".", 1)[-1])
                if "child-management" in codes[0]
                else None
            )
            if vaccine:
                cvx, text, dose = vaccine
                yield {
                    "resourceType": "Immunization",
                    "id": f"{ids}-imm",
                    "status": "completed",
                    "vaccineCode": {"coding": [{"system": CVX, "code": cvx}], "text": text},
                    "patient": {"reference": subject},
                    "encounter": {"reference": f"Encounter/{ids}"},
                    "occurrenceDateTime": when,
                    "primarySource": True,
                    "performer": [{"actor": {"reference": team.nurse}}],
                    "protocolApplied": [{"doseNumberPositiveInt": dose}],
                }


# -- satisfaction ------------------------------------------------------------------------------
SCORES = {5: 56, 4: 36, 3: 6, 2: 1, 1: 1}  # assumption, close to Guangzhou's 95.4 % satisfied
COMMENTS = ("希望周末也能预约随访", "家庭医生很耐心", "线上咨询回复及时", "希望增加上门服务")


def satisfaction(member: Resident, plan_id: str, seed: int, on: date) -> dict[str, Any] | None:
    """About a third of signed adults answered the guide's satisfaction Questionnaire."""
    rng = rng_for(seed, "satisfaction", member.key)
    if age_on(member.birth_date, on) < 18 or rng.random() >= 0.35:
        return None
    items: list[dict[str, Any]] = [
        {"linkId": "overall", "answer": [{"valueInteger": _weighted(rng, SCORES)}]},
        {"linkId": "contact", "answer": [{"valueBoolean": rng.random() < 0.9}]},
        {"linkId": "pushes", "answer": [{"valueBoolean": rng.random() < 0.95}]},
    ]
    if rng.random() < 0.2:
        items.append({"linkId": "comment", "answer": [{"valueString": rng.choice(COMMENTS)}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"demo-qr-{member.key}",
        "meta": profile("jiayi-satisfaction-response"),
        "questionnaire": "https://jiayi.health/fhir/Questionnaire/satisfaction",
        "status": "completed",
        "subject": {"reference": member_ref(member)},
        "authored": day_at(on - timedelta(days=rng.randint(1, 30)), rng.randint(9, 20)),
        "basedOn": [{"reference": f"CarePlan/{plan_id}"}],
        "item": items,
    }


# -- referrals -----------------------------------------------------------------------------------
REFERRAL_CODE = {
    "system": "http://snomed.info/sct",
    "code": "3457005",
    "display": "Patient referral",
}
DIRECTION = "https://jiayi.health/fhir/CodeSystem/referral-direction"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True)
class Referral:
    id: str
    member: Resident
    direction: str  # up | down
    capacity: str | None  # the Schedule key booked into (up), None when not booked
    body: dict[str, Any]
    acknowledge: bool  # the receiving side moves the Task on (accepted)


def upward(rid: str, member: Resident, team: int, contract: str, dept: str, reason: tuple[str, str, str],
           when: str, kind: str) -> dict[str, Any]:  # fmt: skip
    code, text, note = reason
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "category": [
            {"coding": [{"system": DIRECTION, "code": "up"}]},
            {
                "coding": [
                    {
                        "system": "https://jiayi.health/fhir/CodeSystem/referral-capacity",
                        "code": kind,
                    }
                ]
            },
        ],  # fmt: skip
        "code": {"coding": [REFERRAL_CODE], "text": text},
        "subject": {"reference": member_ref(member)},
        "authoredOn": when,
        "requester": {"reference": lead_role(team)},
        "performer": [{"reference": "Organization/demo-hospital"}, {"reference": dept}],
        "reasonCode": [{"coding": [{"system": ICD10, "code": code}], "text": text}],
        "note": [{"text": note}],
        "supportingInfo": [{"reference": contract}],
    }


def downward(rid: str, member: Resident, when: str, note: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": DIRECTION, "code": "down"}]}],
        "code": {"text": "下转社区康复随访"},
        "subject": {"reference": member_ref(member)},
        "authoredOn": when,
        "requester": {"reference": "PractitionerRole/demo-role-cardio"},
        "note": [{"text": note}],
    }


UP_REASONS = {
    "I10": (
        "I10",
        "心血管内科专家门诊",
        "高血压，两种降压药联合治疗3个月血压仍高于160/100 mmHg，请专科评估",
    ),
    "E11.9": ("E11.9", "内分泌科专家门诊", "2型糖尿病，空腹血糖持续高于10 mmol/L，请调整治疗方案"),
}
DOWN_NOTES = (
    "出院小结：急性冠脉综合征PCI术后，病情稳定，继续阿司匹林+阿托伐他汀，2周后社区随访血压血脂",
    "出院小结：高血压急症已控制，氨氯地平5mg qd，请社区每周测血压一次",
    "出院小结：2型糖尿病酮症已纠正，胰岛素改为口服降糖药，请社区随访血糖",
)


def referrals(signed: list[tuple[Resident, int, str]], on: date) -> list[Referral]:
    """A few referrals among signed residents (member, team, Contract reference), chosen in
    member order: four up (three booked into reserved expert slots, one into a reserved bed),
    three down from the hospital's cardiologist (two acknowledged by the team)."""
    when = day_at(on - timedelta(days=1), 10)
    out: list[Referral] = []
    ups = [(m, t, c) for m, t, c in signed if {"I10", "E11.9"} & {x for _, x in m.conditions}]
    plan = [("cardio", "expert"), ("endo", "expert"), ("cardio", "expert"), ("bed-1", "bed")]
    for n, ((member, team, contract), (capacity, kind)) in enumerate(zip(ups, plan, strict=False)):
        codes = {x for _, x in member.conditions}
        reason = UP_REASONS["E11.9" if capacity == "endo" and "E11.9" in codes else "I10"
                            if "I10" in codes else "E11.9"]  # fmt: skip
        dept = (
            "HealthcareService/demo-dept-endo"
            if reason[0] == "E11.9"
            else "HealthcareService/demo-dept-cardio"
        )
        if reason[0] == "E11.9" and capacity == "cardio":
            capacity = "endo"
        rid = f"demo-ref-up-{n + 1}"
        body = upward(rid, member, team, contract, dept, reason, when, kind)
        out.append(Referral(rid, member, "up", capacity, body, acknowledge=n < 2))
    taken = {r.member.key for r in out}
    rest = [s for s in signed if s[0].key not in taken]
    for n, (member, _team, _contract) in enumerate(rest[:3]):
        rid = f"demo-ref-down-{n + 1}"
        out.append(Referral(rid, member, "down", None, downward(rid, member, when, DOWN_NOTES[n]),
                            acknowledge=n < 2))  # fmt: skip
    return out


def community_of(team: int) -> str:
    return next(c.name for c in COMMUNITIES if team in c.teams)
