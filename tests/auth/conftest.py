"""Fixtures for the SMART tests: the authorisation server on a small app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fhir_server.auth.store import AuthStore, add_client, add_user
from fhir_server.auth.tokens import SigningKeys
from fhir_server.settings import Settings
from fhir_server.storage.sql import SqlDatabase

BASE = "http://testserver/fhir"
TOKEN_URL = "http://testserver/auth/token"
REDIRECT = "https://app.example/callback"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in _HIDDEN.findall(page)}


@dataclass
class Smart:
    client: TestClient
    store: AuthStore
    database: SqlDatabase
    jwks_documents: dict[str, Any]

    def authorize(self, **params: str) -> httpx.Response:
        query = {
            "response_type": "code",
            "aud": BASE,
            "state": "st-1",
            "redirect_uri": REDIRECT,
            **params,
        }
        return self.client.get("/auth/authorize", params=query)

    def login(self, page: httpx.Response, username: str, password: str) -> httpx.Response:
        assert page.status_code == 200, page.text
        assert 'name="username"' in page.text and 'name="password"' in page.text
        form = {**hidden_fields(page.text), "username": username, "password": password}
        return self.client.post("/auth/authorize", data=form, headers=FORM)

    def decide(self, approval: httpx.Response, decision: str, **extra: str) -> httpx.Response:
        assert 'name="decision" value="approve"' in approval.text, approval.text
        assert 'name="decision" value="deny"' in approval.text
        form = {**hidden_fields(approval.text), "decision": decision, **extra}
        return self.client.post("/auth/authorize", data=form, headers=FORM)

    def code_flow(
        self,
        username: str,
        password: str,
        scope: str,
        client_id: str = "app",
        pick: str | None = None,
        **extra: str,
    ) -> tuple[dict[str, str], str]:
        """Run authorize → login → approve; returns (redirect query, code_verifier)."""
        verifier, challenge = pkce_pair()
        page = self.authorize(
            client_id=client_id,
            scope=scope,
            code_challenge=challenge,
            code_challenge_method="S256",
            **extra,
        )
        approval = self.login(page, username, password)
        redirect = self.decide(approval, "approve", **({"patient": pick} if pick else {}))
        return redirect_query(redirect), verifier

    def exchange(self, code: str, verifier: str, client_id: str = "app") -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        }
        return self.client.post("/auth/token", data=form, headers=FORM)


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def smart(database_url: str) -> Iterator[Smart]:
    settings = Settings(database_url=database_url, base_url=BASE)
    db = SqlDatabase(database_url)
    store = AuthStore(db.engine)
    keys = SigningKeys.load_or_create(store)
    documents: dict[str, Any] = {}

    def serve_jwks(request: httpx.Request) -> httpx.Response:
        document = documents.get(str(request.url))
        return httpx.Response(200, json=document) if document else httpx.Response(404)

    http = httpx.Client(transport=httpx.MockTransport(serve_jwks))
    from fhir_server.auth.smart import build_smart_router

    app = FastAPI()
    app.include_router(build_smart_router(settings, db, keys, http=http))
    add_client(
        db,
        "app",
        scope="openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.cruds",
        redirect_uris=[REDIRECT],
    )
    add_client(
        db,
        "ehr-app",
        scope="launch openid fhirUser patient/*.read user/*.read",
        secret="s3cret-value",
        redirect_uris=[REDIRECT],
    )
    add_user(db, "li.hua", "resident-pass", patient="p1")
    add_user(db, "dr.wang", "doctor-pass", practitioner="d1", role="doctor")
    with TestClient(app, follow_redirects=False) as client:
        yield Smart(client, store, db, documents)
    http.close()
    db.dispose()
