"""Institutions, family-doctor teams and doctors in proportion to the residents (pure).

One community health centre per `residentsPerCentre` residents of a district (at least one), each
with `stationsPerCentre` community stations; one team of doctor + nurse + public-health physician per
`residentsPerTeam` residents; one leading hospital of the city's medical group, one of whose general
practitioners sinks to the first centre's first team (seed: 下沉医生 as signing subject).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .figures import CITY_CENTRES, Figures
from .population import given_name


@dataclass
class Doctor:
    key: str
    family_name: str
    given_name: str
    sex: str
    role: str  # care-team-role code
    licence: str


@dataclass
class Team:
    key: str
    centre: str
    members: list[Doctor]
    sinking: Doctor | None = None


@dataclass
class Institution:
    key: str
    name: str
    type: str  # institution-type code
    district: str
    position: tuple[float, float]
    part_of: str | None = None


@dataclass
class Providers:
    hospital: Institution
    centres: list[Institution] = field(default_factory=list)
    stations: list[Institution] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    centre_of_district: dict[str, list[str]] = field(default_factory=dict)


def _doctor(rng: random.Random, figures: Figures, key: str, role: str) -> Doctor:
    sex = "male" if rng.random() < 0.45 else "female"
    family = rng.choices(
        list(figures.raw["surnames"]), weights=list(figures.raw["surnames"].values())
    )[0]
    return Doctor(
        key,
        family,
        given_name(rng, figures, sex),
        sex,
        role,
        f"1104{rng.randint(0, 10**11 - 1):011d}",
    )


def _near(
    rng: random.Random, centre: tuple[float, float], spread: float = 0.12
) -> tuple[float, float]:
    return (
        round(centre[0] + rng.uniform(-spread, spread), 6),
        round(centre[1] + rng.uniform(-spread, spread), 6),
    )


def providers_for(
    rng: random.Random, figures: Figures, city: str, residents_by_district: dict[str, int]
) -> Providers:
    centre = CITY_CENTRES.get(city, (23.13, 113.26))
    city_name = figures.city_names.get(city, city)
    hospital = Institution(
        "hosp-1", f"{city_name}人民医院", "medical-group-lead", city, _near(rng, centre, 0.03)
    )
    out = Providers(hospital)
    names = dict(figures.districts.get(city, []))
    team_no = 0
    for district, count in sorted(residents_by_district.items()):
        n_centres = max(1, math.ceil(count / figures.raw["residentsPerCentre"]))
        n_teams = max(1, math.ceil(count / figures.raw["residentsPerTeam"]))
        keys = []
        for c in range(n_centres):
            key = f"chc-{district}-{c + 1}"
            keys.append(key)
            out.centres.append(
                Institution(
                    key,
                    f"{names.get(district, district)}第{c + 1}社区卫生服务中心",
                    "community-health-centre",
                    district,
                    _near(rng, centre),
                    hospital.key,
                )
            )
            for s in range(figures.raw["stationsPerCentre"]):
                out.stations.append(
                    Institution(
                        f"{key}-s{s + 1}",
                        f"{names.get(district, district)}第{c + 1}中心第{s + 1}社区卫生服务站",
                        "community-health-station",
                        district,
                        _near(rng, centre),
                        key,
                    )
                )
        out.centre_of_district[district] = keys
        for t in range(n_teams):
            team_no += 1
            members = [
                _doctor(rng, figures, f"dr-{team_no}-1", "general-practitioner"),
                _doctor(rng, figures, f"dr-{team_no}-2", "nurse"),
                _doctor(rng, figures, f"dr-{team_no}-3", "public-health-physician"),
            ]
            out.teams.append(Team(f"team-{team_no}", keys[t % len(keys)], members))
    if out.teams:
        out.teams[0].sinking = _doctor(rng, figures, "dr-sink-1", "sinking-doctor")
    return out
