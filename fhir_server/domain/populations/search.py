"""`Patient?key-population=<code>` (SearchParameter patient-key-population): the key-population
rules of `terminology/key-population-rules.json` rewritten into ordinary search terms, so the
search answers what `$key-populations` derives (INTERFACE.md "Key-population membership"):

- `age` → `birthdate` bounds at the server's date (`server_today`: the request's clock) (65+: born on or before today − 65 years;
  0–6: born after today − 7 years);
- `condition` → `_has:Condition:subject:key-population=<code>`: a Condition whose ICD-10 code
  starts with one of the prefixes (`code:below`), clinically active (or without a clinical
  status), not refuted or entered in error; F06 and F70–F79 only when confirmed; with the rule's
  gender on the Patient (maternal: female);
- `risk-assessment` → the age range and `_has:RiskAssessment:subject:key-population=<code>`
  (final/amended/corrected, `risk` = risk-probability|high);
- every population: `_has:Flag:subject:key-population=<code>` (an active Flag with the code,
  its period — if any — covering the date).

`Condition?key-population=`, `RiskAssessment?key-population=` and `Flag?key-population=` are the
resource-level halves (the records that place a resident in the population).

Values: a code or `system|code` of the key-population code system; several codes separated by
commas match residents in ANY of them, the parameter repeated matches residents in ALL of them;
an unknown code matches nobody.  Modifiers (`:not`, `:missing` …) are refused with 400: a negated
existence cannot be written as the search terms a computed parameter expands to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ...core import errors as E
from ...search.registry import ComputedParam
from .rules import KEY_POPULATION_SYSTEM, NEEDS_CONFIRMATION

CODE = "key-population"
URL = "https://jiayi.health/fhir/SearchParameter/patient-key-population"
Terms = list[list[tuple[str, str]]]


def years_before(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February → 28 February
        return on.replace(year=on.year - years, day=28)


def _code(value: str) -> str | None:
    system, bar, code = value.rpartition("|")
    if bar and system and system != KEY_POPULATION_SYSTEM:
        return None
    return code or None


def _refuse_modifier(modifier: str | None) -> None:
    if modifier:
        raise E.bad_request(
            f"'{CODE}' takes no modifier (':{modifier}' is not supported); repeat the parameter "
            "for residents in all of several populations, separate codes by commas for any",
            f"{CODE}:{modifier}",
        )


def _age_terms(rule: Mapping[str, Any], on: date) -> list[tuple[str, str]]:
    terms = [("birthdate", f"le{years_before(on, int(rule.get('minYears', 0))).isoformat()}")]
    if rule.get("maxYears") is not None:
        oldest = years_before(on, int(rule["maxYears"]) + 1)
        terms.append(("birthdate", f"gt{oldest.isoformat()}"))
    return terms


def patient_terms(rules: Mapping[str, Any], code: str, on: date) -> Terms:
    """Alternatives (OR) of AND-ed terms on Patient for membership of `code` at `on`."""
    population = next((p for p in rules["populations"] if p["code"] == code), None)
    if population is None:
        return []
    has = f"_has:{{}}:subject:{CODE}"
    out: Terms = []
    for rule in population.get("rules") or []:
        if rule["kind"] == "age":
            out.append(_age_terms(rule, on))
        elif rule["kind"] == "condition":
            group = [(has.format("Condition"), code)]
            if rule.get("gender"):
                group.insert(0, ("gender", rule["gender"]))
            out.append(group)
        elif rule["kind"] == "risk-assessment":
            ages = _age_terms(rule, on)
            out.append([*ages, (has.format("RiskAssessment"), code)])
    out.append([(has.format("Flag"), code)])
    return out


def condition_terms(rules: Mapping[str, Any], code: str) -> Terms:
    population = next((p for p in rules["populations"] if p["code"] == code), None)
    out: Terms = []
    for rule in (population or {}).get("rules") or []:
        if rule["kind"] != "condition":
            continue
        for prefix in rule["prefixes"]:
            base = [
                ("code:below", f"{rule['system']}|{prefix}"),
                ("verification-status:not", "refuted"),
                ("verification-status:not", "entered-in-error"),
            ]
            if prefix in NEEDS_CONFIRMATION:
                base.append(("verification-status", "confirmed"))
            statuses = ",".join(rule.get("clinicalStatus") or [])
            if statuses:
                out.append([*base, ("clinical-status", statuses)])
                out.append([*base, ("clinical-status:missing", "true")])
            else:
                out.append(base)
    return out


def risk_terms(rules: Mapping[str, Any], code: str) -> Terms:
    population = next((p for p in rules["populations"] if p["code"] == code), None)
    out: Terms = []
    for rule in (population or {}).get("rules") or []:
        if rule["kind"] != "risk-assessment":
            continue
        risk = rule["qualitativeRisk"]
        group = [("risk", f"{risk['system']}|{risk['code']}")]
        if rule.get("status"):
            group.insert(0, ("status", ",".join(rule["status"])))
        out.append(group)
    return out


def flag_terms(code: str, on: date) -> Terms:
    declared = [("status", "active"), ("code", f"{KEY_POPULATION_SYSTEM}|{code}")]
    day = on.isoformat()
    return [
        [*declared, ("date:missing", "true")],
        [*declared, ("date", f"le{day}"), ("date", f"ge{day}")],
    ]


def key_population_params(
    rules: Mapping[str, Any], today: Callable[[], date]
) -> list[ComputedParam]:
    """The computed `key-population` parameters (Patient, Condition, RiskAssessment, Flag)."""

    def each(fn: Callable[[str], Terms]) -> Callable[[str, str | None], Terms]:
        def rewrite(value: str, modifier: str | None) -> Terms:
            _refuse_modifier(modifier)
            code = _code(value)
            return fn(code) if code else []

        return rewrite

    doc = "Key population (terminology/key-population-rules.json), derived from the record"
    return [
        ComputedParam(CODE, ("Patient",), each(lambda c: patient_terms(rules, c, today())), doc),
        ComputedParam(CODE, ("Condition",), each(lambda c: condition_terms(rules, c)), doc),
        ComputedParam(CODE, ("RiskAssessment",), each(lambda c: risk_terms(rules, c)), doc),
        ComputedParam(CODE, ("Flag",), each(lambda c: flag_terms(c, today())), doc),
    ]


def server_today() -> date:
    """The date of the request being served (`core.clock.serving_today`: the components' clock,
    set for every request by `interactions.router.dispatch`; the system clock outside one)."""
    from ...core.clock import serving_today

    return serving_today()
