"""`Measure/family-doctors-per-10000/$evaluate-measure` (R4 Measure-evaluate-measure plus `reporter`,
as OperationDefinition family-doctors-evaluate-measure): 每万人家庭医生数, family doctors per 10 000
residents of an area on the last day of the period (粤 一: 拓宽家庭医生来源，提高每万人家庭医生数).

The Measure is computable: its population criteria are FHIRPath expressions (`text/fhirpath`) that
this module reads from the stored Measure and evaluates on every candidate resource, with the
variables the Measure's `definition` names (`%periodEnd`, `%areas`, `%areaOrganizations`,
`%familyDoctorTeamMembers`, `%doctorRoles`).

* numerator: distinct `PractitionerRole.practitioner` of roles that are active on `periodEnd`, at an
  institution of the area, hold a doctor role (care-team-role general-practitioner, specialist,
  sinking-doctor, village-doctor, tcm-physician, public-health-physician) and are members (the role
  or its Practitioner) of an active family-doctor CareTeam (category LOINC LA28865-6).
* group `registered`: denominator the stored residents (Patients, not deceased by `periodEnd`, with a
  home address whose GB/T 2260 division lies in the area) / 10 000.
* group `census`: denominator the area's resident population at the 7th national census
  (2020-11-01; `terminology/population/guangdong-reference-figures.json`), for the province and its 21
  cities only (the census bulletin gives no district figures): reported only for those areas.

`subject` / `reporter`: a GB/T 2260 code of Guangdong (province, city or district: a code covers
the divisions under it) or `Organization/<id>` (numerator: that institution's doctors; denominator:
residents of the divisions of its address).  Neither: the province.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

from ..conformance.ig import load_ig_data
from ..core import errors as E
from ..core.clock import fhir_instant
from ..interactions.model import FhirResponse
from ..services.every_match import iter_matches
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import AGGREGATE, OperationSpec

URL = "https://jiayi.health/fhir/OperationDefinition/family-doctors-evaluate-measure"
MEASURE_ID = "family-doctors-per-10000"
MEASURE_URL = f"https://jiayi.health/fhir/Measure/{MEASURE_ID}"
GB2260_SYSTEM = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"
PROVINCE = "440000"
DIVISION_EXT = "https://jiayi.health/fhir/StructureDefinition/division-code"
FAMILY_DOCTOR_TEAM = ("http://loinc.org", "LA28865-6")
DOCTOR_ROLES = (
    "general-practitioner",
    "specialist",
    "sinking-doctor",
    "village-doctor",
    "tcm-physician",
    "public-health-physician",
)
PER = 10_000
SCORE_UNIT = {
    "unit": "per 10 000 residents",
    "system": "http://unitsofmeasure.org",
    "code": "/10*4",
}

#: The FHIRPath criteria of the Measure's variables (the Measure's `definition` carries them verbatim;
#: a test holds the two together).
IN_AREA = (
    f"address.extension('{DIVISION_EXT}').value.where(%areas contains $this"
    " or %areas contains (substring(0, 4) + '00') or %areas contains (substring(0, 2) + '0000'))"
    ".exists()"
)
FAMILY_DOCTOR_TEAM_CRITERION = (
    "status = 'active' and category.coding.where(system = 'http://loinc.org'"
    " and code = 'LA28865-6').exists()"
)
VARIABLE_CRITERIA = {
    "areaOrganizations": ("Organization", IN_AREA),
    "familyDoctorTeamMembers": ("CareTeam", FAMILY_DOCTOR_TEAM_CRITERION),
}


@dataclass(frozen=True)
class Area:
    """What is reported on: `divisions` (GB/T 2260 codes covering the residents) and, for an
    institution, the Organization itself."""

    divisions: tuple[str, ...]
    organization: str | None = None

    @property
    def code(self) -> str | None:
        return self.divisions[0] if self.organization is None and self.divisions else None


@dataclass(frozen=True)
class Criteria:
    """The Measure's FHIRPath criteria: numerator (on PractitionerRole) and the `registered`
    denominator (on Patient)."""

    numerator: str
    denominator: str


def _guangdong_codes() -> dict[str, str]:
    """Every division of the guide's GB/T 2260 CodeSystem → its level (province, city, district)."""
    cs = load_ig_data("terminology", "CodeSystem-gb2260-guangdong.json")
    out: dict[str, str] = {}

    def walk(concepts: Iterable[Mapping[str, Any]]) -> None:
        for c in concepts:
            level = next(
                (p.get("valueCode") for p in c.get("property", []) if p.get("code") == "level"), ""
            )
            out[str(c["code"])] = str(level)
            walk(c.get("concept", []))

    walk(cs.get("concept", []))
    return out


