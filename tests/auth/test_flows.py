"""SMART App Launch 2.x black-box flows over HTTP: discovery, authorization code + PKCE (standalone
and EHR launch, resident and practitioner), refresh rotation, introspection, revocation.

Spec: https://hl7.org/fhir/smart-app-launch/STU2.1/app-launch.html, conformance.html,
RFC 7636, RFC 7662, RFC 7009.
"""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import BASE, FORM, REDIRECT, Smart, hidden_fields, pkce_pair, redirect_query


def test_smart_configuration_has_every_required_field(smart: Smart) -> None:
    r = smart.client.get("/fhir/.well-known/smart-configuration")
    assert r.status_code == 200
    doc = r.json()
    for name in ("issuer", "jwks_uri", "authorization_endpoint", "token_endpoint", "grant_types_supported",
                 "capabilities", "code_challenge_methods_supported", "introspection_endpoint",
                 "revocation_endpoint", "token_endpoint_auth_methods_supported", "scopes_supported"):  # fmt: skip
        assert name in doc, name
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint"] == "http://testserver/auth/token"
    assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
        doc["grant_types_supported"]
    )
    assert {"sso-openid-connect", "launch-ehr", "launch-standalone", "client-confidential-asymmetric",
            "permission-v1", "permission-v2", "authorize-post", "context-standalone-patient"} <= set(doc["capabilities"])  # fmt: skip
    assert {"RS384", "ES384"} <= set(doc["token_endpoint_auth_signing_alg_values_supported"])
    oidc = smart.client.get("/fhir/.well-known/openid-configuration").json()
    assert oidc["issuer"] == doc["issuer"] == BASE


