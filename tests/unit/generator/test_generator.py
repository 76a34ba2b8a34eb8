"""The synthetic population (issue 10): valid GB 11643 ID numbers consistent with the record,
reproducibility, household make-up, prevalence near the published figures, valid FHIR, closed
references; loading is idempotent and resumable on both databases."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from stdnum.cn import ric

from fhir_server.app import build_components
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.generator.figures import load_figures
from fhir_server.generator.generate import Plan, generate
from fhir_server.generator.output import load
from fhir_server.generator.population import age_on, id_number
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.validation.pipeline import Validator
from tests.api.conftest import make_settings

ON = date(2026, 11, 23)
PLAN = Plan(2000, "440100", 7, ON)


@pytest.fixture(scope="module")
def population() -> list[dict]:
    return list(generate(PLAN))


def gb11643_ok(number: str) -> bool:
    """Check digit and birth date (python-stdnum's `is_valid` also demands that the district existed
    in the birth year, which refuses real numbers of elders registered in districts founded later)."""
    try:
        ric.get_birth_date(number)
    except Exception:  # noqa: BLE001
        return False
    return len(number) == 18 and ric.calc_check_digit(number) == number[-1]


@pytest.mark.parametrize(
    ("district", "birth", "sex"),
    [
        ("440106", date(1944, 5, 1), "male"),
        ("441900", date(2023, 2, 28), "female"),
        ("440303", date(1960, 12, 31), "female"),
    ],
)
def test_id_numbers_follow_gb11643(district: str, birth: date, sex: str) -> None:
    rng = random.Random(1)
    for _ in range(50):
        number = id_number(rng, district, birth, sex)
        assert gb11643_ok(number)
        assert number[:6] == district and number[6:14] == birth.strftime("%Y%m%d")
        assert int(number[16]) % 2 == (1 if sex == "male" else 0)


def test_patients_are_consistent_with_their_id_numbers(population: list[dict]) -> None:
    patients = [r for r in population if r["resourceType"] == "Patient"]
    assert len(patients) == 2000
    for p in patients:
        number = p["identifier"][0]["value"]
        assert gb11643_ok(number)
        assert number[6:14] == p["birthDate"].replace("-", "")
        assert (int(number[16]) % 2 == 1) == (p["gender"] == "male")
        assert p["address"][0]["extension"][0]["valueCode"] == number[:6]


def test_reproducible_from_the_seed(population: list[dict]) -> None:
    assert list(generate(PLAN)) == population
    assert list(generate(Plan(2000, "440100", 8, ON))) != population


def test_structure_and_prevalence_are_plausible(population: list[dict]) -> None:
    patients = [r for r in population if r["resourceType"] == "Patient"]
    ages = [age_on(date.fromisoformat(p["birthDate"]), ON) for p in patients]
    share_65 = sum(a >= 65 for a in ages) / len(ages)
    assert 0.05 < share_65 < 0.13  # Guangdong 7th census: 8.58 %
    males = sum(p["gender"] == "male" for p in patients) / len(patients)
    assert 0.47 < males < 0.59
    adults = sum(a >= 18 for a in ages)
    hypertension = sum(
        1
        for r in population
        if r["resourceType"] == "Condition" and r["code"]["coding"][0]["code"] == "I10"
    )
    assert (
        0.12 < hypertension / adults < 0.35
    )  # adult prevalence 27.5 % (2020 report), age mix lowers it here
    groups = [r for r in population if r["resourceType"] == "Group"]
    sizes = Counter(g["quantity"] for g in groups)
    assert set(sizes) <= {2, 3, 4, 5, 6} and sizes[2] > sizes[6]
    surnames = Counter(p["name"][0]["family"] for p in patients)
    assert surnames.most_common(1)[0][0] == "陈"  # Guangdong's commonest surname


def test_every_resource_is_valid_and_references_resolve(population: list[dict]) -> None:
    validator = Validator(R4Definitions.load())
    ids = {f"{r['resourceType']}/{r['id']}" for r in population}
    assert len(ids) == len(population)
    for resource in population:
        assert validator.validate(resource) == [], resource["id"]

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["reference"]] if isinstance(node.get("reference"), str) else []
            return own + [x for v in node.values() for x in refs(v)]
        if isinstance(node, list):
            return [x for v in node for x in refs(v)]
        return []

    dangling = {ref for r in population for ref in refs(r) if ref not in ids}
    assert not dangling


def test_providers_in_proportion(population: list[dict]) -> None:
    teams = [r for r in population if r["resourceType"] == "CareTeam"]
    figures = load_figures()
    per_10k = figures.figure(figures.raw["workforce"]["generalPractitionersPer10k"])  # 3.28
    assert len(teams) == max(1, round(2000 * per_10k / 10_000))
    gps = [
        r
        for r in population
        if r["resourceType"] == "PractitionerRole"
        and r["code"][0]["coding"][0]["code"] == "general-practitioner"
    ]
    assert len(gps) == len(teams)  # one GP leading each 1 + 1 + 1 team
    sinking = [
        r for r in population if r["resourceType"] == "PractitionerRole" and r.get("extension")
    ]
    assert len(sinking) == 1


def test_load_is_idempotent_and_resumable(database_url: str) -> None:
    components = build_components(make_settings(database_url))
    repo = FhirRepository(
        RequestContext("http://testserver/fhir", system_name="generator"), components
    )
    plan = Plan(60, "441900", 3, ON)
    resources = list(generate(plan))
    half = resources[: len(resources) // 2]
    assert sum(load(repo, half, batch_size=20)) == len(half)  # "interrupted" half-way
    assert sum(load(repo, resources, batch_size=20)) == len(resources)  # resumed
    assert sum(load(repo, resources, batch_size=20)) == len(resources)  # and again: nothing new
    for resource in resources:
        assert repo.read(resource["resourceType"], resource["id"]).version_id == 1
    components.database.dispose()