def census_population(code: str, figures: Mapping[str, Any]) -> int | None:
    """The 7th-census resident population of the province or one of its cities; None elsewhere."""
    if code == PROVINCE:
        return int(figures["figures"]["population"]["value"])
    for city in figures.get("cities", []):
        if city.get("code") == code:
            return int(city["population2020"])
    return None


def parse_area(subject: object, reporter: object, known: Mapping[str, str]) -> Area | str:
    """`subject` / `reporter` → an Area (a GB/T 2260 code) or `Organization/<id>` (returned as the
    reference string, resolved by the caller).  400 for anything else."""
    given = [(n, str(v)) for n, v in (("subject", subject), ("reporter", reporter)) if v]
    if len(given) == 2 and given[0][1] != given[1][1]:
        raise E.bad_request("give either subject or reporter, not both", "reporter")
    if not given:
        return Area((PROVINCE,))
    name, value = given[0]
    kind, _, ident = value.partition("/")
    if kind == "Organization" and ident and "/" not in ident:
        return value
    if value in known:
        return Area((value,))
    raise E.bad_request(
        f"{name} must be a GB/T 2260 code of Guangdong (province, city or district) or "
        f"Organization/<id>, not '{value}'",
        name,
    )


def criteria_of(measure: Mapping[str, Any]) -> Criteria:
    """The FHIRPath numerator and `registered` denominator of the stored Measure (500 if absent:
    the guide's Measure always has them)."""
    found: dict[str, str] = {}
    for group in measure.get("group", []):
        if group.get("id") != "registered":
            continue
        for pop in group.get("population", []):
            crit = pop.get("criteria") or {}
            codes = [c.get("code") for c in (pop.get("code") or {}).get("coding", [])]
            if crit.get("language") == "text/fhirpath" and codes:
                found[str(codes[0])] = str(crit.get("expression"))
    if "numerator" not in found or "denominator" not in found:
        raise E.FhirError(
            500,
            E.error(
                "exception",
                f"Measure/{MEASURE_ID} lacks the text/fhirpath numerator and denominator "
                "of its group 'registered'",
            ),
        )
    return Criteria(found["numerator"], found["denominator"])


