"""`jiayi generate` into PostgreSQL (issue 10): COPY loading with the search-index rows the API
would write (the bulk loader's plain-path reading equals the FHIRPath extractor's), resumable
after an interruption, refusing to resume another population; NDJSON output and bad options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fhir_server.app import build_components, create_app
from fhir_server.cli import app
from fhir_server.demo import story
from fhir_server.demo.network import network, slots
from fhir_server.generator.generate import Plan, generate
from fhir_server.generator.output import ResumeMismatch, copy_load, stored_prefix
from fhir_server.search.extract import Extractor
from fhir_server.search.plain_paths import plain_path, presence_path
from fhir_server.search.registry import server_registry
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.sql.database import SqlDatabase
from fhir_server.storage.sql.indexer import table_rows
from fhir_server.tools.bulk_load import (
    _TABLES,
    _names,
    bulk_load,
    flat_rows,
    libpq,
    load_state,
)
from tests.api.conftest import make_settings
from tests.support.databases import create_pg_database, drop_pg_database

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


def jiayi_command() -> list[str]:
    return [sys.executable, "-c", "from fhir_server.cli import main; main()"]


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
    assert presence_path("Patient.deceased.exists() and Patient.deceased != false", "Patient") == [
        [("field", "deceased", None)]
    ]
    assert presence_path("Patient.deceased.exists() and Patient.active != false", "Patient") is None


@pytest.mark.parametrize(
    "deceased",
    [{}, {"deceasedBoolean": False}, {"deceasedBoolean": True},
     {"deceasedDateTime": "2020-01-01"}, {"deceasedBoolean": True, "_deceasedBoolean": {"id": "x"}}],
)  # fmt: skip
def test_presence_flags_equal_the_fhirpath_engines(deceased: dict) -> None:
    registry = server_registry()
    slow, fast = Extractor(registry, plain=False), Extractor(registry)
    patient = {"resourceType": "Patient", "id": "p", **deceased}
    assert fast.extract(patient) == slow.extract(patient)


def test_plain_path_rows_equal_the_fhirpath_engines() -> None:
    """Every extractor (the write path's and the loader's) reads plain paths from the JSON: the
    rows equal those of the FHIRPath engine evaluating every expression."""
    registry = server_registry()
    slow, fast = Extractor(registry, plain=False), Extractor(registry)
    resources = list(generate(Plan(300, "440300", 3, ON))) + _demo_like()
    assert {r["resourceType"] for r in resources} >= {
        "Patient", "Condition", "Group", "Flag", "Organization", "Location", "CareTeam",
        "PractitionerRole", "Schedule", "Slot", "HealthcareService", "Observation",
    }  # fmt: skip
    for resource in resources:
        assert fast.extract(resource) == slow.extract(resource), resource["id"]


def test_flat_rows_equal_table_rows() -> None:
    """The workers' tuples are the rows `_copy` writes from `table_rows` (contained included)."""
    extractor = Extractor(server_registry())
    resources = list(generate(Plan(40, "440300", 3, ON))) + _demo_like()
    resources.append(
        {"resourceType": "Observation", "id": "with-contained", "status": "final",
         "code": {"text": "血压"}, "subject": {"reference": "#p1"},
         "contained": [{"resourceType": "Patient", "id": "p1", "name": [{"text": "张三"}]}]}
    )  # fmt: skip
    for resource in resources:
        rows = extractor.extract(resource)
        flat: dict[str, list[tuple]] = {kind: [] for kind in (*_TABLES, "contained")}
        flat_rows(resource["resourceType"], resource["id"], rows, flat)
        dicts = table_rows(resource["resourceType"], resource["id"], rows)
        for kind, (_table, columns) in _TABLES.items():
            names = _names(kind, columns)
            assert sorted(flat[kind], key=repr) == sorted(
                (tuple(row.get(n) for n in names) for row in dicts.get(kind, [])), key=repr
            ), (resource["id"], kind)
        assert [r[:5] for r in flat["contained"]] == [
            tuple(row[n] for n in ("res_type", "res_id", "container_type", "container_id",
                                   "local_id"))
            for row in dicts["contained"]
        ]  # fmt: skip
    assert flat["contained"] and flat["string"]  # the last one has a contained Patient


