"""SMART Backend Services: client_credentials with a JWT assertion signed in the test (RS384 and
ES384), from a registered JWKS or a JWKS URL; expiry, audience, signature and jti replay checks.

Spec: https://hl7.org/fhir/smart-app-launch/STU2.1/backend-services.html
("Authenticating to the Token endpoint", "Obtain access token"), RFC 7523.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from fhir_server.auth.bearer import authenticate
from fhir_server.auth.smart import build_token_service
from fhir_server.auth.store import add_client
from fhir_server.core.errors import FhirError
from fhir_server.settings import Settings

from .conftest import BASE, FORM, TOKEN_URL, Smart

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _key(alg: str) -> Any:
    if alg == "RS384":
        return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": alg})
    return ECKey.generate_key("P-384", parameters={"kid": "ec-1", "alg": alg})


def _assertion(key: Any, alg: str, client_id: str, **override: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "jti": uuid.uuid4().hex,
    }
    claims.update(override)
    header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[alg])


def _token(
    smart: Smart, assertion: str, scope: str = "system/Patient.rs system/Observation.read"
) -> Any:
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return smart.client.post("/auth/token", data=form, headers=FORM)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_client_credentials_with_registered_jwks(smart: Smart, alg: str) -> None:
    key = _key(alg)
    add_client(
        smart.database, "backend", scope="system/*.rs", jwks={"keys": [key.as_dict(private=False)]}
    )
    r = _token(
        smart,
        _assertion(key, alg, "backend"),
        "system/Patient.rs system/Observation.read user/*.rs",
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    assert body["scope"].split() == ["system/Patient.rs", "system/Observation.read"]
    verifier = build_token_service(Settings(base_url=BASE), smart.database, _server_keys(smart))
    principal = authenticate(f"Bearer {body['access_token']}", verifier)
    assert principal.kind == "system" and principal.client_id == "backend"


def _server_keys(smart: Smart) -> Any:
    from fhir_server.auth.tokens import SigningKeys

    return SigningKeys.load_or_create(smart.store)


def test_client_credentials_with_jwks_url(smart: Smart) -> None:
    key = _key("ES384")
    url = "https://backend.example/.well-known/jwks.json"
    smart.jwks_documents[url] = {"keys": [key.as_dict(private=False)]}
    add_client(smart.database, "remote", scope="system/*.rs", jwks_url=url)
    r = _token(smart, _assertion(key, "ES384", "remote"))
    assert r.status_code == 200, r.text


def test_assertion_checks(smart: Smart) -> None:
    key = _key("RS384")
    add_client(
        smart.database, "backend", scope="system/*.rs", jwks={"keys": [key.as_dict(private=False)]}
    )
    replayed = _assertion(key, "RS384", "backend")
    assert _token(smart, replayed).status_code == 200
    cases = {
        "replayed jti": replayed,
        "exp beyond five minutes": _assertion(key, "RS384", "backend", exp=int(time.time()) + 900),
        "expired": _assertion(key, "RS384", "backend", exp=int(time.time()) - 10),
        "wrong audience": _assertion(key, "RS384", "backend", aud="https://other.example/token"),
        "unknown client": _assertion(key, "RS384", "nobody"),
        "signed by another key": _assertion(_key("RS384"), "RS384", "backend"),
        "not a JWT": "not.a.jwt",
    }
    for name, assertion in cases.items():
        r = _token(smart, assertion)
        assert r.status_code == 401, name
        assert r.json()["error"] == "invalid_client", name


def test_scope_outside_registration_is_refused(smart: Smart) -> None:
    key = _key("RS384")
    add_client(
        smart.database,
        "backend",
        scope="system/Patient.rs",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    r = _token(smart, _assertion(key, "RS384", "backend"), "system/Observation.rs")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_public_client_cannot_use_client_credentials(smart: Smart) -> None:
    r = smart.client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": "app"}, headers=FORM
    )
    assert r.status_code in (400, 401)


def test_bearer_errors(smart: Smart) -> None:
    verifier = build_token_service(Settings(base_url=BASE), smart.database, _server_keys(smart))
    for header in (None, "Basic abc", "Bearer", "Bearer not-a-token"):
        with pytest.raises(FhirError) as info:
            authenticate(header, verifier)
        assert info.value.status == 401
        assert info.value.headers["WWW-Authenticate"].startswith("Bearer ")


def test_client_bound_to_an_organization_carries_it_in_its_tokens(smart: Smart, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`jiayi clients add --organization ID`: the token names the Organization the client acts
    for, so residents' Consents naming that Organization apply to it."""
    import json

    from typer.testing import CliRunner

    from fhir_server.cli import app as cli

    key = _key("ES384")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}), encoding="utf-8")
    url = str(smart.database.engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(
        cli,
        ["clients", "add", "--client-id", "hospital", "--scope", "system/*.rs",
         "--jwks-file", str(jwks), "--organization", "hosp", "--database-url", url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Organization/hosp" in result.output
    assert smart.store.client("hospital").organization == "hosp"  # type: ignore[union-attr]
    r = _token(smart, _assertion(key, "ES384", "hospital"), "system/Patient.rs")
    assert r.status_code == 200, r.text
    verifier = build_token_service(Settings(base_url=BASE), smart.database, _server_keys(smart))
    principal = authenticate(f"Bearer {r.json()['access_token']}", verifier)
    assert principal.organization == "hosp"
    bad = CliRunner().invoke(
        cli,
        ["clients", "add", "--client-id", "x", "--scope", "system/*.rs", "--jwks-file",
         str(jwks), "--organization", "not an id", "--database-url", url],
    )  # fmt: skip
    assert bad.exit_code == 1
