"""The whole synthetic population as a stream of FHIR resources, reproducible from (N, city, seed,
date).

Providers come first (so references resolve in order), then households with their members'
records.  Residents are spread evenly over the city's districts (no district populations are
published with the census data we ship), each district cut into sub-districts (街道) of ten
communities (社区) of about 1 200 households.  Ids are derived from the seed and position, so a
rerun yields the same resources (idempotent loads, resume after interruption).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from .figures import load_figures
from .population import Sequences, household
from .providers import providers_for
from .resources import household_resources, provider_resources

HOUSEHOLDS_PER_COMMUNITY = 1200
COMMUNITIES_PER_STREET = 10


@dataclass(frozen=True)
class Plan:
    residents: int
    city: str
    seed: int
    on: date

    @property
    def prefix(self) -> str:
        return f"g{self.seed}-"


def place_of(number: int, districts: list[tuple[str, str]]) -> tuple[tuple[str, str], str, str]:
    """(district, street, community) of the `number`-th household (0-based, round robin)."""
    district = districts[number % len(districts)]
    local = number // len(districts)
    community_no = local // HOUSEHOLDS_PER_COMMUNITY
    street_no = community_no // COMMUNITIES_PER_STREET
    return (
        district,
        f"{district[1]}第{street_no + 1}街道",
        f"第{community_no % COMMUNITIES_PER_STREET + 1}社区",
    )


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
    seqs = Sequences()
    made = 0
    number = 0
    while made < plan.residents:
        district, street, community = place_of(number, districts)
        number += 1
        home = household(
            rng, figures, f"{number}", district, community, plan.on, street=street, seqs=seqs
        )
        home.members = home.members[: plan.residents - made]
        made += len(home.members)
        yield from household_resources(home, plan.prefix, plan.city, city_name, plan.on)