def _indexes(url: str) -> set[str]:
    with psycopg.connect(libpq(url)) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename NOT LIKE 'bulk_load%'"
            )
        }


_DUMP = {
    "resource": "res_type, res_id, version_id, deleted, content #- '{meta,lastUpdated}'",
    "resource_history": "res_type, res_id, version_id, method, deleted,"
    " content #- '{meta,lastUpdated}'",  # not seq: workers commit in any order
    "search_contained": "*",
    **{table: "*" for table, _columns in _TABLES.values()},
    "bulk_load_batch": "*",
}
#: the load's start time (`_lastUpdated`) differs between two loads
_WHERE = {
    "search_date": " WHERE param <> '_lastUpdated'",
    "search_sort": " WHERE param <> '_lastUpdated'",
}


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every row the loader writes (timestamps aside), sorted: two loads compare equal."""
    with psycopg.connect(libpq(url)) as conn:
        return {
            table: sorted(
                conn.execute(f"SELECT {cols} FROM {table}{_WHERE.get(table, '')}").fetchall(),
                key=repr,
            )
            for table, cols in _DUMP.items()
        }


def _single_timestamp(url: str, prefix: str) -> bool:
    """All the load's resources carry its start time (the resumed part too)."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT last_updated), count(DISTINCT content->'meta'->>'lastUpdated')"
            " FROM resource WHERE res_id LIKE %s",
            (prefix + "%",),
        ).fetchone()
    return row == (1, 1)


