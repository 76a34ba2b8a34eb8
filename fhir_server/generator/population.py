"""Residents and households drawn from the reference figures (pure, seeded by the caller's Random).

ID numbers follow GB 11643 (region = the district's GB/T 2260 code, birth date, a sequence whose
last digit is odd for men and even for women, the ISO 7064 check digit), unique within a run
(`Sequences`); names follow Guangdong surname frequencies; households have the census mean size
and a consistent age make-up; chronic conditions follow the age-scaled published prevalence
(`figures.Rule`), pregnancy the birth rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from stdnum.cn import ric

from .figures import Figures

MOBILE_PREFIXES = ("13", "15", "18", "17", "19", "16", "14")
MOBILE_WEIGHTS = (30, 25, 25, 8, 8, 2, 2)  # assumption: rough share of China's mobile ranges


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
    community: str  # 社区居委会
    phone: str
    street: str = ""  # 街道 (sub-district)
    unit: str = ""  # building and room
    relationship: str | None = None  # v3-RoleCode to the householder (None: the householder)
    conditions: list[tuple[str, str]] = field(default_factory=list)  # (population code, ICD-10)
    disabled: bool = False
    cancer_high_risk: bool = False
    pregnant: bool = False


@dataclass
class Household:
    key: str
    members: list[Resident]


class Sequences:
    """The 3-digit sequence codes (digits 15–17) of GB 11643 already given out per district,
    birth date and sex, so that no two residents of a run share an ID number."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, date, str], int] = {}

    def take(self, rng: random.Random, district: str, birth: date, sex: str) -> int:
        key = (district, birth, sex)
        n = self._next.get(key)
        if n is None:
            n = rng.randint(0, 399)  # start anywhere; a cell rarely holds more than a few
        if n >= 500:
            n = 0
        self._next[key] = n + 1
        return n * 2 + (1 if sex == "male" else 0)


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


def id_number(
    rng: random.Random, district: str, birth: date, sex: str, seqs: Sequences | None = None
) -> str:
    seq = (seqs or Sequences()).take(rng, district, birth, sex)
    body = f"{district}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the (placeholder) last digit


def given_name(rng: random.Random, figures: Figures, sex: str) -> str:
    chars = figures.raw["givenNameCharacters"][sex]
    return "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2))))


def phone_number(rng: random.Random) -> str:
    prefix = rng.choices(MOBILE_PREFIXES, weights=MOBILE_WEIGHTS)[0]
    return f"{prefix}{rng.randint(0, 9)}{rng.randint(0, 10**8 - 1):08d}"


def health_record(rng: random.Random, figures: Figures, person: Resident, on: date) -> None:
    age = age_on(person.birth_date, on)
    for rule in figures.rules:
        if rng.random() >= rule.probability(age):
            continue
        if rule.population == "disabled":
            person.disabled = True
        elif rule.population == "cancer-high-risk":
            person.cancer_high_risk = True
        elif rule.icd10:
            person.conditions.append((rule.population, rule.icd10))
    chance, low, high = figures.pregnancy
    if person.sex == "female" and low <= age <= high and rng.random() < chance:
        person.pregnant = True


@dataclass(frozen=True)
class Place:
    """Where a household lives: district (GB/T 2260), sub-district and community."""

    district: str
    district_name: str
    street: str
    community: str


def _member(
    rng: random.Random,
    figures: Figures,
    key: str,
    family: str,
    sex: str,
    age: int,
    place: Place,
    unit: str,
    on: date,
    seqs: Sequences,
    relationship: str | None,
) -> Resident:
    birth = birth_date_for(rng, age, on)
    person = Resident(
        key=key,
        family_name=family,
        given_name=given_name(rng, figures, sex),
        sex=sex,
        birth_date=birth,
        id_number=id_number(rng, place.district, birth, sex, seqs),
        record_number=f"{place.district}{rng.randint(0, 10**11 - 1):011d}",
        district=place.district,
        district_name=place.district_name,
        community=place.community,
        phone=phone_number(rng),
        street=place.street,
        unit=unit,
        relationship=relationship,
    )
    health_record(rng, figures, person, on)
    return person


def _child_code(sex: str) -> str:
    return "SON" if sex == "male" else "DAU"


def household(
    rng: random.Random,
    figures: Figures,
    key: str,
    district: tuple[str, str],
    community: str,
    on: date,
    *,
    street: str = "",
    seqs: Sequences | None = None,
) -> Household:
    """One household: a householder, maybe a spouse, children and a grandparent of consistent
    ages (size from the census-calibrated distribution)."""
    seqs = seqs or Sequences()
    place = Place(district[0], district[1], street, community)
    unit = f"{rng.randint(1, 30)}栋{rng.randint(1, 32)}{rng.randint(1, 8):02d}房"
    size = int(_weighted(rng, figures.raw["householdSizes"]))
    surnames = figures.raw["surnames"]
    family = _weighted(rng, surnames)
    head_age = draw_age(rng, figures, 20 if size > 1 else 18, 95)
    head_sex = "male" if rng.random() < figures.raw["maleShare"] else "female"

    def member(i: int, fam: str, sex: str, age: int, rel: str | None) -> Resident:
        return _member(rng, figures, f"{key}-{i}", fam, sex, age, place, unit, on, seqs, rel)

    members = [member(1, family, head_sex, head_age, None)]
    if size >= 2:
        spouse_age = max(20, min(99, head_age + rng.randint(-5, 3)))
        spouse_sex = "female" if head_sex == "male" else "male"
        rel = "WIFE" if spouse_sex == "female" else "HUSB"
        members.append(member(2, _weighted(rng, surnames), spouse_sex, spouse_age, rel))
    for i in range(3, size + 1):
        sex = "male" if rng.random() < figures.raw["maleShare"] else "female"
        if i == size and size >= 5 and head_age < 60:
            age = min(99, head_age + rng.randint(24, 32))  # a grandparent living with them
            rel = "FTH" if sex == "male" else "MTH"
        elif head_age >= 62 and i == size and size >= 4:
            age = max(0, head_age - rng.randint(50, 62))  # a grandchild of an older couple
            rel = "GRNDSON" if sex == "male" else "GRNDDAU"
        else:
            age = max(0, head_age - rng.randint(22, 36))
            rel = _child_code(sex)
        members.append(member(i, family, sex, age, rel))
    return Household(key, members)
