"""The whole synthetic population as a stream of FHIR resources, reproducible from (N, city, seed).

Providers come first (so references resolve in order), then households with their members' records.
Ids are derived from the seed and position, so a rerun yields the same resources (idempotent loads,
resume after interruption).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .figures import load_figures
from .population import household
from .providers import providers_for
from .resources import family_group, health_resources, patient, provider_resources


@dataclass(frozen=True)
class Plan:
    residents: int
    city: str
    seed: int
    on: date

    @property
    def prefix(self) -> str:
        return f"g{self.seed}-"


def generate(plan: Plan) -> Iterator[dict[str, Any]]:
    figures = load_figures()
    if plan.city not in figures.districts:
        raise ValueError(f"{plan.city} is not one of Guangdong's 21 cities")
    rng = random.Random(plan.seed)
    districts = figures.districts[plan.city]
    per_district = {
        code: plan.residents // len(districts) + (1 if i < plan.residents % len(districts) else 0)
        for i, (code, _) in enumerate(districts)
    }
    providers = providers_for(rng, figures, plan.city, per_district)
    yield from provider_resources(providers, plan.prefix)
    city_name = figures.city_names[plan.city]
    made = 0
    number = 0
    while made < plan.residents:
        district = districts[number % len(districts)]
        community = f"{district[1]}第{(number // len(districts)) // 1200 + 1}社区"
        number += 1
        home = household(rng, figures, f"{number}", district, community, plan.on)
        home.members = home.members[: plan.residents - made]
        made += len(home.members)
        for member in home.members:
            yield patient(member, plan.prefix, plan.city, city_name)
            yield from health_resources(member, plan.prefix, plan.on)
        if len(home.members) > 1:
            yield family_group(home, plan.prefix)
