"""The demo district's residents: households drawn by the population generator, each living in one
of the four communities (so each has its station and its two serving teams), with health records and
recent measurements (weight, waist, blood pressure, glucose) — pure, seeded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from ..generator.figures import load_figures
from ..generator.population import Household, age_on, household
from ..generator.resources import family_group, health_resources, patient
from .network import COMMUNITIES, DISTRICT

PREFIX = "demo-"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def households(count: int, seed: int, on: date) -> list[tuple[str, Household]]:
    """(community, household) pairs, about `count` residents in all."""
    rng = random.Random(seed)
    figures = load_figures()
    out: list[tuple[str, Household]] = []
    made = 0
    names = list(COMMUNITIES)
    while made < count:
        community = names[len(out) % len(names)]
        home = household(rng, figures, f"{len(out) + 1}", DISTRICT, community, on)
        home.members = home.members[: count - made]
        made += len(home.members)
        out.append((community, home))
    return out


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": round(value, 1), "unit": unit, "system": UCUM, "code": code}


def measurements(
    rng: random.Random, patient_id: str, age: int, hypertensive: bool, diabetic: bool, on: date
) -> Iterator[dict[str, Any]]:
    if age < 18:
        return
    when = (
        datetime.combine(on - timedelta(days=rng.randint(10, 300)), datetime.min.time()).isoformat()
        + "+08:00"
    )
    subject = {"reference": f"Patient/{patient_id}"}
    vital = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ]
    weight = rng.gauss(63, 10)
    height = rng.gauss(163, 8)
    base = {
        "resourceType": "Observation",
        "status": "final",
        "category": vital,
        "subject": subject,
        "effectiveDateTime": when,
    }
    yield {
        **base,
        "id": f"{patient_id}-wt",
        "code": {
            "coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}],
            "text": "体重",
        },
        "valueQuantity": _quantity(weight, "kg", "kg"),
    }
    yield {
        **base,
        "id": f"{patient_id}-ht",
        "code": {
            "coding": [{"system": LOINC, "code": "8302-2", "display": "Body height"}],
            "text": "身高",
        },
        "valueQuantity": _quantity(height, "cm", "cm"),
    }
    yield {
        **base,
        "id": f"{patient_id}-bmi",
        "code": {
            "coding": [{"system": LOINC, "code": "39156-5", "display": "BMI"}],
            "text": "体质指数",
        },
        "valueQuantity": _quantity(weight / (height / 100) ** 2, "kg/m2", "kg/m2"),
    }
    yield {
        **base,
        "id": f"{patient_id}-waist",
        "code": {
            "coding": [{"system": LOINC, "code": "8280-0", "display": "Waist circumference"}],
            "text": "腰围",
        },
        "valueQuantity": _quantity(rng.gauss(82, 9), "cm", "cm"),
    }
    systolic = rng.gauss(148 if hypertensive else 122, 12)
    yield {
        **base,
        "id": f"{patient_id}-bp",
        "code": {
            "coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}],
            "text": "血压",
        },
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}
                    ]
                },
                "valueQuantity": _quantity(systolic, "mmHg", "mm[Hg]"),
            },
            {
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}
                    ]
                },
                "valueQuantity": _quantity(systolic * 0.63, "mmHg", "mm[Hg]"),
            },
        ],
    }
    if diabetic or rng.random() < 0.3:
        yield {
            **base,
            "id": f"{patient_id}-glu",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": LOINC, "code": "1558-6", "display": "Fasting glucose"}],
                "text": "空腹血糖",
            },
            "valueQuantity": _quantity(
                rng.gauss(8.2 if diabetic else 5.3, 0.8), "mmol/L", "mmol/L"
            ),
        }


def resident_resources(
    homes: list[tuple[str, Household]], seed: int, on: date
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed + 1)
    for _community, home in homes:
        for member in home.members:
            p = patient(member, PREFIX, "440100", "广州市")
            yield p
            yield from health_resources(member, PREFIX, on)
            codes = {c for _, c in member.conditions}
            yield from measurements(
                rng, p["id"], age_on(member.birth_date, on), "I10" in codes, "E11.9" in codes, on
            )
        if len(home.members) > 1:
            yield family_group(home, PREFIX)
