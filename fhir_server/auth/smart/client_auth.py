"""Client authentication at the token, introspection and revocation endpoints.

Spec: RFC 6749 §2.3.1 (`client_secret_basic`), RFC 7523 §2.2 / §3 and SMART Backend Services
"Authenticating to the Token endpoint" (https://hl7.org/fhir/smart-app-launch/STU2.1/backend-services.html):
`client_assertion_type` = `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, a JWT signed
with RS384 or ES384 whose `iss` = `sub` = client_id, `aud` = the token endpoint, `exp` no more than
five minutes ahead, and a `jti` never seen before (replays are refused); the key comes from the
client's registered JWKS or JWKS URL (a `jku` header must equal the registered URL).  Public
clients identify themselves with `client_id` only.
"""

from __future__ import annotations

import base64
import binascii
import json
from base64 import urlsafe_b64decode
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..passwords import dummy_verify, verify_password
from ..store import AuthStore, ClientRecord
from .config import ASSERTION_ALGS, SmartConfig
from .errors import OAuthError, invalid_client

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ClientAuthenticator:
    """Identifies the client of a token-endpoint request, or raises `OAuthError(invalid_client)`."""

    def __init__(
        self, store: AuthStore, config: SmartConfig, http: httpx.Client | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._http = http

    def authenticate(
        self, form: Mapping[str, str], authorization: str | None, *, allow_public: bool = True
    ) -> ClientRecord:
        if authorization and authorization.lower().startswith("basic "):
            return self._basic(authorization[6:].strip())
        if form.get("client_assertion") or form.get("client_assertion_type"):
            return self._assertion(form)
        if form.get("client_secret"):
            raise invalid_client("client_secret_post is not supported; use client_secret_basic")
        client_id = form.get("client_id", "")
        client = self._store.client(client_id) if client_id else None
        if client is None:
            raise invalid_client("unknown client or no client authentication")
        if not client.is_public:
            raise invalid_client(f"this client must authenticate with {client.auth_method}")
        if not allow_public:
            raise OAuthError("unauthorized_client", "public clients may not use this grant", 400)
        return client

    def _basic(self, encoded: str) -> ClientRecord:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise invalid_client("malformed Basic credentials") from exc
        client_id, sep, secret = decoded.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
        client = self._store.client(client_id) if sep else None
        if client is None or client.secret_hash is None:
            dummy_verify(secret)
            raise invalid_client("client authentication failed")
        if not verify_password(secret, client.secret_hash):
            raise invalid_client("client authentication failed")
        return client

    def _assertion(self, form: Mapping[str, str]) -> ClientRecord:
        if form.get("client_assertion_type") != JWT_BEARER:
            # A malformed request, not a failed authentication: 400 (SMART Backend Services;
            # the ONC Inferno kit checks it).
            raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}", 400)
        assertion = form.get("client_assertion", "")
        header, claims = _peek(assertion)
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or claims.get("sub") != client_id:
            raise invalid_client("the assertion's iss and sub must both be the client_id")
        if form.get("client_id") and form["client_id"] != client_id:
            raise invalid_client("client_id does not match the assertion")
        client = self._store.client(client_id)
        if client is None or client.auth_method != "private_key_jwt":
            raise invalid_client("unknown client or no registered public keys")
        if header.get("alg") not in ASSERTION_ALGS:
            raise invalid_client(f"the assertion must be signed with {' or '.join(ASSERTION_ALGS)}")
        keys = self._client_keys(client, header)
        try:
            verified = jwt.decode(assertion, keys, algorithms=list(ASSERTION_ALGS))
        except (JoseError, ValueError) as exc:
            raise invalid_client("the assertion's signature does not verify") from exc
        self._check_claims(client_id, dict(verified.claims))
        return client

    def _check_claims(self, client_id: str, claims: dict[str, Any]) -> None:
        now = self._store.now()
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self._config.endpoint("token") not in audiences:
            raise invalid_client("the assertion's aud must be the token endpoint URL")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now:
            raise invalid_client("the assertion has expired or has no exp")
        if exp > now + self._config.assertion_max_lifetime + 5:
            raise invalid_client("the assertion's exp is more than five minutes ahead")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise invalid_client("the assertion has no jti")
        if not self._store.remember_jti(client_id, jti, exp):
            raise invalid_client("the assertion's jti was used before")

    def _client_keys(self, client: ClientRecord, header: Mapping[str, Any]) -> KeySet:
        jku = header.get("jku")
        if jku and jku != client.jwks_url:
            raise invalid_client("the assertion's jku is not the registered JWKS URL")
        document = client.jwks
        if document is None:
            document = self._fetch_jwks(client.jwks_url or "")
        try:
            keys = [
                k
                for k in document.get("keys", [])
                if isinstance(k, dict) and k.get("kty") in ("RSA", "EC")
            ]
            kid = header.get("kid")
            if kid:
                keys = [k for k in keys if k.get("kid") == kid]
            keys = [{k: v for k, v in key.items() if k not in ("key_ops",)} for key in keys]
            return KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError) as exc:
            raise invalid_client("the client's JWKS holds no usable key") from exc

    def _fetch_jwks(self, url: str) -> dict[str, Any]:
        try:
            if self._http is not None:
                response = self._http.get(url, timeout=5.0)
            else:
                with httpx.Client(timeout=5.0, follow_redirects=False) as http:
                    response = http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise invalid_client("the client's JWKS URL could not be read") from exc
        if not isinstance(document, dict):
            raise invalid_client("the client's JWKS URL did not return a JWKS")
        return document


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, not yet verified (to find the client and its key)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise invalid_client("the client assertion is not a JWT")
    try:
        header, claims = (json.loads(urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in parts[:2])
    except (ValueError, binascii.Error) as exc:
        raise invalid_client("the client assertion is not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid_client("the client assertion is not a JWT")
    return header, claims
