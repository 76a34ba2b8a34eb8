"""A real SMART app — the Python `fhirclient` library — launches standalone against a live
`jiayi serve` process (uvicorn) as a resident and as a doctor, on both databases (issue 5, "done
when").  The doctor's picked patient must exist and be one of their contracted residents."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fhir_server.auth.store import add_client, add_user
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from tests.support.access_world import DELETED, RESOURCES

from .conftest import hidden_fields

fhirclient = pytest.importorskip("fhirclient.client", reason="fhirclient is a test dependency")
REDIRECT = "http://127.0.0.1:9/callback"  # never opened: the test reads the redirect itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[str]:
    from fhir_server.app import build_components

    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    settings = Settings(database_url=database_url, base_url=base, background_tasks=False)
    components = build_components(settings)
    components.database.upgrade()  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(base, system_name="test-setup"), components)
    for resource in RESOURCES:
        repo.update(resource["resourceType"], resource["id"], resource)
    for rid in DELETED:
        repo.delete("Observation", rid)
    db = components.database
    add_client(db, "fhirclient-app", redirect_uris=[REDIRECT],
               scope="openid fhirUser launch/patient patient/*.read user/*.read")  # fmt: skip
    add_user(db, "chen", "resident-pass-1", patient="a")
    add_user(db, "dr.wang", "doctor-pass-1", practitioner="d1", role="doctor")
    db.dispose()
    env = {**os.environ, "JIAYI_DATABASE_URL": database_url, "JIAYI_BACKGROUND_TASKS": "false"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "fhir_server", "serve", "--port", str(port), "--base-url", base],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # `jiayi serve` migrates and seeds the guide first
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "server.log").read_text())
        else:
            raise AssertionError("server did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _app(base: str, scope: str):  # type: ignore[no-untyped-def]
    settings = {
        "app_id": "fhirclient-app",
        "api_base": base,
        "redirect_uri": REDIRECT,
        "scope": scope,
    }
    return fhirclient.FHIRClient(settings=settings)


def _sign_in(url: str, username: str, password: str, patient: str | None = None) -> httpx.Response:
    """What the user does in the browser: open the authorize URL, sign in, approve."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        action = url.split("?", 1)[0]
        login = {**hidden_fields(page.text), "username": username, "password": password}
        approval = browser.post(action, data=login)
        assert approval.status_code == 200, approval.text
        decision = {**hidden_fields(approval.text), "decision": "approve"}
        if patient is not None:
            decision["patient"] = patient
        return browser.post(action, data=decision)


def test_resident_launches_standalone_with_fhirclient(live: str) -> None:
    from fhirclient.models.observation import Observation

    app = _app(live, "openid fhirUser launch/patient patient/*.read")
    redirect = _sign_in(app.authorize_url, "chen", "resident-pass-1")
    assert redirect.status_code == 302
    app.handle_callback(redirect.headers["location"])
    assert app.ready and app.patient_id == "a"
    assert app.patient.name[0].family == "陈"
    observations = list(Observation.where({"_count": "50"}).perform_resources_iter(app.server))
    assert sorted(o.id for o in observations) == ["oa", "oa2", "oa3"]
    with pytest.raises(Exception):  # noqa: B017 - fhirclient raises a plain HTTP error
        from fhirclient.models.patient import Patient

        Patient.read("b", app.server)


def test_doctor_launches_standalone_and_picks_a_contracted_resident(live: str) -> None:
    app = _app(live, "openid fhirUser launch/patient patient/*.read")
    url = app.authorize_url
    for refused in ("b", "no-such-resident"):
        r = _sign_in(url, "dr.wang", "doctor-pass-1", patient=refused)
        assert r.status_code == 400 and "ticket" in r.text
    redirect = _sign_in(url, "dr.wang", "doctor-pass-1", patient="a")
    assert redirect.status_code == 302, redirect.text
    app.handle_callback(redirect.headers["location"])
    assert app.patient_id == "a"
    assert app.patient.birthDate.isostring == "1950-02-03"
