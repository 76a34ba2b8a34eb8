"""The `jiayi` command: db upgrade (migrate + seed the service packages), import, export — both databases."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fhir_server.app import PackagedDefinitions, build_components
from fhir_server.cli import app
from fhir_server.conformance.ig import load_ig_resources
from fhir_server.core.errors import Issue
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
    packaged = load_ig_resources()
    assert f"; {len(packaged)} definitions seeded" in first.output  # every one, in one transaction
    repo = _repo(database_url)
    for resource in packaged[:: max(1, len(packaged) // 25)]:  # stored as shipped, version 1
        stored = repo.read(resource["resourceType"], resource["id"])
        assert stored.version_id == 1
        assert {k: v for k, v in stored.content.items() if k != "meta"} == {
            k: v for k, v in resource.items() if k != "meta"
        }
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


class _Refusing:
    profiles = None

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def validate(self, resource: dict, profiles: object = ()) -> list[Issue]:
        self.seen.append(resource)
        return [Issue("error", "invariant", "refused", ("Patient",), None)]


def test_seeding_trusts_only_the_packaged_content() -> None:
    """The seed skips re-validating a definition only when it is the packaged one byte for byte
    (their validity is proven by tests/unit/conformance/test_seed_definitions.py)."""
    packaged = [r for r in load_ig_resources() if r["resourceType"] == "PlanDefinition"][:2]
    inner = _Refusing()
    trusting = PackagedDefinitions(inner, packaged)
    assert trusting.validate(dict(reversed(list(packaged[0].items())))) == []  # key order aside
    changed = {**packaged[1], "title": "changed"}
    assert [i.diagnostics for i in trusting.validate(changed)] == ["refused"]
    assert trusting.validate(packaged[0], ["http://example.org/p"])  # a named profile: validated
    assert inner.seen == [changed, packaged[0]]


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
    not_json = tmp_path / "notes.json"
    not_json.write_text("this is not JSON")
    not_fhir = tmp_path / "list.json"
    not_fhir.write_text("[1, 2]")
    lines = tmp_path / "mixed.ndjson"
    lines.write_text('{"resourceType": "Patient", "id": "imp-3"}\n{oops\n')
    files = [ndjson, bundle, bad, not_json, not_fhir, lines]
    result = runner.invoke(app, ["import", *map(str, files), "--database-url", database_url])
    assert result.exit_code == 1, result.output  # some failed, and the run says so
    assert "Traceback" not in result.output
    assert "imported 4 resources, 4 failed" in result.output
    flat = " ".join(result.output.split())  # the progress console may wrap long lines
    assert f"{bad}: " in flat and "birthDate" in flat
    assert f"{not_json}: not JSON" in flat
    assert f"{not_fhir}: not a FHIR resource" in flat
    assert f"{lines}:2: not JSON" in flat
    out = tmp_path / "export"
    exported = runner.invoke(app, ["export", str(out), "--database-url", database_url])
    assert exported.exit_code == 0, exported.output
    patients = [json.loads(line) for line in (out / "Patient.ndjson").read_text().splitlines()]
    assert sorted(p["id"] for p in patients) == ["imp-1", "imp-2", "imp-3"]
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


def test_import_counts_refused_batch_entries(database_url: str, tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    entries = [
        {
            "resource": {"resourceType": "Patient", "id": "ok-1"},
            "request": {"method": "PUT", "url": "Patient/ok-1"},
        },
        {
            "resource": {"resourceType": "Patient", "id": "no-1", "gender": "robot"},
            "request": {"method": "PUT", "url": "Patient/no-1"},
        },
    ]
    batch.write_text(json.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries}))
    result = runner.invoke(app, ["import", str(batch), "--database-url", database_url])
    assert result.exit_code == 1, result.output
    assert "imported 1 resources, 1 failed" in result.output
    assert "Bundle.entry[1]" in " ".join(result.output.split())


BAD_SERVE_OPTIONS = [
    (["--auth", "bogus"], {}, "'--auth'"),
    (["--referential-integrity", "bogus"], {}, "'--referential-integrity'"),
    (["--max-request-bytes", "5"], {}, "'--max-request-bytes'"),
    (["--port", "70000"], {}, "'--port'"),
    (["--workers", "0"], {}, "'--workers'"),
    ([], {"JIAYI_AUTH": "bogus"}, "JIAYI_AUTH"),
    ([], {"JIAYI_DEFAULT_PAGE_SIZE": "0"}, "JIAYI_DEFAULT_PAGE_SIZE"),
]


def test_serve_refuses_bad_options_in_one_line() -> None:
    for args, env, named in BAD_SERVE_OPTIONS:
        result = runner.invoke(app, ["serve", *args], env=env)
        assert result.exit_code == 2, (args, env, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and named in errors[0], (args, env, result.output)
        assert "Traceback" not in result.output and "pydantic" not in result.output
