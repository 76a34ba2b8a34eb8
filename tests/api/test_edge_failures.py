"""Failures that are not the client's: every response still carries `X-Request-Id` and is logged.

- A bug (here: a validator that raises) → 500 OperationOutcome, with the request id, one access-log
  line with status 500, and the traceback in `jiayi.error`.
- The database going away (SQLite: its folder disappears; PostgreSQL: the database stops accepting
  connections) → 503 OperationOutcome with `Retry-After`, `/readyz` 503; back when it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fhir_server.app import build_components, create_app
from fhir_server.core.errors import Issue
from tests.api.conftest import make_settings
from tests.support.databases import pg_admin_url

FHIR = {"Content-Type": "application/fhir+json"}


class _BrokenValidator:
    def validate(self, resource: dict[str, Any]) -> list[Issue]:
        raise RuntimeError("validator bug")


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "jiayi.access"]


def test_500_has_request_id_outcome_and_log(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url)
    components = build_components(settings, validator=_BrokenValidator())
    caplog.set_level(logging.INFO, logger="jiayi")
    with TestClient(create_app(settings, components=components)) as client:
        r = client.post(
            "/fhir/Patient",
            json={"resourceType": "Patient"},
            headers={**FHIR, "X-Request-Id": "bug-1"},
        )
        assert r.status_code == 500
        assert r.headers["X-Request-Id"] == "bug-1"
        assert r.headers["content-type"].startswith("application/fhir+json")
        issue = r.json()["issue"][0]
        assert issue["code"] == "exception" and "validator bug" not in r.text  # no internals
        assert client.get("/fhir/Patient").json()["entry"] == []  # nothing was written
    lines = [x for x in _access_lines(caplog) if x["request_id"] == "bug-1"]
    assert len(lines) == 1
    assert lines[0]["status"] == 500 and lines[0]["method"] == "POST"
    assert lines[0]["path"] == "/fhir/Patient" and lines[0]["duration_ms"] >= 0
    errors = [r for r in caplog.records if r.name == "jiayi.error"]
    assert any("bug-1" in r.getMessage() and r.exc_info for r in errors)


def test_access_log_one_json_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jiayi.access")
    client.get("/fhir/Patient/nobody", headers={"X-Request-Id": "r-404"})
    client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR)
    client.get("/healthz?x=1")
    lines = _access_lines(caplog)
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/fhir/Patient/nobody", 404),
        ("POST", "/fhir/Patient", 201),
        ("GET", "/healthz", 200),
    ]
    assert lines[0]["request_id"] == "r-404"
    assert all(len(x["request_id"]) >= 16 for x in lines[1:])
    assert lines[2]["query"] == "x=1"
    assert all(isinstance(x["duration_ms"], float | int) for x in lines)


@contextmanager
def _outage(database_url: str, tmp_path: Path) -> Iterator[None]:
    """Make the database unreachable for new connections, then bring it back."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or "").parent
        hidden = tmp_path.parent / f"{tmp_path.name}-hidden"
        folder.rename(hidden)
        try:
            yield
        finally:
            hidden.rename(folder)
        return
    admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = url.database
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_database_outage_is_503_with_retry_after(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url)
    components = build_components(settings)
    with TestClient(create_app(settings, components=components)) as client:
        pid = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).json()[
            "id"
        ]
        components.database.dispose()  # drop pooled connections: the outage hits new ones
        with _outage(database_url, tmp_path):
            for method, url, body in (
                ("GET", f"/fhir/Patient/{pid}", None),
                ("POST", "/fhir/Patient", b'{"resourceType":"Patient"}'),
                ("GET", "/fhir/Patient?gender=male", None),
            ):
                r = client.request(method, url, content=body, headers={**FHIR, "X-Request-Id": "o"})
                assert r.status_code == 503, (method, url, r.status_code, r.text)
                assert r.headers["Retry-After"].isdigit()
                assert r.headers["X-Request-Id"] == "o"
                issue = r.json()["issue"][0]
                assert issue["code"] == "transient"
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["Retry-After"].isdigit()
        # Back: the pool reconnects, nothing acknowledged was lost, the refused write left no trace.
        assert client.get("/readyz").status_code == 200
        assert client.get(f"/fhir/Patient/{pid}").status_code == 200
        assert client.get("/fhir/Patient/_history").json()["total"] == 1
