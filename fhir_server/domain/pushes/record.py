"""A resident's record as the planner reads it, and what it derives from it: key populations (the
default `KeyPopulations`), the facts that drive personalisation (age, BMI, smoking), and where a
push reaches the resident (division codes, phone numbers).  Which channels the resident's Consents
deny is not decided here: services/consent.py's `denied_push_channels`, the evaluator of every
other access decision, judges pushes too.

Key populations follow terminology/key-population-rules.json (INTERFACE.md): age from `birthDate`,
active `Condition`s by ICD-10 category prefix, high-risk `RiskAssessment` for ages 40–70, and active
`Flag`s with a key-population code.  Pure functions over FHIR JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ...conformance.ig import load_ig_data
from .content import KP_SYSTEM
from .rules import ResidentFacts

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
CHANNEL_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-channel"
DIVISION_EXT = "https://jiayi.health/fhir/StructureDefinition/division-code"
BMI_CODE, WEIGHT_CODE, HEIGHT_CODE, SMOKING_CODE = "39156-5", "29463-7", "8302-2", "72166-2"
#: SNOMED CT answers of LOINC 72166-2 that mean "smokes now".
CURRENT_SMOKER = frozenset({"449868002", "428041000124106", "77176002", "65568007"})


@dataclass(frozen=True)
class ResidentRecord:
    patient: Mapping[str, Any]
    conditions: Sequence[Mapping[str, Any]] = ()
    flags: Sequence[Mapping[str, Any]] = ()
    risk_assessments: Sequence[Mapping[str, Any]] = ()
    observations: Sequence[Mapping[str, Any]] = ()
    consents: Sequence[Mapping[str, Any]] = field(default=())

    @property
    def patient_id(self) -> str:
        return str(self.patient["id"])


def age_on(birth_date: str | None, on: date) -> int | None:
    if not birth_date or len(birth_date) < 4:
        return None
    parts = [int(p) for p in birth_date.split("-")]
    year, month, day = (
        parts[0],
        parts[1] if len(parts) > 1 else 7,
        parts[2] if len(parts) > 2 else 1,
    )
    return on.year - year - ((on.month, on.day) < (month, day))


def _codes(concept: Mapping[str, Any] | None, system: str) -> list[str]:
    return [
        c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == system
    ]


class RecordKeyPopulations:
    """Default `KeyPopulations`: the rules file applied to the record (swap for the populations
    package's function when it lands)."""

    def __init__(self, rules: Mapping[str, Any] | None = None) -> None:
        self.rules = rules or load_ig_data("terminology", "key-population-rules.json")

    def of(self, record: ResidentRecord, on: date) -> frozenset[str]:
        age = age_on(record.patient.get("birthDate"), on)
        gender = record.patient.get("gender")
        found = {
            code
            for f in record.flags
            if f.get("status") == "active"
            for code in _codes(f.get("code"), KP_SYSTEM)
        }
        for pop in self.rules["populations"]:
            if any(self._holds(r, record, age, gender) for r in pop["rules"]):
                found.add(pop["code"])
        return frozenset(found)

    @staticmethod
    def _holds(
        rule: Mapping[str, Any], record: ResidentRecord, age: int | None, gender: Any
    ) -> bool:
        kind = rule["kind"]
        if kind == "age":
            return age is not None and rule.get("minYears", 0) <= age <= rule.get("maxYears", 999)
        if kind == "condition":
            if rule.get("gender") and gender != rule["gender"]:
                return False
            return any(_condition_matches(c, rule) for c in record.conditions)
        if kind == "risk-assessment":
            if age is None or not rule["minYears"] <= age <= rule["maxYears"]:
                return False
            return any(_high_risk(r, rule) for r in record.risk_assessments)
        return False


def _condition_matches(condition: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    status = _codes(
        condition.get("clinicalStatus"),
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
    )
    if not set(status) & set(rule["clinicalStatus"]):
        return False
    return any(
        code.upper().startswith(tuple(rule["prefixes"]))
        for code in _codes(condition.get("code"), rule["system"])
    )


def _high_risk(assessment: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    if assessment.get("status") not in rule["status"]:
        return False
    want = rule["qualitativeRisk"]
    return any(
        want["code"] in _codes(p.get("qualitativeRisk"), want["system"])
        for p in assessment.get("prediction", [])
    )


def _latest(observations: Sequence[Mapping[str, Any]], code: str) -> Mapping[str, Any] | None:
    hits = [
        o
        for o in observations
        if code in _codes(o.get("code"), LOINC)
        and o.get("status") in ("final", "amended", "corrected")
    ]
    return max(hits, key=lambda o: str(o.get("effectiveDateTime", "")), default=None)


def _value(obs: Mapping[str, Any] | None) -> float | None:
    if obs is None or "valueQuantity" not in obs:
        return None
    quantity = obs["valueQuantity"]
    value = float(quantity.get("value", 0))
    if quantity.get("code") == "cm" or quantity.get("unit") == "cm":
        return value / 100
    return value


def bmi_of(record: ResidentRecord) -> float | None:
    """Latest BMI (LOINC 39156-5), or weight / height² from the latest 29463-7 and 8302-2."""
    bmi = _value(_latest(record.observations, BMI_CODE))
    if bmi is not None:
        return bmi
    weight, height = (_value(_latest(record.observations, c)) for c in (WEIGHT_CODE, HEIGHT_CODE))
    if weight and height:
        return round(weight / (height * height), 1)
    return None


def smokes(record: ResidentRecord) -> bool:
    obs = _latest(record.observations, SMOKING_CODE)
    codes = _codes((obs or {}).get("valueCodeableConcept"), "http://snomed.info/sct")
    return bool(set(codes) & CURRENT_SMOKER)


def facts_of(record: ResidentRecord, populations: frozenset[str], on: date) -> ResidentFacts:
    return ResidentFacts(
        age=age_on(record.patient.get("birthDate"), on),
        populations=populations,
        bmi=bmi_of(record),
        smoker=smokes(record),
    )


def division_codes(patient: Mapping[str, Any]) -> list[str]:
    return [
        str(ext.get("valueCode"))
        for address in patient.get("address", [])
        for ext in address.get("extension", [])
        if ext.get("url") == DIVISION_EXT and ext.get("valueCode")
    ]


def phone_numbers(patient: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(t["value"])
        for t in patient.get("telecom", [])
        if t.get("system") in ("phone", "sms") and t.get("value")
    )
