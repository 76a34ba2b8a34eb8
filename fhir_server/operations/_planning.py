"""The `MemberPlanner` contracting uses, composed from `domain.populations` (who the resident is)
and `domain.careplans` (what the packages promise): operations wire domain packages together so
that the packages stay independent (ARCHITECTURE.md rule 6).

Key populations are derived per contract year, at its first and at its last day
(`careplans.rules.Year`): a package applies in the years its population holds, and someone who
turns 65 or 80 during the term gets the services of that age from that year on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..domain.careplans import rules as plan_rules
from ..domain.careplans import service as plans
from ..domain.contracting.ports import PlannedMember
from ..domain.populations import service as populations
from ..domain.populations.rules import derive
from ..services.repository import FhirRepository

CAREPLAN_PROFILE = "https://jiayi.health/fhir/StructureDefinition/jiayi-careplan"


def existing_packages(repo: FhirRepository, urls: Sequence[str]) -> list[str]:
    """Key-population packages that are stored (a population without a package is skipped)."""
    return [u for u, _ in stored_packages(repo, urls)]


def stored_packages(
    repo: FhirRepository, urls: Sequence[str]
) -> list[tuple[str, str | dict[str, Any]]]:
    """(canonical, what to plan with) for each stored package of `urls`, each read once: the
    PlanDefinition itself when its `url` is the canonical (planned inline, not read again), else
    the canonical (read, or refused, by `careplans.service.plan_member` as before)."""
    out: list[tuple[str, str | dict[str, Any]]] = []
    for u in urls:
        record = repo.current_or_none("PlanDefinition", plan_rules.package_id(u))
        if record is None:
            continue
        content = record.content if not record.deleted else None
        out.append((u, content if content and content.get("url") == u else u))
    return out


def contract_years(
    repo: FhirRepository, patient: Mapping[str, Any], start: date, end: date
) -> tuple[list[plan_rules.Year], list[str], list[dict[str, Any]]]:
    """(the contract years with the resident's key populations, every population code met in
    the term in rules order, the resident's Conditions)."""
    years: list[plan_rules.Year] = []
    met: dict[str, None] = {}
    record = populations.load_record(repo, dict(patient))
    rules = populations.population_rules()
    for low, high in plan_rules.contract_years(start, end):
        codings: dict[str, dict[str, str]] = {}
        for on in (low, high):
            for m in derive(rules, record, on):
                codings.setdefault(m.code, m.coding())
        for code in codings:
            met.setdefault(code)
        years.append(plan_rules.Year(low, high, tuple(codings.values())))
    order = [p["code"] for p in rules["populations"]]
    return years, sorted(met, key=order.index), [dict(c) for c in record.conditions]


def plan_member(
    repo: FhirRepository,
    patient: Mapping[str, Any],
    *,
    extra_packages: Sequence[str],
    items: Sequence[str],
    start: date,
    end: date,
    consent: bool,
    links: Mapping[str, Any],
) -> PlannedMember:
    given: list[tuple[str, str | dict[str, Any]]] = []
    for i, url in enumerate(extra_packages):  # 422 at `package[i]` for an unknown package
        read = plans.read_package(repo, url, f"package[{i}]")
        given.append((url, read if read.get("url") == url else url))
    years, codes, conditions = contract_years(repo, patient, start, end)
    urls = plan_rules.default_packages(codes)
    extra = [(u, read) for u, read in given if u not in urls]
    packages = [p for _, p in stored_packages(repo, urls)] + [p for _, p in extra]
    member = plans.plan_member(
        repo, patient, conditions, years, packages, consent=consent, items=items
    )
    care_plan = plans.care_plan_for(
        member, f"Patient/{patient['id']}", start, end, profile=CAREPLAN_PROFILE, **links
    )
    return PlannedMember(member.packages, care_plan, codes, member.years)
