"""`jiayi generate` into PostgreSQL (issue 10): COPY loading with the search-index rows the API
would write (the bulk loader's plain-path reading equals the FHIRPath extractor's), resumable
after an interruption, refusing to resume another population; NDJSON output and bad options."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from fhir_server.app import build_components
from fhir_server.cli import app
from fhir_server.demo import story
from fhir_server.demo.network import network, slots
from fhir_server.generator.generate import Plan, generate
from fhir_server.generator.output import ResumeMismatch, copy_load, stored_prefix
from fhir_server.search.extract import Extractor
from fhir_server.search.registry import server_registry
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.tools.bulk_load import FastExtractor, bulk_load, plain_path
from tests.api.conftest import make_settings

ON = date(2026, 11, 23)


def _demo_like() -> list[dict]:
    """Resources of other shapes: the demo network, slots, a service visit's observations."""
    out = [*network(), *slots(ON)]
    member = next(m for h in _homes() for m in h.members if m.conditions)
    body = story.baseline(member, 1, ON)
    links = (
        "Patient/x",
        "CarePlan/y",
        "Encounter/z",
        "2026-11-01T09:00:00+08:00",
        "Practitioner/p",
    )
    kind = {"bp", "weight", "height", "waist", "glucose"}
    out += list(story.measurements(kind, member, body, 1, story.rng_for(1, "t"), "obs", links))
    return out


def _homes():  # noqa: ANN202
    from fhir_server.demo.residents import households

    return households(30, 1, ON)


def test_plain_paths_are_recognised() -> None:
    assert plain_path("Patient.name", "Patient") == [[("field", "name", None)]]
    assert plain_path("Patient.telecom.where(system='phone')", "Patient") == [
        [("field", "telecom", None), ("where", "system", "phone")]
    ]
    assert plain_path(
        "(Condition.onset as dateTime) | Condition.onset.as(Period)", "Condition"
    ) == [
        [("field", "onset", None), ("as", "dateTime", None)],
        [("field", "onset", None), ("as", "Period", None)],
    ]
    assert plain_path("Patient.deceased.exists() and Patient.deceased != false", "Patient") is None
    assert plain_path("Observation.subject.where(resolve() is Patient)", "Observation") is None


def test_bulk_loader_rows_equal_the_api_extractor() -> None:
    registry = server_registry()
    slow, fast = Extractor(registry), FastExtractor(registry)
    resources = list(generate(Plan(300, "440300", 3, ON))) + _demo_like()
    assert {r["resourceType"] for r in resources} >= {
        "Patient", "Condition", "Group", "Flag", "Organization", "Location", "CareTeam",
        "PractitionerRole", "Schedule", "Slot", "HealthcareService", "Observation",
    }  # fmt: skip
    for resource in resources:
        assert fast.extract(resource) == slow.extract(resource), resource["id"]


def test_copy_load_resumes_and_indexes(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("COPY loading is PostgreSQL's; SQLite loads through the repository")
    plan = Plan(80, "441900", 4, ON)
    resources = list(generate(plan))
    half = len(resources) // 2
    # an interrupted load: the first batches committed, then the process died
    assert bulk_load(database_url, resources[:half], workers=1, batch=40, vacuum=False) == half
    skipped, written = copy_load(database_url, lambda: generate(plan), plan.prefix, workers=1,
                                 batch=40)  # fmt: skip
    assert (skipped, written) == (half, len(resources) - half)
    assert copy_load(database_url, lambda: generate(plan), plan.prefix, workers=1) == (
        len(resources),
        0,
    )
    assert stored_prefix(database_url, plan.prefix) == len(resources)
    other = Plan(80, "441900", 4, date(2026, 1, 2))  # other birth dates under the same ids
    with pytest.raises(ResumeMismatch, match="same --residents, --city, --seed and --date"):
        copy_load(database_url, lambda: generate(other), other.prefix, workers=1)

    components = build_components(make_settings(database_url))
    repo = FhirRepository(RequestContext("http://testserver/fhir"), components)
    try:
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        number = patient["identifier"][0]["value"]
        found = repo.search(["Patient"], [("identifier", f"urn:oid:2.16.156.10011.1.3|{number}")])
        assert [m.id for m in found.matches] == [patient["id"]]
        assert repo.read("Patient", patient["id"]).version_id == 1
        name = patient["name"][0]["text"]
        assert patient["id"] in {m.id for m in repo.search(["Patient"], [("name", name)]).matches}
        hypertensive = sum(
            1
            for r in resources
            if r["resourceType"] == "Condition" and r["code"]["coding"][0]["code"] == "I10"
        )
        found = repo.search(["Condition"], [("code", "http://hl7.org/fhir/sid/icd-10|I10"),
                                            ("_total", "accurate")])  # fmt: skip
        assert found.total == hypertensive
        families = repo.search(["Group"], [("member", patient["id"]), ("_count", "5")]).matches
        assert len(families) <= 1
    finally:
        components.database.dispose()


def test_generate_writes_ndjson(tmp_path: Path) -> None:
    out = tmp_path / "population"
    args = ["generate", "--residents", "25", "--city", "440600", "--seed", "9",
            "--date", "2026-11-23", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "(25 residents)" in result.output
    patients = [orjson.loads(line) for line in (out / "Patient.ndjson").read_bytes().splitlines()]
    assert len(patients) == 25
    assert all(p["address"][0]["extension"][0]["valueCode"].startswith("4406") for p in patients)
    assert (out / "CareTeam.ndjson").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--city", "110000"], "--city 110000 is not the GB/T 2260 code"),
        (["--date", "2026-02-30"], "--date must be YYYY-MM-DD"),
    ],
)
def test_generate_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