class _Evaluator:
    """Compiled FHIRPath criteria with the evaluation's variables."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = dict(variables)
        self._compiled: dict[str, Any] = {}

    def holds(self, expression: str, resource: Mapping[str, Any]) -> bool:
        fn = self._compiled.get(expression)
        if fn is None:
            fn = compile_fhirpath(expression, model=models["r4"])
            self._compiled[expression] = fn
        return list(fn(dict(resource), self.variables)) == [True]


def count_doctors(
    roles: Iterable[Mapping[str, Any]], criterion: str, evaluator: _Evaluator
) -> list[str]:
    """Distinct Practitioner references of the roles meeting the numerator criterion, sorted."""
    doctors = {
        str((r.get("practitioner") or {}).get("reference"))
        for r in roles
        if (r.get("practitioner") or {}).get("reference") and evaluator.holds(criterion, r)
    }
    return sorted(doctors)


def count_residents(
    patients: Iterable[Mapping[str, Any]], criterion: str, evaluator: _Evaluator
) -> int:
    return sum(1 for p in patients if evaluator.holds(criterion, p))


def score(numerator: int, denominator: int | None) -> dict[str, Any] | None:
    """numerator per 10 000 of denominator, two decimals; None without a denominator."""
    if not denominator:
        return None
    value = (Decimal(numerator) * PER / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return {"value": float(value), **SCORE_UNIT}


def _date(value: object, name: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise E.bad_request(f"{name} '{value}' is not a date (YYYY-MM-DD)", name) from exc


def _divisions(org: Mapping[str, Any]) -> tuple[str, ...]:
    codes = [
        str(ext.get("valueCode"))
        for addr in org.get("address", [])
        for ext in addr.get("extension", [])
        if ext.get("url") == DIVISION_EXT and ext.get("valueCode")
    ]
    return tuple(dict.fromkeys(codes))


def _under(area: Sequence[str], known: Mapping[str, str]) -> list[str]:
    """The division codes lying in the area (for the Patient `division` search)."""
    out: list[str] = []
    for code in known:
        for a in area:
            if code == a or (
                a.endswith("0000") and code[:2] == a[:2] or a.endswith("00") and code[:4] == a[:4]
            ):
                out.append(code)
                break
    return out


def _members(teams: Iterable[Mapping[str, Any]], evaluator: _Evaluator) -> list[str]:
    return sorted(
        {
            str((p.get("member") or {}).get("reference"))
            for t in teams
            if evaluator.holds(FAMILY_DOCTOR_TEAM_CRITERION, t)
            for p in t.get("participant", [])
            if (p.get("member") or {}).get("reference")
        }
    )


def _population(code: str, count: int | None) -> dict[str, Any]:
    pop: dict[str, Any] = {
        "code": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/measure-population",
                    "code": code,
                }
            ]
        }
    }
    if count is not None:
        pop["count"] = count
    return pop


def _group(group_id: str, numerator: int, denominator: int | None) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": group_id,
        "population": [
            _population("numerator", numerator),
            _population("denominator", denominator),
        ],
    }
    measured = score(numerator, denominator)
    if measured is not None:
        group["measureScore"] = measured
    return group


def evaluate(repo: FhirRepository, area: Area, end: date, criteria: Criteria) -> dict[str, Any]:
    """The counts of the two groups (numerator shared) and the doctors counted."""
    known = _guangdong_codes()
    base = {"periodEnd": end.isoformat(), "areas": list(area.divisions)}
    evaluator = _Evaluator({**base, "doctorRoles": list(DOCTOR_ROLES)})
    if area.organization is not None:
        organizations = [area.organization]
    else:
        organizations = sorted(
            f"Organization/{o['id']}"
            for o in iter_matches(repo, "Organization", [])
            if evaluator.holds(IN_AREA, o)
        )
    members = _members(iter_matches(repo, "CareTeam", [("status", "active")]), evaluator)
    evaluator.variables.update(areaOrganizations=organizations, familyDoctorTeamMembers=members)
    doctors = count_doctors(
        iter_matches(repo, "PractitionerRole", []), criteria.numerator, evaluator
    )
    codes = _under(area.divisions, known)
    patients: Iterator[dict[str, Any]] = (
        iter_matches(repo, "Patient", [("division", ",".join(codes))]) if codes else iter(())
    )
    residents = count_residents(patients, criteria.denominator, evaluator)
    census = None
    if area.code is not None:
        figures = load_ig_data("terminology/population", "guangdong-reference-figures.json")
        census = census_population(area.code, figures)
    return {"doctors": doctors, "residents": residents, "census": census}


def measure_report(
    counts: Mapping[str, Any], area: Area, start: date, end: date, now: str
) -> dict[str, Any]:
    doctors = len(counts["doctors"])
    groups = [_group("registered", doctors, counts["residents"])]
    if counts["census"] is not None:
        groups.append(_group("census", doctors, counts["census"]))
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": MEASURE_URL,
        "date": now,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "group": groups,
    }
    if area.organization is not None:
        report["reporter"] = {"reference": area.organization}
    elif area.code is not None:
        report["subject"] = {
            "type": "Group",
            "identifier": {"system": GB2260_SYSTEM, "value": area.code},
            "display": f"GB/T 2260 {area.code} 的居民",
        }
    return report


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    measure = repo.read("Measure", MEASURE_ID).content or {}
    start = _date(op.one("periodStart"), "periodStart")
    end = _date(op.one("periodEnd"), "periodEnd")
    if end < start:
        raise E.bad_request("periodEnd is before periodStart", "periodEnd")
    report_type = str(op.one("reportType") or "population")
    if report_type != "population":
        raise E.bad_request(
            f"reportType must be population (a structure measure has no subject list), "
            f"not '{report_type}'",
            "reportType",
        )
    chosen = parse_area(op.one("subject"), op.one("reporter"), _guangdong_codes())
    if isinstance(chosen, str):
        org = repo.read("Organization", chosen.split("/", 1)[1]).content or {}
        area = Area(_divisions(org), organization=chosen)
    else:
        area = chosen
    counts = evaluate(repo, area, end, criteria_of(measure))
    now = fhir_instant(repo.components.clock.now())
    return FhirResponse(200, measure_report(counts, area, start, end, now))


OPERATIONS = [
    OperationSpec(
        "evaluate-measure",
        URL,
        _handle,
        instance=True,
        resource_types=("Measure",),
        affects_state=False,
        documentation="Family doctors per 10 000 residents (Measure/family-doctors-per-10000) "
        "of a GB/T 2260 area or an institution, against stored residents and the 2020 census",
        access=AGGREGATE,
        extra={"instance_ids": (MEASURE_ID,)},
    ),
]
