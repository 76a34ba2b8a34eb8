"""Institutions, family-doctor teams and doctors in proportion to the residents (pure).

Published ratios (`terminology/population/guangdong-reference-figures.json` → `workforce`): one
general practitioner per 10 000 / 3.28 residents (national 2022), each leading a 1 + 1 + 1 team
(doctor, nurse, public-health physician); one community site (centre or station) per ~38 700
residents, a centre with two stations; one leading hospital of the city's medical group, one of
whose specialists sinks to the first team (seed: 下沉医生 as signing subject).  Counts are taken at
city level (at least one of each) and spread over the districts in turn.
"""

from __future__ import annotations

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
    workforce = figures.raw["workforce"]
    total = sum(residents_by_district.values())
    per_10k = figures.figure(workforce["generalPractitionersPer10k"])
    n_teams = max(1, round(total * per_10k / 10_000))
    stations_per_centre = int(workforce["stationsPerCentre"])
    n_centres = max(1, round(total / workforce["residentsPerSite"] / (1 + stations_per_centre)))
    hospital = Institution(
        "hosp-1", f"{city_name}人民医院", "medical-group-lead", city, _near(rng, centre, 0.03)
    )
    out = Providers(hospital)
    names = dict(figures.districts.get(city, []))
    districts = sorted(d for d, n in residents_by_district.items() if n > 0) or [city]
    for c in range(n_centres):
        district = districts[c % len(districts)]
        key = f"chc-{district}-{c // len(districts) + 1}"
        label = f"{names.get(district, district)}第{c // len(districts) + 1}"
        out.centres.append(
            Institution(
                key,
                f"{label}社区卫生服务中心",
                "community-health-centre",
                district,
                _near(rng, centre),
                hospital.key,
            )
        )
        out.centre_of_district.setdefault(district, []).append(key)
        for s in range(stations_per_centre):
            out.stations.append(
                Institution(
                    f"{key}-s{s + 1}",
                    f"{label}中心第{s + 1}社区卫生服务站",
                    "community-health-station",
                    district,
                    _near(rng, centre),
                    key,
                )
            )
    for t in range(n_teams):
        members = [
            _doctor(rng, figures, f"dr-{t + 1}-1", "general-practitioner"),
            _doctor(rng, figures, f"dr-{t + 1}-2", "nurse"),
            _doctor(rng, figures, f"dr-{t + 1}-3", "public-health-physician"),
        ]
        out.teams.append(Team(f"team-{t + 1}", out.centres[t % len(out.centres)].key, members))
    out.teams[0].sinking = _doctor(rng, figures, "dr-sink-1", "sinking-doctor")
    return out
