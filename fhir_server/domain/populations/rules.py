"""Key-population membership derived from a resident's record (pure).

INTERFACE.md "Key-population membership": age from `birthDate` (65+, 0–6); active Conditions by
ICD-10 category prefix (I10–I15, E11, J44, A15–A19, the six severe mental disorders, Z33–Z36);
cancer high risk from a RiskAssessment with `qualitativeRisk` = high for a resident aged 40–70; and
an active Flag whose code is a key-population code (the only way to declare disability, 附件2 残疾人).
The rules are data: `terminology/key-population-rules.json` (附件2 适用人群 column).

F06 and F70–F79 count for severe mental disorder only with confirmation (CodeSystem
icd-10-key-populations note): a Condition with those codes derives the population only when its
`verificationStatus` is `confirmed`; otherwise it is reported as a candidate needing a Flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

KEY_POPULATION_SYSTEM = "https://jiayi.health/fhir/CodeSystem/key-population"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
#: Codes that need confirmation before they count (national management scope of the six disorders).
NEEDS_CONFIRMATION = ("F06", "F70", "F71", "F72", "F73", "F78", "F79")
_EXCLUDED_VERIFICATION = {"refuted", "entered-in-error"}


@dataclass(frozen=True)
class Evidence:
    """Why a population applies: the rule kind, the resource it rests on, and a human detail."""

    kind: str  # age | condition | risk-assessment | flag
    detail: str
    reference: str | None = None


@dataclass(frozen=True)
class Membership:
    code: str
    display: str
    evidence: tuple[Evidence, ...] = ()

    def coding(self) -> dict[str, str]:
        return {"system": KEY_POPULATION_SYSTEM, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Record:
    """The parts of a resident's record the rules look at (resources as FHIR JSON)."""

    patient: Mapping[str, Any]
    conditions: Sequence[Mapping[str, Any]] = ()
    risk_assessments: Sequence[Mapping[str, Any]] = ()
    flags: Sequence[Mapping[str, Any]] = ()
    candidates: list[Evidence] = field(default_factory=list)


def parse_date(value: str | None) -> date | None:
    """A FHIR date (or the date part of a dateTime); partial dates take their first day."""
    if not value or len(value) < 4:
        return None
    parts = value[:10].split("-")
    try:
        y = int(parts[0])
        m = int(parts[1]) if len(parts) > 1 else 1
        d = int(parts[2]) if len(parts) > 2 else 1
        return date(y, m, d)
    except ValueError:
        return None


def age_in_years(birth: date, on: date) -> int:
    """Completed years at `on` (a birthday counts on the day itself; 29 Feb → 1 Mar)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def age_in_months(birth: date, on: date) -> int:
    months = (on.year - birth.year) * 12 + on.month - birth.month
    if on.day < birth.day:
        months -= 1
    return months


def _codes(concept: Mapping[str, Any] | None) -> list[tuple[str | None, str | None]]:
    return [(c.get("system"), c.get("code")) for c in (concept or {}).get("coding") or []]


def _ref(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _age_rule(rule: Mapping[str, Any], age: int | None) -> Evidence | None:
    if age is None:
        return None
    low, high = rule.get("minYears", 0), rule.get("maxYears")
    if age >= low and (high is None or age <= high):
        return Evidence("age", f"age {age} (birthDate)")
    return None


def _condition_rule(rule: Mapping[str, Any], record: Record, gender: str | None) -> list[Evidence]:
    if rule.get("gender") and rule["gender"] != gender:
        return []
    found = []
    statuses = set(rule.get("clinicalStatus") or [])
    for cond in record.conditions:
        clinical = [c for _, c in _codes(cond.get("clinicalStatus"))]
        if clinical and statuses and not statuses.intersection(clinical):
            continue
        verification = [c for _, c in _codes(cond.get("verificationStatus"))]
        if _EXCLUDED_VERIFICATION.intersection(verification):
            continue
        for system, code in _codes(cond.get("code")):
            if system != rule["system"] or not code:
                continue
            prefix = next((p for p in rule["prefixes"] if code.upper().startswith(p)), None)
            if prefix is None:
                continue
            evidence = Evidence("condition", f"{code} ({ICD10} category {prefix})", _ref(cond))
            if prefix in NEEDS_CONFIRMATION and "confirmed" not in verification:
                record.candidates.append(evidence)
                continue
            found.append(evidence)
            break
    return found


def _risk_rule(rule: Mapping[str, Any], record: Record, age: int | None) -> list[Evidence]:
    if age is None or not (rule.get("minYears", 0) <= age <= rule.get("maxYears", 200)):
        return []
    want = (rule["qualitativeRisk"]["system"], rule["qualitativeRisk"]["code"])
    found = []
    for ra in record.risk_assessments:
        if ra.get("status") not in set(rule.get("status") or [ra.get("status")]):
            continue
        if any(want in _codes(p.get("qualitativeRisk")) for p in ra.get("prediction") or []):
            found.append(Evidence("risk-assessment", f"qualitativeRisk high, age {age}", _ref(ra)))
    return found


def _flag_rule(code: str, record: Record, on: date) -> list[Evidence]:
    found = []
    for flag in record.flags:
        if flag.get("status") != "active":
            continue
        period = flag.get("period") or {}
        start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        if (start and start > on) or (end and end < on):
            continue
        if (KEY_POPULATION_SYSTEM, code) in _codes(flag.get("code")):
            found.append(Evidence("flag", "declared by an active Flag", _ref(flag)))
    return found


def derive(rules: Mapping[str, Any], record: Record, on: date) -> list[Membership]:
    """The key populations of `record` at `on`, in the order of the rules file, with evidence."""
    birth = parse_date(record.patient.get("birthDate"))
    age = age_in_years(birth, on) if birth else None
    gender = record.patient.get("gender")
    out = []
    for population in rules["populations"]:
        evidence: list[Evidence] = []
        for rule in population.get("rules") or []:
            kind = rule["kind"]
            if kind == "age":
                hit = _age_rule(rule, age)
                evidence.extend([hit] if hit else [])
            elif kind == "condition":
                evidence.extend(_condition_rule(rule, record, gender))
            elif kind == "risk-assessment":
                evidence.extend(_risk_rule(rule, record, age))
        evidence.extend(_flag_rule(population["code"], record, on))
        if evidence:
            out.append(Membership(population["code"], population["display"], tuple(evidence)))
    return out


def codes(memberships: Iterable[Membership]) -> list[str]:
    return [m.code for m in memberships]
