"""The demo data set (issue 10): loads through the real components, is idempotent, and its network,
residents and SMART accounts are there — on both databases."""

from __future__ import annotations

from typer.testing import CliRunner

from fhir_server.app import build_components
from fhir_server.auth.store import AuthStore
from fhir_server.cli import app
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import make_settings


def test_demo_loads_once(database_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--database-url", database_url])
    assert first.exit_code == 0, first.output
    assert "login resident / jiayi-demo-2026" in first.output
    second = runner.invoke(app, ["demo", "--database-url", database_url])
    assert second.exit_code == 0 and "0 resources written this time" in second.output
    components = build_components(make_settings(database_url))
    repo = FhirRepository(RequestContext("http://testserver/fhir"), components)
    teams = repo.search(["CareTeam"], [("_count", "50")]).matches
    assert len(teams) == 8
    sinking = (
        repo.search(["PractitionerRole"], [("_id", "demo-role-dr-sink-chc")]).matches[0].content
    )
    assert sinking["organization"]["reference"] == "Organization/demo-chc-2"
    patients = repo.search(["Patient"], [("_total", "accurate"), ("_count", "1")])
    assert 990 <= patients.total <= 1000
    assert len(repo.search(["HealthcareService"], []).matches) == 4
    hypertensive = repo.search(
        ["Condition"], [("code", "http://hl7.org/fhir/sid/icd-10|I10"), ("_total", "accurate")]
    ).total
    assert hypertensive > 50
    store = AuthStore(components.database.engine)  # type: ignore[attr-defined]
    assert store.client("jiayi-demo-app") is not None
    assert store.user("doctor").practitioner_id == "demo-dr-1"  # type: ignore[union-attr]
    components.database.dispose()
