"""The `MemberPlanner` contracting uses, composed from `domain.populations` (who the resident is)
and `domain.careplans` (what the packages promise): operations wire domain packages together so
that the packages stay independent (ARCHITECTURE.md rule 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..domain.careplans import rules as plan_rules
from ..domain.careplans import service as plans
from ..domain.contracting.ports import PlannedMember
from ..domain.populations import service as populations
from ..services.repository import FhirRepository


def existing_packages(repo: FhirRepository, urls: Sequence[str]) -> list[str]:
    """Key-population packages that are stored (a population without a package is skipped)."""
    return [
        u
        for u in urls
        if repo.current_or_none("PlanDefinition", plan_rules.package_id(u)) is not None
    ]


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
    memberships, record = populations.key_populations(repo, dict(patient), start)
    codes = [m.code for m in memberships]
    urls = plan_rules.default_packages(codes)
    urls = existing_packages(repo, urls) + [u for u in extra_packages if u not in urls]
    member = plans.plan_member(
        repo,
        patient,
        record.conditions,
        [m.coding() for m in memberships],
        urls,
        start,
        end,
        consent=consent,
        items=items,
    )
    care_plan = plans.care_plan_for(member, f"Patient/{patient['id']}", start, end, **links)
    return PlannedMember(member.packages, care_plan, codes)
