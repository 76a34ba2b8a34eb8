"""The SMART router mounted in the real application (`create_app`), the `jiayi clients/users add`
commands, and bearer verification of expired tokens.

Spec: SMART App Launch 2.x "Conformance" (discovery under the FHIR base); INTERFACE.md (CLI options).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from typer.testing import CliRunner

from fhir_server.app import create_app
from fhir_server.auth.bearer import authenticate
from fhir_server.auth.cli import clients_app, users_app
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import parse_scopes
from fhir_server.auth.smart import build_smart_router
from fhir_server.auth.store import AuthStore
from fhir_server.auth.tokens import SigningKeys, TokenService
from fhir_server.core.clock import FixedClock
from fhir_server.core.errors import FhirError
from fhir_server.settings import Settings
from fhir_server.storage.sql import SqlDatabase

from .conftest import BASE


def test_smart_router_in_the_full_app(database_url: str) -> None:
    settings = Settings(database_url=database_url, base_url=BASE)
    app = create_app(settings)
    db = app.state.components.database
    keys = SigningKeys.deferred(AuthStore(db.engine))  # loaded on first use, after migration
    # SMART routes must come before the FHIR catch-all `/fhir/{path:path}`.
    app.router.routes[0:0] = build_smart_router(settings, db, keys).routes
    with TestClient(app) as client:
        doc = client.get("/fhir/.well-known/smart-configuration").json()
        assert doc["issuer"] == BASE and doc["code_challenge_methods_supported"] == ["S256"]
        assert client.get("/auth/jwks").json()["keys"][0]["kid"] == keys.current.kid
        assert client.get("/fhir/metadata").status_code == 200


def test_keys_are_shared_between_workers(database_url: str) -> None:
    db = SqlDatabase(database_url)
    first = SigningKeys.load_or_create(AuthStore(db.engine))
    second = SigningKeys.load_or_create(AuthStore(db.engine))
    assert first.jwks() == second.jwks()
    db.dispose()


def test_expired_token_gives_401(database_url: str) -> None:
    db = SqlDatabase(database_url)
    store = AuthStore(db.engine)
    keys = SigningKeys.load_or_create(store)
    issued_at = datetime.now(UTC) - timedelta(hours=1)
    old = TokenService(keys, BASE, 900, store, FixedClock(issued_at))
    token, _, _ = old.access_token(
        Principal("u", "app", "user", parse_scopes("user/*.rs"), "doctor")
    )
    with pytest.raises(FhirError) as info:
        authenticate(f"Bearer {token}", TokenService(keys, BASE, 900, store))
    assert (
        info.value.status == 401
        and 'error="invalid_token"' in info.value.headers["WWW-Authenticate"]
    )
    other_audience = TokenService(keys, "https://elsewhere.example/fhir", 900, store)
    fresh, _, _ = other_audience.access_token(
        Principal("u", "app", "user", parse_scopes("user/*.rs"))
    )
    with pytest.raises(FhirError):
        authenticate(f"Bearer {fresh}", TokenService(keys, BASE, 900, store))
    db.dispose()


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(clients_app, name="clients")
    root.add_typer(users_app, name="users")
    return root


def test_cli_clients_and_users(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    cli = _cli()
    url = ["--database-url", database_url]
    r = runner.invoke(cli, ["clients", "add", "--client-id", "pub", "--redirect-uri", "https://a.example/cb",
                            "--redirect-uri", "https://a.example/cb2", "--scope", "openid patient/*.rs", *url])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["clients", "add", "--client-id", "conf", "--secret", "top-secret-1",
                            "--redirect-uri", "https://a.example/cb", "--scope", "user/*.rs", *url])  # fmt: skip
    assert r.exit_code == 0 and "top-secret-1" not in r.output
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps({"keys": [RSAKey.generate_key(2048, auto_kid=True).as_dict(private=False)]})
    )
    r = runner.invoke(
        cli,
        [
            "clients",
            "add",
            "--client-id",
            "svc",
            "--jwks-file",
            str(jwks),
            "--scope",
            "system/*.rs",
            *url,
        ],
    )
    assert r.exit_code == 0 and "private_key_jwt" in r.output
    r = runner.invoke(
        cli,
        [
            "clients",
            "add",
            "--client-id",
            "svc2",
            "--jwks-url",
            "https://svc.example/jwks",
            "--scope",
            "system/*.rs",
            *url,
        ],
    )
    assert r.exit_code == 0
    assert (
        runner.invoke(
            cli,
            [
                "clients",
                "add",
                "--client-id",
                "pub",
                "--redirect-uri",
                "https://x",
                "--scope",
                "openid",
                *url,
            ],
        ).exit_code
        == 1
    )
    assert (
        runner.invoke(
            cli,
            [
                "clients",
                "add",
                "--client-id",
                "x",
                "--secret",
                "a",
                "--jwks-url",
                "https://y",
                "--scope",
                "openid",
                *url,
            ],
        ).exit_code
        == 2
    )
    r = runner.invoke(
        cli,
        [
            "users",
            "add",
            "--username",
            "li",
            "--password",
            "a-long-password",
            "--patient",
            "p1",
            *url,
        ],
    )
    assert r.exit_code == 0 and "a-long-password" not in r.output
    r = runner.invoke(cli, ["users", "add", "--username", "wang", "--password", "another-password",
                            "--practitioner", "d1", "--role", "nurse", *url])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        runner.invoke(
            cli, ["users", "add", "--username", "z", "--password", "pppppppp", *url]
        ).exit_code
        == 2
    )
    bad_role = [
        "users",
        "add",
        "--username",
        "z",
        "--password",
        "pppppppp",
        "--practitioner",
        "d",
        "--role",
        "boss",
        *url,
    ]
    assert runner.invoke(cli, bad_role).exit_code == 1
    db = SqlDatabase(database_url)
    store = AuthStore(db.engine)
    client = store.client("conf")
    assert client is not None and client.auth_method == "client_secret_basic"
    assert client.secret_hash and "top-secret-1" not in client.secret_hash
    assert store.client("pub").redirect_uris == ("https://a.example/cb", "https://a.example/cb2")  # type: ignore[union-attr]
    user = store.user("wang")
    assert user is not None and user.role == "nurse" and user.fhir_user == "Practitioner/d1"
    assert store.user("li").role == "resident"  # type: ignore[union-attr]
    db.dispose()
