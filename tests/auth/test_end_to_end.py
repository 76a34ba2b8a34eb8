"""End to end on the real application (`create_app`), both databases: the login flow → token →
FHIR calls; the patient picker asks the gate; CORS; the authorisation server's events in the
audit trail; and no password, secret, code or token in any log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server.auth.store import add_client, add_user
from tests.support.access_world import World, bundle_ids, make_world

from .conftest import FORM, REDIRECT, Smart, pkce_pair, redirect_query

SECRET = "s3cret-value-Xy9"
PASSWORDS = {"chen": "resident-pass-1", "dr.wang": "doctor-pass-1"}


@pytest.fixture
def app_world(database_url: str) -> Iterator[tuple[World, Smart]]:
    for world in make_world(database_url):
        db = world.client.app.state.components.database  # type: ignore[attr-defined]
        add_client(db, "app", redirect_uris=[REDIRECT],
                   scope="openid fhirUser launch/patient offline_access patient/*.rs user/*.cruds")  # fmt: skip
        add_client(db, "server", scope="system/*.rs", secret=SECRET, redirect_uris=[REDIRECT])
        add_user(db, "chen", PASSWORDS["chen"], patient="a")
        add_user(db, "dr.wang", PASSWORDS["dr.wang"], practitioner="d1", role="doctor")
        world.client.follow_redirects = False
        from fhir_server.auth.store import AuthStore

        yield world, Smart(world.client, AuthStore(db.engine), db, {})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_resident_logs_in_and_reads_only_their_record(app_world: tuple[World, Smart]) -> None:
    world, smart = app_world
    query, verifier = smart.code_flow(
        "chen", PASSWORDS["chen"], "openid fhirUser launch/patient patient/*.rs"
    )
    body = smart.exchange(query["code"], verifier).json()
    assert body["patient"] == "a"
    h = _bearer(body["access_token"])
    assert world.client.get("/fhir/Patient/a", headers=h).status_code == 200
    assert world.client.get("/fhir/Patient/b", headers=h).status_code == 404
    own = world.client.get("/fhir/Observation", params={"_total": "accurate"}, headers=h).json()
    assert bundle_ids(own) == ["oa", "oa2", "oa3"] and own["total"] == 3
    assert world.client.get("/fhir/Contract/c1", headers=h).status_code == 200  # own contract


def test_doctor_picks_only_a_contracted_resident(app_world: tuple[World, Smart]) -> None:
    world, smart = app_world
    verifier, challenge = pkce_pair()
    page = smart.authorize(client_id="app", scope="launch/patient patient/*.rs",
                           code_challenge=challenge, code_challenge_method="S256")  # fmt: skip
    approval = smart.login(page, "dr.wang", PASSWORDS["dr.wang"])
    for patient in ("b", "nobody"):  # not contracted / does not exist: the same answer
        refused = smart.decide(approval, "approve", patient=patient)
        assert refused.status_code == 400 and "ticket" in refused.text
    query = redirect_query(smart.decide(approval, "approve", patient="a"))
    body = smart.exchange(query["code"], verifier).json()
    assert body["patient"] == "a"
    h = _bearer(body["access_token"])
    assert world.client.get("/fhir/Observation/oa", headers=h).status_code == 200
    assert world.client.get("/fhir/Observation/ob", headers=h).status_code == 404


def test_cors_for_browser_apps(app_world: tuple[World, Smart]) -> None:
    world, _ = app_world
    preflight = world.client.options(
        "/fhir/Patient/a",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://app.example")
    token = world.client.options(
        "/auth/token",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert token.status_code == 200
    meta = world.client.get("/fhir/metadata", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" in meta.headers
    assert meta.json()["rest"][0]["security"]["cors"] is True


def test_cors_can_be_switched_off(database_url: str) -> None:
    for world in make_world(database_url, cors_origins=[]):
        r = world.client.get("/fhir/metadata", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in r.headers
        assert r.json()["rest"][0]["security"]["cors"] is False


def _auth_events(world: World) -> list[dict[str, Any]]:
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]
    auditor = world.headers(
        "user/AuditEvent.rs", kind="user", role="auditor", fhir_user="Practitioner/aud"
    )
    bundle = world.client.get(
        "/fhir/AuditEvent", params={"type": "110114", "_count": "200"}, headers=auditor
    ).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def test_the_authorisation_server_is_audited(app_world: tuple[World, Smart]) -> None:
    world, smart = app_world
    page = smart.authorize(client_id="app", scope="patient/*.rs", code_challenge=pkce_pair()[1],
                           code_challenge_method="S256")  # fmt: skip
    for _ in range(5):
        smart.login(page, "chen", "wrong-password")
    assert smart.login(page, "chen", PASSWORDS["chen"]).status_code == 429
    bad = smart.client.post("/auth/token", data={"grant_type": "client_credentials",
                            "scope": "system/*.rs"}, headers=FORM, auth=("server", "nope"))  # fmt: skip
    assert bad.status_code == 401
    query, verifier = smart.code_flow("dr.wang", PASSWORDS["dr.wang"], "offline_access user/*.rs")
    tokens = smart.exchange(query["code"], verifier).json()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "app"}  # fmt: skip
    assert smart.client.post("/auth/token", data=form, headers=FORM).status_code == 200
    assert smart.client.post("/auth/token", data=form, headers=FORM).status_code == 400  # reuse
    events = _auth_events(world)
    seen = {(e["outcomeDesc"].split(" (")[0].split(":")[0], e["outcome"]) for e in events}
    assert ("HTTP 401 login", "4") in seen
    assert ("HTTP 429 login-throttled", "4") in seen
    assert ("HTTP 401 invalid-client", "4") in seen
    assert ("HTTP 200 login", "0") in seen
    assert ("HTTP 200 token", "0") in seen
    assert ("HTTP 400 refresh-reuse", "4") in seen
    failed = next(e for e in events if e["outcomeDesc"].startswith("HTTP 401 login"))
    assert failed["agent"][0]["altId"] == "chen" and failed["agent"][0]["network"]["address"]
    issued = next(e for e in events if e["outcomeDesc"].startswith("HTTP 200 token"))
    assert issued["agent"][0]["who"] == {"reference": "Practitioner/d1"}


def test_no_secret_in_any_log_line(
    app_world: tuple[World, Smart], caplog: pytest.LogCaptureFixture
) -> None:
    world, smart = app_world
    caplog.set_level(logging.DEBUG)
    query, verifier = smart.code_flow(
        "chen", PASSWORDS["chen"], "offline_access patient/*.rs", state="st-1"
    )
    tokens = smart.exchange(query["code"], verifier).json()
    smart.client.get(
        "/auth/authorize", params={"client_id": "app", "password": PASSWORDS["dr.wang"]}
    )  # refused: credentials only by POST — and the query string is not logged either
    smart.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=FORM,
                      auth=("server", SECRET))  # fmt: skip
    smart.client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": "app",
                      "refresh_token": tokens["refresh_token"]}, headers=FORM)  # fmt: skip
    world.client.get("/fhir/Patient/a", headers=_bearer(tokens["access_token"]))
    world.client.app.state.components.audit.close()  # type: ignore[attr-defined]
    secrets = [*PASSWORDS.values(), SECRET, query["code"], verifier, tokens["access_token"],
               tokens["refresh_token"]]  # fmt: skip
    # The server's log lines (the test's own HTTP client logs the URLs it requests: not ours).
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in ours)
    assert any(r.name == "jiayi.access" for r in ours), "the access log should have written"
    for secret in secrets:
        assert secret not in text
