"""The demo data set (issue 10): `jiayi demo` loads through the real components (contracts by
`Contract/$sign`, services under the CarePlans, the `pushes` job, referrals booked into reserved
slots), is idempotent ("0 resources written this time"), and its network, residents, year of care
and SMART accounts are there — on both databases; `jiayi serve --demo` loads it before serving.
A small district (60 residents) keeps it fast; the default is about 1 000."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server import cli
from fhir_server.app import build_components, create_app
from fhir_server.auth.store import AuthStore
from fhir_server.cli import app
from fhir_server.demo import cli as demo_cli
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.sql.tables import resource
from tests.api.conftest import make_settings

RESIDENTS = 60


def _total(repo: FhirRepository, rtype: str, *query: tuple[str, str]) -> int:
    found = repo.search([rtype], [*query, ("_total", "accurate"), ("_count", "1")])
    return int(found.total or 0)


def test_serve_demo_loads_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`jiayi serve --demo` loads the district before serving; `jiayi demo` then finds it all."""
    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **kw: served.append(kw))
    monkeypatch.setattr(demo_cli, "DEMO_RESIDENTS", RESIDENTS)
    monkeypatch.setattr(cli, "_configure_logging", lambda: None)  # keep pytest's log capture
    runner = CliRunner()
    with mock.patch.dict(os.environ), caplog.at_level(logging.INFO, logger="jiayi"):
        first = runner.invoke(app, ["serve", "--database-url", database_url, "--demo"])
    assert first.exit_code == 0, first.output
    assert len(served) == 1  # then it served
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"demo data: {RESIDENTS} residents" in logged
    assert "login resident / jiayi-demo-2026" in logged
    today = (datetime.now(UTC) + timedelta(hours=8)).date()  # the demo's date: today in China
    second = runner.invoke(
        app, ["demo", "--database-url", database_url, "--residents", str(RESIDENTS)]
    )
    assert second.exit_code == 0, second.output
    assert f"demo data: {RESIDENTS} residents" in second.output
    assert "; 0 resources written this time" in second.output, second.output
    for login in ("resident", "doctor", "admin"):
        assert f"login {login} / jiayi-demo-2026" in second.output

    components = build_components(make_settings(database_url))
    repo = FhirRepository(RequestContext("http://testserver/fhir"), components)
    try:
        # the network: 8 teams, the sinking cardiologist, a notice per community, the slots
        assert _total(repo, "CareTeam") == 8
        sinking = repo.read("PractitionerRole", "demo-role-cardio-sinking").content
        assert sinking["organization"]["reference"] == "Organization/demo-chc-2"
        assert (
            sinking["extension"][0]["valueReference"]["reference"] == "Organization/demo-hospital"
        )
        assert _total(repo, "HealthcareService", ("_id", ",".join(
            f"demo-notice-station-{n}" for n in range(1, 5)))) == 4  # fmt: skip
        assert _total(repo, "Location", ("near", "23.135|113.36|20|km")) > 0
        reserved = _total(
            repo, "Slot", ("_tag", "https://jiayi.health/fhir/CodeSystem/slot-reservation|referral")
        )
        assert reserved > 0
        # residents in families, with their records
        assert _total(repo, "Patient") == RESIDENTS
        assert _total(repo, "Group") > 0
        # contracts signed by the workflow: each with its CarePlan(s) and Consent
        contracts = _total(repo, "Contract", ("status", "executed"))
        assert contracts > 0
        assert _total(repo, "CarePlan", ("status", "active")) >= contracts
        assert _total(repo, "Consent") > 0
        # a year of partly fulfilled care: services, measurements, pushes, answers, referrals
        assert _total(repo, "Encounter", ("status", "finished")) > 0
        assert _total(repo, "Observation", ("code", "http://loinc.org|85354-9")) > 0
        plans = _total(repo, "CarePlan", ("status", "active"))
        push = "https://jiayi.health/fhir/StructureDefinition/jiayi-health-push"
        assert _total(repo, "Communication", ("_profile", push)) >= 6 * plans  # monthly pushes
        assert (
            _total(
                repo,
                "Task",
                ("_id", f"job-pushes-{today.replace(day=1):%Y%m%d}"),
                ("status", "completed"),
            )
            == 1
        )
        assert _total(repo, "QuestionnaireResponse", ("status", "completed")) > 0
        notified = (
            "category",
            "https://jiayi.health/fhir/CodeSystem/referral-marker|referral-notification",
        )
        assert _total(repo, "Communication", notified) > 0
        assert _total(repo, "ServiceRequest", ("_id", "demo-ref-up-1,demo-ref-down-1")) == 2
        assert _total(repo, "Appointment", ("based-on", "ServiceRequest/demo-ref-up-1")) == 1
        assert _total(repo, "Task", ("focus", "ServiceRequest/demo-ref-up-1")) >= 1
        # the SMART demo accounts
        store = AuthStore(components.database.engine)  # type: ignore[attr-defined]
        assert store.client("jiayi-demo-app") is not None
        assert store.user("resident").patient_id is not None  # type: ignore[union-attr]
        assert store.user("doctor").practitioner_id.startswith("demo-dr-")  # type: ignore[union-attr]
        assert store.user("admin").practitioner_id == "demo-admin"  # type: ignore[union-attr]
        # the bulk path does not validate the generated resources one by one: every `demo-`
        # resource of the load passes the full validation pipeline
        invalid = {}
        with components.database.engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(
                select(resource.c.content).where(
                    resource.c.res_id.like("demo-%"), resource.c.deleted.is_(False)
                )
            ).all()
        for (content,) in rows:
            errors = [i for i in components.validator.validate(content) if i.is_error]
            if errors:
                invalid[f"{content['resourceType']}/{content['id']}"] = errors
        assert len(rows) > 300 and not invalid, (len(rows), list(invalid.items())[:3])
    finally:
        components.database.dispose()
    # the story through the API: the teams' promised services are partly delivered
    settings = make_settings(database_url)
    with TestClient(create_app(settings, components=build_components(settings))) as client:
        for team in ("demo-team-1", "demo-team-5"):
            answer = client.get(
                f"/fhir/CareTeam/{team}/$fulfillment", params={"date": today.isoformat()}
            )
            assert answer.status_code == 200, answer.text
            rate = next(
                p["valueDecimal"] for p in answer.json()["parameter"] if p["name"] == "rate"
            )
            assert 0 < rate < 1


def test_demo_refuses_a_bad_date() -> None:
    result = CliRunner().invoke(app, ["demo", "--date", "2026-13-01"])
    assert result.exit_code == 2
    assert "--date must be YYYY-MM-DD" in result.output
