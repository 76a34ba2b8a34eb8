"""The Inferno-checked details and the hardening of the authorisation server (issue 5, gaps 5,
6, 7 and 10), over HTTP on both databases: client_assertion_type, POST-only credentials,
anti-framing, redirect_uri at the token endpoint, refresh reuse revoking access tokens, EHR
launches (single use, bound to the app and the user, a resident never taking another's) and
configurable lifetimes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fhir_server.auth.smart import build_smart_router
from fhir_server.auth.smart.config import SmartConfig
from fhir_server.auth.store import AuthStore, add_client, add_user
from fhir_server.auth.tokens import SigningKeys
from fhir_server.settings import Settings
from fhir_server.storage.sql import SqlDatabase

from .conftest import BASE, FORM, REDIRECT, Smart, hidden_fields, pkce_pair, redirect_query

LAUNCH_URL = "https://app.example/launch"


def _ehr_launch(smart: Smart, launch: str, username: str, password: str) -> dict[str, str]:
    page = smart.client.post("/auth/authorize", headers=FORM, data={
        "response_type": "code", "client_id": "ehr-app", "redirect_uri": REDIRECT, "aud": BASE,
        "scope": "launch openid fhirUser patient/*.read", "state": "s", "launch": launch})  # fmt: skip
    if page.status_code == 302:  # refused before login (unknown, used or expired launch)
        return redirect_query(page)
    approval = smart.login(page, username, password)
    if approval.status_code != 200:
        return {"status": str(approval.status_code), "text": approval.text}
    return redirect_query(smart.decide(approval, "approve"))


def _basic_token(smart: Smart, code: str) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    r = smart.client.post("/auth/token", data=form, headers=FORM, auth=("ehr-app", "s3cret-value"))
    assert r.status_code == 200, r.text
    return r.json()


def test_bad_client_assertion_type_is_400(smart: Smart) -> None:
    form = {
        "grant_type": "client_credentials",
        "scope": "system/*.rs",
        "client_assertion_type": "urn:example:not-a-jwt-bearer",
        "client_assertion": "a.b.c",
    }
    r = smart.client.post("/auth/token", data=form, headers=FORM)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("field", ["username", "password", "ticket", "decision"])
def test_credentials_only_in_a_post_body(smart: Smart, field: str) -> None:
    r = smart.authorize(client_id="app", scope="patient/*.rs", **{field: "x"})
    assert r.status_code == 400 and "location" not in r.headers
    assert "POST" in r.text


def test_pages_cannot_be_framed_or_cached(smart: Smart) -> None:
    _, challenge = pkce_pair()
    login = smart.authorize(client_id="app", scope="patient/*.rs", code_challenge=challenge,
                            code_challenge_method="S256")  # fmt: skip
    approval = smart.login(login, "li.hua", "resident-pass")
    for r in (login, approval, smart.client.get("/auth/authorize", params={"client_id": "nope"})):
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"


def test_redirect_uri_is_required_at_the_token_endpoint_when_sent(smart: Smart) -> None:
    query, verifier = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    form = {"grant_type": "authorization_code", "code": query["code"], "client_id": "app",
            "code_verifier": verifier}  # fmt: skip
    r = smart.client.post("/auth/token", data=form, headers=FORM)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # Not sent at authorize (the client has one registered URI): not needed at the token endpoint.
    verifier, challenge = pkce_pair()
    page = smart.client.get("/auth/authorize", params={
        "response_type": "code", "client_id": "app", "aud": BASE, "scope": "patient/*.rs",
        "code_challenge": challenge, "code_challenge_method": "S256", "state": "x"})  # fmt: skip
    code = redirect_query(smart.decide(smart.login(page, "li.hua", "resident-pass"), "approve"))
    form = {"grant_type": "authorization_code", "code": code["code"], "client_id": "app",
            "code_verifier": verifier}  # fmt: skip
    assert smart.client.post("/auth/token", data=form, headers=FORM).status_code == 200


def test_refresh_reuse_revokes_the_access_tokens_too(smart: Smart) -> None:
    from fhir_server.auth.tokens import InvalidToken, TokenService

    tokens = TokenService(SigningKeys.load_or_create(smart.store), BASE, 900, smart.store)
    query, verifier = smart.code_flow("li.hua", "resident-pass", "offline_access patient/*.rs")
    first = smart.exchange(query["code"], verifier).json()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "app"}  # fmt: skip
    second = smart.client.post("/auth/token", data=form, headers=FORM).json()
    tokens.verify(second["access_token"])
    replay = smart.client.post("/auth/token", data=form, headers=FORM)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    for access in (first["access_token"], second["access_token"]):
        with pytest.raises(InvalidToken):
            tokens.verify(access)


def test_ehr_launch_is_single_use_and_bound(smart: Smart) -> None:
    launch = smart.store.add_launch({"patient": "p9"}, client_id="ehr-app", username="dr.wang")
    assert smart.store.launch(launch, "app") is None  # another app cannot use it
    query = _ehr_launch(smart, launch, "dr.wang", "doctor-pass")
    assert _basic_token(smart, query["code"])["patient"] == "p9"
    again = _ehr_launch(smart, launch, "dr.wang", "doctor-pass")
    assert again.get("status") is None and again["error"] == "invalid_request"  # used
    # started by dr.wang: nobody else may take it
    add_user(smart.database, "dr.li", "doctor-pass-2", practitioner="d2", role="doctor")
    other = smart.store.add_launch({"patient": "p9"}, client_id="ehr-app", username="dr.wang")
    taken = _ehr_launch(smart, other, "dr.li", "doctor-pass-2")
    assert taken["status"] == "403"


def test_resident_cannot_take_a_launch_naming_another_resident(smart: Smart) -> None:
    launch = smart.store.add_launch({"patient": "p9"}, client_id="ehr-app")
    refused = _ehr_launch(smart, launch, "li.hua", "resident-pass")
    assert refused["status"] == "403"
    own = smart.store.add_launch({"patient": "p1"}, client_id="ehr-app")
    assert "code" in _ehr_launch(smart, own, "li.hua", "resident-pass")


def test_expired_launch_is_refused(smart: Smart) -> None:
    launch = smart.store.add_launch({"patient": "p9"}, lifetime=-1, client_id="ehr-app")
    assert _ehr_launch(smart, launch, "dr.wang", "doctor-pass")["error"] == "invalid_request"


def test_post_auth_launch_starts_an_ehr_launch(smart: Smart) -> None:
    add_client(smart.database, "no-launch", scope="openid user/*.rs", redirect_uris=[REDIRECT])
    query, verifier = smart.code_flow("dr.wang", "doctor-pass", "user/*.rs", client_id="app")
    staff = smart.exchange(query["code"], verifier).json()["access_token"]
    headers = {"Authorization": f"Bearer {staff}", **FORM}
    form = {"client_id": "ehr-app", "patient": "p9", "launch_uri": LAUNCH_URL}
    r = smart.client.post("/auth/launch", data=form, headers=headers)
    assert r.status_code == 303, r.text
    target = urlsplit(r.headers["location"])
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == LAUNCH_URL
    assert params["iss"] == BASE and params["launch"]
    done = _ehr_launch(smart, params["launch"], "dr.wang", "doctor-pass")
    assert _basic_token(smart, done["code"])["patient"] == "p9"
    # refusals: no token, a resident's token, a foreign launch URL, an app without `launch`
    assert smart.client.post("/auth/launch", data=form, headers=FORM).status_code == 401
    res_query, res_verifier = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    resident = smart.exchange(res_query["code"], res_verifier).json()["access_token"]
    r = smart.client.post("/auth/launch", data=form,
                          headers={"Authorization": f"Bearer {resident}", **FORM})  # fmt: skip
    assert r.status_code == 403
    evil = {**form, "launch_uri": "https://evil.example/launch"}
    assert smart.client.post("/auth/launch", data=evil, headers=headers).status_code == 400
    no_launch = {**form, "client_id": "no-launch", "launch_uri": "https://app.example/launch"}
    add = smart.client.post("/auth/launch", data=no_launch, headers=headers)
    assert add.status_code == 400 and "launch" in add.json()["error_description"]


def test_jiayi_launch_prints_the_launch_url(smart: Smart) -> None:
    from typer.testing import CliRunner

    from fhir_server.cli import app as cli

    url = smart.database.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, [
        "launch", "--client-id", "ehr-app", "--username", "dr.wang", "--patient", "p9",
        "--launch-uri", LAUNCH_URL, "--base-url", BASE, "--database-url", url])  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = urlsplit(result.output.strip())
    params = {k: v[0] for k, v in parse_qs(printed.query).items()}
    assert params["iss"] == BASE
    assert smart.store.launch(params["launch"], "ehr-app")["patient"] == "p9"  # type: ignore[index]
    resident = CliRunner().invoke(cli, [
        "launch", "--client-id", "ehr-app", "--username", "li.hua", "--launch-uri", LAUNCH_URL,
        "--database-url", url])  # fmt: skip
    assert resident.exit_code == 1


def test_lifetimes_come_from_settings() -> None:
    settings = Settings(
        base_url=BASE,
        access_token_lifetime=120,
        refresh_token_lifetime=3600,
        online_refresh_lifetime=600,
        code_lifetime=30,
        launch_lifetime=90,
        login_failures_allowed=3,
        login_failure_window=300,
        cors_origins=[],
    )
    config = SmartConfig.from_settings(settings)
    assert (config.access_token_lifetime, config.offline_lifetime, config.online_lifetime) == (
        120,
        3600,
        600,
    )
    assert (config.code_lifetime, config.launch_lifetime) == (30, 90)
    assert (config.login_failures_allowed, config.login_failure_window) == (3, 300)
    assert config.cors is False


@pytest.fixture
def short_lived(database_url: str) -> Iterator[Smart]:
    settings = Settings(
        database_url=database_url, base_url=BASE, access_token_lifetime=120, code_lifetime=5,
        login_failures_allowed=2,
    )  # fmt: skip
    db = SqlDatabase(database_url)
    store = AuthStore(db.engine)
    app = FastAPI()
    app.include_router(build_smart_router(settings, db, SigningKeys.load_or_create(store)))
    add_client(db, "app", scope="patient/*.rs", redirect_uris=[REDIRECT])
    add_user(db, "li.hua", "resident-pass", patient="p1")
    with TestClient(app, follow_redirects=False) as client:
        yield Smart(client, store, db, {})
    db.dispose()


def test_configured_lifetimes_and_throttle_apply(short_lived: Smart) -> None:
    smart = short_lived
    query, verifier = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    body = smart.exchange(query["code"], verifier).json()
    assert body["expires_in"] == 120
    stale, stale_verifier = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    time.sleep(6)
    late = smart.exchange(stale["code"], stale_verifier)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    page = smart.authorize(client_id="app", scope="patient/*.rs", code_challenge=pkce_pair()[1],
                           code_challenge_method="S256")  # fmt: skip
    for _ in range(2):
        assert smart.login(page, "li.hua", "wrong").status_code == 401
    blocked = smart.login(page, "li.hua", "resident-pass")
    assert blocked.status_code == 429 and "ticket" not in hidden_fields(blocked.text)