def test_resident_standalone_launch_gets_own_patient_and_id_token(smart: Smart) -> None:
    query, verifier = smart.code_flow(
        "li.hua",
        "resident-pass",
        "openid fhirUser launch/patient offline_access patient/*.rs",
        nonce="n-1",
    )
    assert query["state"] == "st-1" and "code" in query
    r = smart.exchange(query["code"], verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["patient"] == "p1"
    assert set(body["scope"].split()) == {
        "openid",
        "fhirUser",
        "launch/patient",
        "offline_access",
        "patient/*.rs",
    }
    assert body["refresh_token"]
    keys = KeySet.import_key_set(smart.client.get("/auth/jwks").json())
    id_token = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    assert id_token["fhirUser"] == f"{BASE}/Patient/p1"
    assert id_token["aud"] == "app" and id_token["iss"] == BASE and id_token["nonce"] == "n-1"
    again = smart.exchange(query["code"], verifier)  # codes are single use
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_practitioner_picks_the_patient(smart: Smart) -> None:
    verifier, challenge = pkce_pair()
    page = smart.authorize(client_id="app", scope="launch/patient patient/Observation.rs user/*.cruds",
                           code_challenge=challenge, code_challenge_method="S256")  # fmt: skip
    approval = smart.login(page, "dr.wang", "doctor-pass")
    assert 'name="patient"' in approval.text
    assert "读取" in approval.text and "read" in approval.text  # scopes in Chinese with English
    missing = smart.decide(approval, "approve")
    assert missing.status_code == 400
    query = redirect_query(smart.decide(approval, "approve", patient="p7"))
    body = smart.exchange(query["code"], verifier).json()
    assert body["patient"] == "p7"
    assert "patient/Observation.rs" in body["scope"].split()


def test_practitioner_without_patient_gets_no_patient_scopes(smart: Smart) -> None:
    query, verifier = smart.code_flow("dr.wang", "doctor-pass", "patient/*.rs user/*.cruds")
    body = smart.exchange(query["code"], verifier).json()
    assert "patient" not in body
    assert body["scope"].split() == ["user/*.cruds"]


def test_deny_redirects_access_denied(smart: Smart) -> None:
    verifier, challenge = pkce_pair()
    page = smart.authorize(
        client_id="app",
        scope="patient/*.rs",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    query = redirect_query(smart.decide(smart.login(page, "li.hua", "resident-pass"), "deny"))
    assert query == {
        "error": "access_denied",
        "error_description": "the user denied access",
        "state": "st-1",
    }


def test_authorize_request_errors(smart: Smart) -> None:
    _, challenge = pkce_pair()
    no_pkce = redirect_query(smart.authorize(client_id="app", scope="patient/*.rs"))
    assert no_pkce["error"] == "invalid_request"
    plain = redirect_query(smart.authorize(client_id="app", scope="patient/*.rs", code_challenge="x" * 43,
                                           code_challenge_method="plain"))  # fmt: skip
    assert plain["error"] == "invalid_request"
    wrong_aud = redirect_query(smart.authorize(client_id="app", scope="patient/*.rs", aud="https://evil.example/fhir",
                                               code_challenge=challenge, code_challenge_method="S256"))  # fmt: skip
    assert wrong_aud["error"] == "invalid_request"
    unknown = smart.client.get(
        "/auth/authorize", params={"client_id": "nope", "redirect_uri": REDIRECT}
    )
    assert unknown.status_code == 400 and "location" not in unknown.headers
    bad_redirect = smart.authorize(
        client_id="app", scope="patient/*.rs", redirect_uri="https://evil.example/cb"
    )
    assert bad_redirect.status_code == 400 and "location" not in bad_redirect.headers


def test_wrong_code_verifier_is_refused(smart: Smart) -> None:
    query, _verifier = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    r = smart.exchange(query["code"], "x" * 50)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_post_authorize_and_ehr_launch(smart: Smart) -> None:
    launch = smart.store.add_launch({"patient": "p9", "encounter": "e1"})
    page = smart.client.post("/auth/authorize", headers=FORM, data={
        "response_type": "code", "client_id": "ehr-app", "redirect_uri": REDIRECT, "aud": BASE,
        "scope": "launch openid fhirUser patient/*.read", "state": "s2", "launch": launch})  # fmt: skip
    approval = smart.login(page, "dr.wang", "doctor-pass")
    assert 'name="patient"' not in approval.text
    query = redirect_query(smart.decide(approval, "approve"))
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT}
    bad = smart.client.post("/auth/token", data=form, headers=FORM, auth=("ehr-app", "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    r = smart.client.post("/auth/token", data=form, headers=FORM, auth=("ehr-app", "s3cret-value"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patient"] == "p9" and body["encounter"] == "e1" and "id_token" in body
    assert "refresh_token" not in body


def test_refresh_rotation_and_reuse_detection(smart: Smart) -> None:
    query, verifier = smart.code_flow("li.hua", "resident-pass", "online_access patient/*.rs")
    first = smart.exchange(query["code"], verifier).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first, "client_id": "app"}
    r = smart.client.post("/auth/token", data=form, headers=FORM)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()["refresh_token"]
    assert second != first and r.json()["patient"] == "p1"
    reused = smart.client.post("/auth/token", data=form, headers=FORM)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # reuse of a rotated token revokes the whole family, the newest token included
    again = smart.client.post("/auth/token", data={**form, "refresh_token": second}, headers=FORM)
    assert again.status_code == 400


def test_introspection_and_revocation(smart: Smart) -> None:
    query, verifier = smart.code_flow("li.hua", "resident-pass", "offline_access patient/*.rs")
    tokens = smart.exchange(query["code"], verifier).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    server = ("ehr-app", "s3cret-value")  # a confidential client acting as resource server

    def introspect(token: str, **kw: object) -> httpx.Response:
        return smart.client.post("/auth/introspect", data={"token": token}, headers=FORM, **kw)  # type: ignore[arg-type]

    info = introspect(access, auth=server).json()
    assert info["active"] is True and info["scope"] == tokens["scope"] and info["patient"] == "p1"
    assert info["client_id"] == "app" and info["exp"] > 0
    bad = introspect("garbage", auth=server)
    assert bad.status_code == 200 and bad.json() == {"active": False}
    assert introspect(refresh, auth=server).json()["active"] is True
    # Introspection is for confidential clients and resource servers only: not for a public
    # client, not with a user's own bearer token, not anonymously.
    public = smart.client.post(
        "/auth/introspect", data={"token": access, "client_id": "app"}, headers=FORM
    )
    assert public.status_code == 401 and public.json()["error"] == "invalid_client"
    user_bearer = smart.client.post(
        "/auth/introspect", data={"token": access},
        headers={"Authorization": f"Bearer {access}", **FORM},
    )  # fmt: skip
    assert user_bearer.status_code == 401
    assert introspect(access).status_code == 401
    # Revoking the refresh token revokes the access tokens issued with it.
    r = smart.client.post("/auth/revoke", data={"token": refresh, "client_id": "app"}, headers=FORM)
    assert r.status_code == 200
    assert introspect(refresh, auth=server).json() == {"active": False}
    assert introspect(access, auth=server).json() == {"active": False}
    # An access token can be revoked on its own too.
    again, verifier2 = smart.code_flow("li.hua", "resident-pass", "patient/*.rs")
    second = smart.exchange(again["code"], verifier2).json()["access_token"]
    assert introspect(second, auth=server).json()["active"] is True
    r = smart.client.post("/auth/revoke", data={"token": second, "client_id": "app"}, headers=FORM)
    assert r.status_code == 200 and introspect(second, auth=server).json() == {"active": False}


def test_login_throttling(smart: Smart) -> None:
    page = smart.authorize(client_id="app", scope="patient/*.rs", code_challenge=pkce_pair()[1],
                           code_challenge_method="S256")  # fmt: skip
    for _ in range(5):
        failed = smart.login(page, "li.hua", "wrong-password")
        assert failed.status_code == 401 and 'name="password"' in failed.text
    blocked = smart.login(page, "li.hua", "resident-pass")
    assert blocked.status_code == 429
    assert "ticket" not in hidden_fields(blocked.text)


def test_bad_grant_type_and_form(smart: Smart) -> None:
    r = smart.client.post("/auth/token", data={"grant_type": "password"}, headers=FORM)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert r.headers["cache-control"] == "no-store"
    r = smart.client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
