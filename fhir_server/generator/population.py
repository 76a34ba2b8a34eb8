"""Residents and households drawn from the reference figures (pure, seeded by the caller's Random).

ID numbers follow GB 11643 (region = the district's GB/T 2260 code, birth date, sequence odd for men
and even for women, check digit); names follow Guangdong surname frequencies; households have a
realistic size and age make-up; chronic conditions follow age-specific prevalence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from stdnum.cn import ric

from .figures import Figures


@dataclass
class Resident:
    key: str
    family_name: str
    given_name: str
    sex: str  # male | female
    birth_date: date
    id_number: str
    record_number: str
    district: str
    district_name: str
    community: str
    phone: str
    conditions: list[tuple[str, str]] = field(default_factory=list)  # (population code, ICD-10)
    disabled: bool = False
    cancer_high_risk: bool = False
    pregnant: bool = False


@dataclass
class Household:
    key: str
    members: list[Resident]


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def draw_age(rng: random.Random, figures: Figures, low: int = 0, high: int = 99) -> int:
    bands = [b for b in figures.raw["ageBands"] if b["to"] >= low and b["from"] <= high]
    band = rng.choices(bands, weights=[b["share"] for b in bands])[0]
    return rng.randint(max(band["from"], low), min(band["to"], high))


def birth_date_for(rng: random.Random, age: int, on: date) -> date:
    latest = (
        on.replace(year=on.year - age)
        if not (on.month == 2 and on.day == 29)
        else date(on.year - age, 2, 28)
    )
    return latest - timedelta(days=rng.randint(0, 364))


def id_number(rng: random.Random, district: str, birth: date, sex: str) -> str:
    seq = rng.randint(0, 499) * 2 + (1 if sex == "male" else 0)
    body = f"{district}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum strips the (placeholder) last digit


def given_name(rng: random.Random, figures: Figures, sex: str) -> str:
    chars = figures.raw["givenNameCharacters"][sex]
    return "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2))))


def _prevalent(rng: random.Random, rule: dict, age: int) -> bool:
    return any(lo <= age <= hi and rng.random() < p for lo, hi, p in rule["ages"])


def health_record(rng: random.Random, figures: Figures, person: Resident, on: date) -> None:
    age = age_on(person.birth_date, on)
    for rule in figures.raw["prevalence"]:
        if not _prevalent(rng, rule, age):
            continue
        code = rule["population"]
        if code == "disabled":
            person.disabled = True
        elif code == "cancer-high-risk":
            person.cancer_high_risk = True
        else:
            person.conditions.append((code, rule["icd10"]))
    if (
        person.sex == "female"
        and 20 <= age <= 39
        and rng.random() < figures.raw["pregnancyShareOfWomen20to39"]
    ):
        person.pregnant = True


def _member(
    rng: random.Random,
    figures: Figures,
    key: str,
    family: str,
    sex: str,
    age: int,
    district: tuple[str, str],
    community: str,
    on: date,
) -> Resident:
    birth = birth_date_for(rng, age, on)
    person = Resident(
        key=key,
        family_name=family,
        given_name=given_name(rng, figures, sex),
        sex=sex,
        birth_date=birth,
        id_number=id_number(rng, district[0], birth, sex),
        record_number=f"{district[0]}{rng.randint(0, 10**11 - 1):011d}",
        district=district[0],
        district_name=district[1],
        community=community,
        phone=f"1{rng.choice('3456789')}{rng.randint(0, 10**9 - 1):09d}",
    )
    health_record(rng, figures, person, on)
    return person


def household(
    rng: random.Random,
    figures: Figures,
    key: str,
    district: tuple[str, str],
    community: str,
    on: date,
) -> Household:
    """One household: a head, maybe a spouse, children and grandparents of consistent ages."""
    size = int(_weighted(rng, figures.raw["householdSizes"]))
    surnames = figures.raw["surnames"]
    family = _weighted(rng, surnames)
    head_age = draw_age(rng, figures, 20 if size > 1 else 18, 95)
    head_sex = "male" if rng.random() < figures.raw["maleShare"] else "female"
    members = [
        _member(rng, figures, f"{key}-1", family, head_sex, head_age, district, community, on)
    ]
    if size >= 2:
        spouse_age = max(20, min(99, head_age + rng.randint(-5, 3)))
        spouse_sex = "female" if head_sex == "male" else "male"
        members.append(
            _member(
                rng,
                figures,
                f"{key}-2",
                _weighted(rng, surnames),
                spouse_sex,
                spouse_age,
                district,
                community,
                on,
            )
        )
    for i in range(3, size + 1):
        if i == size and size >= 5 and head_age < 60:
            age = min(99, head_age + rng.randint(24, 32))  # a grandparent living with them
            surname = family
        else:
            age = max(0, head_age - rng.randint(22, 34))
            surname = family
        sex = "male" if rng.random() < figures.raw["maleShare"] else "female"
        members.append(
            _member(rng, figures, f"{key}-{i}", surname, sex, age, district, community, on)
        )
    return Household(key, members)
