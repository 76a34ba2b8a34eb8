"""The demo district's residents: households drawn by the population generator (the same
figures, names, GB 11643 ID numbers and prevalence as `jiayi generate`), each living in one of the
four communities with its sub-district, station and two serving teams (pure, seeded)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..generator.figures import load_figures
from ..generator.population import Household, Resident, Sequences, age_on, household
from ..generator.resources import household_resources, patient_id
from .network import CITY, COMMUNITIES, DISTRICT, Community

PREFIX = "demo-"


@dataclass(frozen=True)
class Home:
    community: Community
    household: Household

    @property
    def key(self) -> str:
        return self.household.key

    @property
    def members(self) -> list[Resident]:
        return self.household.members


def households(count: int, seed: int, on: date) -> list[Home]:
    """About `count` residents in households, dealt to the communities in turn."""
    rng = random.Random(seed)
    figures = load_figures()
    seqs = Sequences()
    out: list[Home] = []
    made = 0
    while made < count:
        community = COMMUNITIES[len(out) % len(COMMUNITIES)]
        home = household(
            rng,
            figures,
            f"{len(out) + 1}",
            DISTRICT,
            community.name,
            on,
            street=community.street,
            seqs=seqs,
        )
        home.members = home.members[: count - made]
        made += len(home.members)
        out.append(Home(community, home))
    return out


def resident_resources(homes: list[Home], on: date) -> Iterator[dict[str, Any]]:
    for home in homes:
        yield from household_resources(home.household, PREFIX, CITY[0], CITY[1], on)


def key_populations(member: Resident, on: date) -> set[str]:
    """The member's key populations as INTERFACE.md derives them (age, conditions, flags, risk)."""
    age = age_on(member.birth_date, on)
    out = {code for code, _icd in member.conditions}
    if age >= 65:
        out.add("elderly-65")
    if age <= 6:
        out.add("child-0-6")
    if member.pregnant:
        out.add("maternal")
    if member.disabled:
        out.add("disabled")
    if member.cancer_high_risk and 40 <= age <= 70:
        out.add("cancer-high-risk")
    return out


def member_ref(member: Resident) -> str:
    return f"Patient/{patient_id(member, PREFIX)}"
