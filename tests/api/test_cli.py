"""The `jiayi` command: db upgrade (migrate + seed the service packages), import, export — both databases."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fhir_server.app import build_components
from fhir_server.cli import app
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import make_settings

runner = CliRunner()


def _repo(database_url: str) -> FhirRepository:
    return FhirRepository(
        RequestContext("http://testserver/fhir"), build_components(make_settings(database_url))
    )


def test_db_upgrade_seeds_service_packages_idempotently(database_url: str) -> None:
    first = runner.invoke(app, ["db", "upgrade", "--database-url", database_url])
    assert first.exit_code == 0, first.output
    assert "definitions seeded" in first.output
    repo = _repo(database_url)
    for pid in (
        "basic-public-health",
        "basic-medical",
        "kp-hypertension",
        "kp-child-0-6",
        "kp-cancer-high-risk",
    ):
        assert (
            repo.read("PlanDefinition", pid).content["url"]
            == f"https://jiayi.health/fhir/PlanDefinition/{pid}"
        )
    second = runner.invoke(app, ["db", "upgrade", "--database-url", database_url])
    assert second.exit_code == 0 and "; 0 definitions seeded" in second.output
    repo.components.database.dispose()


def test_import_and_export_round_trip(database_url: str, tmp_path: Path) -> None:
    resources = [
        {"resourceType": "Patient", "id": "imp-1", "name": [{"family": "王"}]},
        {
            "resourceType": "Observation",
            "id": "obs-1",
            "status": "final",
            "code": {"text": "BMI"},
            "subject": {"reference": "Patient/imp-1"},
        },
    ]
    ndjson = tmp_path / "data.ndjson"
    ndjson.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in resources) + "\n", encoding="utf-8"
    )
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "resource": {"resourceType": "Patient", "id": "imp-2"},
                        "request": {"method": "PUT", "url": "Patient/imp-2"},
                    }
                ],
            }
        )
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "Patient", "id": "bad", "birthDate": "yesterday"}))
    result = runner.invoke(
        app, ["import", str(ndjson), str(bundle), str(bad), "--database-url", database_url]
    )
    assert result.exit_code == 1, result.output  # one file failed, and says so
    assert "imported 3 resources, 1 failed" in result.output
    out = tmp_path / "export"
    exported = runner.invoke(app, ["export", str(out), "--database-url", database_url])
    assert exported.exit_code == 0, exported.output
    patients = [json.loads(line) for line in (out / "Patient.ndjson").read_text().splitlines()]
    assert sorted(p["id"] for p in patients) == ["imp-1", "imp-2"]
    assert (
        json.loads((out / "Observation.ndjson").read_text())["subject"]["reference"]
        == "Patient/imp-1"
    )


def test_every_command_prints_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["db", "upgrade", "--help"],
        ["import", "--help"],
        ["export", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output