@pytest.fixture
def second_database(database_url: str) -> Iterator[str]:
    """Another migrated, empty PostgreSQL database (for an uninterrupted load to compare)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("COPY loading is PostgreSQL's; SQLite loads through the repository")
    url, name = create_pg_database()
    try:
        db = SqlDatabase(url)
        db.upgrade()
        db.dispose()
        yield url
    finally:
        drop_pg_database(name)


class _Interrupted(Exception):
    pass


def test_copy_load_resumes_and_indexes(database_url: str, second_database: str) -> None:
    plan = Plan(80, "441900", 4, ON)
    resources = list(generate(plan))
    all_indexes = _indexes(database_url)
    calls = []

    def die(count: int) -> None:
        calls.append(count)
        if len(calls) == 2:
            raise _Interrupted

    # an interrupted load: some batches committed (in any order), indexes dropped
    with pytest.raises(_Interrupted):
        copy_load(database_url, lambda: generate(plan), plan.prefix, batch=20, progress=die)
    assert "ix_search_string_value" not in _indexes(database_url)
    # `jiayi db upgrade` (and prepare_database) recreate them
    db = SqlDatabase(database_url)
    db.upgrade()
    db.dispose()
    assert _indexes(database_url) == all_indexes
    state = load_state(database_url, plan.prefix)
    assert state is not None and state.batch_size == 20
    committed = sum(count for count, _digest in state.committed.values())
    assert 0 < committed < len(resources)
    assert stored_prefix(database_url, plan.prefix) == committed

    # the resume (with another batch size asked: the recorded one is kept)
    skipped, written = copy_load(database_url, lambda: generate(plan), plan.prefix, batch=7)
    assert (skipped, written) == (committed, len(resources) - committed)
    assert copy_load(database_url, lambda: generate(plan), plan.prefix) == (len(resources), 0)
    assert stored_prefix(database_url, plan.prefix) == len(resources)
    assert _indexes(database_url) == all_indexes
    assert _single_timestamp(
        database_url, plan.prefix
    )  # the resumed part has the first run's start time

    other = Plan(80, "441900", 4, date(2026, 1, 2))  # other birth dates under the same ids
    with pytest.raises(ResumeMismatch, match="same --residents, --city, --seed and --date"):
        copy_load(database_url, lambda: generate(other), other.prefix)
    fewer = Plan(20, "441900", 4, ON)  # fewer residents: other providers, other batches
    with pytest.raises(ResumeMismatch, match="batch [0-9]+ of the load 'g4-…'"):
        copy_load(database_url, lambda: generate(fewer), fewer.prefix)
    with pytest.raises(ResumeMismatch, match="beyond the end of this population"):
        copy_load(database_url, lambda: iter(resources[:20]), plan.prefix)  # the start only
    bulk_load(second_database, resources[:3], vacuum=False)  # no resumable load recorded these
    with pytest.raises(ResumeMismatch, match="no resumable load"):
        copy_load(second_database, lambda: generate(plan), plan.prefix)

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


def _generate_args(url: str) -> list[str]:
    return [*jiayi_command(), "generate", "--residents", "150", "--city", "441900", "--seed",
            "5", "--date", ON.isoformat(), "--batch", "15", "--database-url", url]  # fmt: skip


def _committed_batches(url: str) -> int:
    with psycopg.connect(libpq(url)) as conn:
        if not conn.execute("SELECT to_regclass('bulk_load_batch') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
            return 0
        return int(conn.execute("SELECT count(*) FROM bulk_load_batch").fetchone()[0])  # type: ignore[index]


def test_sigkill_mid_load_then_rerun_equals_an_uninterrupted_load(
    database_url: str, second_database: str
) -> None:
    plan = Plan(150, "441900", 5, ON)
    expected = sum(1 for _ in generate(plan))
    # the killed load's connections carry their own application_name (libpq's PGAPPNAME), so
    # idle pooled connections that earlier tests of this worker left open are not mistaken for them
    marked = {**os.environ, "PGAPPNAME": "jiayi-killed-load"}
    first = subprocess.Popen(_generate_args(database_url), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=marked)  # fmt: skip
    deadline = time.monotonic() + 300
    while first.poll() is None and _committed_batches(database_url) < 3:
        assert time.monotonic() < deadline, "the load never committed a batch"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = stored_prefix(database_url, plan.prefix)
    assert killed_at < expected, "the load finished before it could be killed"
    # its workers died with it: nothing holds a transaction open on the database
    deadline = time.monotonic() + 30
    while True:
        with psycopg.connect(libpq(database_url)) as conn:
            others = conn.execute(
                "SELECT backend_type, application_name, state, left(query, 80)"
                " FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'jiayi-killed-load'"
            ).fetchall()
        if not others:
            break
        assert time.monotonic() < deadline, (
            f"{len(others)} connections outlived the killed load: {others}"
        )
        time.sleep(0.2)

    second = subprocess.run(_generate_args(database_url), capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "(resumed)" in second.stdout
    whole = subprocess.run(_generate_args(second_database), capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    assert stored_prefix(database_url, plan.prefix) == expected
    assert _dump(database_url) == _dump(second_database)
    assert _indexes(database_url) == _indexes(second_database)
    assert _single_timestamp(database_url, plan.prefix)


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


def test_generate_writes_transaction_bundles_that_post(tmp_path: Path, database_url: str) -> None:
    out = tmp_path / "bundles"
    args = ["generate", "--residents", "12", "--city", "440600", "--seed", "9",
            "--date", "2026-11-23", "--out", str(out), "--format", "bundle"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("bundle-*.json"))
    expected = list(generate(Plan(12, "440600", 9, date(2026, 11, 23))))
    bundles = [orjson.loads(f.read_bytes()) for f in files]
    assert [e["resource"] for b in bundles for e in b["entry"]] == expected
    assert all(b["type"] == "transaction" for b in bundles)

    settings = make_settings(database_url)
    with TestClient(create_app(settings, components=build_components(settings))) as client:
        for f in files:
            response = client.post(
                "/fhir", content=f.read_bytes(), headers={"Content-Type": "application/fhir+json"}
            )
            assert response.status_code == 200, response.text
            statuses = {e["response"]["status"][:3] for e in response.json()["entry"]}
            assert statuses <= {"200", "201"}, statuses
        found = client.get("/fhir/Patient", params={"_summary": "count"}).json()
        assert found["total"] == 12
        patient = next(r for r in expected if r["resourceType"] == "Patient")
        stored = client.get(f"/fhir/Patient/{patient['id']}").json()
        assert stored["identifier"] == patient["identifier"]


def test_generate_refuses_an_unknown_format(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 2
    assert "--format must be ndjson or bundle" in result.output
