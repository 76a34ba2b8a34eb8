"""`/auth/token`, `/auth/introspect`, `/auth/revoke`: the grants and token management.

Spec: SMART App Launch 2.x "Obtain access token" and "Refresh access token" (response fields
`access_token`, `token_type`, `expires_in`, `scope`, `patient`, `encounter`, `id_token`,
`refresh_token`; `Cache-Control: no-store`), RFC 7636 §4.6 (PKCE S256 check), SMART Backend
Services "Obtain access token" (`client_credentials` with a signed assertion, system/ scopes),
RFC 7662 (introspection: an invalid token is exactly `{"active": false}`) and RFC 7009 (revocation:
200 whatever the token).  Refresh tokens rotate on every use; a reused one revokes its family.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.responses import JSONResponse, Response

from ..passwords import new_token
from ..principal import Principal
from ..scopes import narrow, parse_scopes
from ..store import AuthStore, ClientRecord, GrantRecord
from ..tokens import InvalidToken, TokenService
from .client_auth import ClientAuthenticator
from .config import SmartConfig
from .errors import NO_STORE, OAuthError, invalid_client, token_json
from .events import AuthEvents, Origin, no_events


class TokenEndpoint:
    def __init__(
        self,
        store: AuthStore,
        config: SmartConfig,
        tokens: TokenService,
        clients: ClientAuthenticator,
        events: AuthEvents = no_events,
    ) -> None:
        self._store = store
        self._config = config
        self._tokens = tokens
        self._clients = clients
        self._events = events

    def token(
        self, form: Mapping[str, str], authorization: str | None, origin: Origin | None = None
    ) -> Response:
        origin = origin or Origin()
        claimed = form.get("client_id") or None
        try:
            body = self._grant(form, authorization)
        except OAuthError as exc:
            event = exc.event or (
                "invalid-client" if exc.error == "invalid_client" else "token-refused"
            )
            self._events(origin, event, exc.status, client_id=claimed,
                         detail=f"{form.get('grant_type', '')}: {exc.error}")  # fmt: skip
            return exc.response()
        principal = body.pop("_principal")
        self._events(origin, "token", 200, username=principal.subject,
                     client_id=principal.client_id, principal=principal,
                     detail=f"{form.get('grant_type')}: {body.get('scope', '')}")  # fmt: skip
        return token_json(body)

    def _grant(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        handler = {
            "authorization_code": self._authorization_code,
            "refresh_token": self._refresh_token,
            "client_credentials": self._client_credentials,
        }.get(grant_type)
        if handler is None:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type '{grant_type}' is not supported"
            )
        return handler(form, authorization)

    # -- grants -------------------------------------------------------------------------------------
    def _authorization_code(
        self, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        client = self._clients.authenticate(form, authorization)
        grant = self._store.take_code(form.get("code", ""))
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
        sent = grant.context.pop("_redirect_sent", True)
        if sent and "redirect_uri" not in form:
            raise OAuthError(
                "invalid_request",
                "redirect_uri is required: it was sent with the authorization request",
            )
        if form.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            raise OAuthError(
                "invalid_grant", "redirect_uri does not match the authorization request"
            )
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            expected = create_s256_code_challenge(verifier) if verifier else ""
            if not hmac.compare_digest(expected, grant.code_challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        elif form.get("code_verifier"):
            raise OAuthError(
                "invalid_grant", "no code_challenge was sent with the authorization request"
            )
        return self._respond(grant, client, with_id_token=True)

    def _refresh_token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        client = self._clients.authenticate(form, authorization)
        presented = form.get("refresh_token", "")
        current = self._store.refresh(presented)
        if current is None and presented and self._store.reused(presented):
            self._store.rotate_refresh(presented)  # a reused (rotated-away) token: family revoked
            raise OAuthError(
                "invalid_grant",
                "the refresh token was used before; the grant is revoked",
                event="refresh-reuse",
            )
        if current is None or current.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
        grant = self._store.rotate_refresh(presented)
        if grant is None:
            raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
        scope = grant.scope
        if form.get("scope"):
            scope = narrow(form["scope"], grant.scope)
            if not scope:
                raise OAuthError("invalid_scope", "the requested scope exceeds the original grant")
        narrowed = GrantRecord(
            grant.client_id, scope, grant.username, grant.context, family=grant.family
        )
        return self._respond(narrowed, client, with_id_token=False)

    def _client_credentials(
        self, form: Mapping[str, str], authorization: str | None
    ) -> dict[str, Any]:
        client = self._clients.authenticate(form, authorization, allow_public=False)
        if client.auth_method != "private_key_jwt":
            raise invalid_client("back-end services authenticate with private_key_jwt")
        requested = form.get("scope", "")
        scope = " ".join(
            s for s in narrow(requested, client.scope).split() if s.startswith("system/")
        )
        if not scope:
            raise OAuthError(
                "invalid_scope", "request system/ scopes that this client is registered for"
            )
        principal = Principal(
            client.client_id,
            client.client_id,
            "system",
            parse_scopes(scope),
            organization=client.organization,
        )
        token, expires_in, _jti = self._tokens.access_token(principal)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope,
            "_principal": principal,
        }

    def _respond(
        self, grant: GrantRecord, client: ClientRecord, *, with_id_token: bool
    ) -> dict[str, Any]:
        scopes = parse_scopes(grant.scope)
        principal = _principal(grant, scopes)
        refreshable = scopes.has("offline_access") or scopes.has("online_access")
        family = grant.family or (new_token(16) if refreshable else "")
        token, expires_in, _jti = self._tokens.access_token(principal, family or None)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": grant.scope,
            "_principal": principal,
        }
        ctx = grant.context
        for name in ("patient", "encounter"):
            if ctx.get(name):
                body[name] = ctx[name]
        if ctx.get("patient"):
            body["need_patient_banner"] = not ctx.get("launch")
        if (
            with_id_token
            and scopes.has("openid")
            and (scopes.has("fhirUser") or scopes.has("profile"))
        ):
            body["id_token"] = self._tokens.id_token(principal, ctx.get("nonce"))
        if scopes.has("offline_access") or scopes.has("online_access"):
            lifetime = (
                self._config.offline_lifetime
                if scopes.has("offline_access")
                else self._config.online_lifetime
            )
            body["refresh_token"] = self._store.save_refresh(
                dataclasses.replace(grant, family=family), lifetime
            )
        return body

    # -- introspection and revocation ---------------------------------------------------------------
    def introspect(
        self, form: Mapping[str, str], authorization: str | None, origin: Origin | None = None
    ) -> Response:
        """RFC 7662 for resource servers and confidential clients only: a caller authenticates
        as a confidential client (`client_secret_basic`, `private_key_jwt`) or presents a
        back-end service's bearer token; public clients and user tokens are refused (401)."""
        origin = origin or Origin()
        try:
            if authorization and authorization.lower().startswith("bearer "):
                try:
                    caller = self._tokens.claims(authorization[7:].strip())
                except InvalidToken as exc:
                    raise OAuthError(
                        "invalid_token", "the caller's bearer token is not valid", 401
                    ) from exc
                if caller.get("kind") != "system":
                    raise OAuthError(
                        "invalid_client",
                        "introspection is for resource servers and confidential clients",
                        401,
                    )
            else:
                client = self._clients.authenticate(form, authorization)
                if client.is_public:
                    raise OAuthError(
                        "invalid_client",
                        "introspection is for resource servers and confidential clients",
                        401,
                    )
        except OAuthError as exc:
            self._events(origin, "introspect-refused", exc.status,
                         client_id=form.get("client_id") or None, detail=exc.error)  # fmt: skip
            return exc.response()
        return JSONResponse(self._inspect(form.get("token", "")), headers=dict(NO_STORE))

    def _inspect(self, token: str) -> dict[str, Any]:
        if not token:
            return {"active": False}
        try:
            claims = self._tokens.claims(token)
        except InvalidToken:
            claims = {}
        if claims:
            keep = (
                "scope",
                "client_id",
                "sub",
                "exp",
                "iat",
                "iss",
                "aud",
                "patient",
                "encounter",
                "fhirUser",
            )
            out: dict[str, Any] = {"active": True, "token_type": "Bearer"}
            out.update({k: claims[k] for k in keep if k in claims})
            if out.get("fhirUser"):
                out["fhirUser"] = f"{self._config.fhir_base}/{out['fhirUser']}"
            return out
        grant = self._store.refresh(token)
        if grant is None:
            return {"active": False}
        out = {"active": True, "token_type": "refresh_token", "scope": grant.scope}
        out.update({"client_id": grant.client_id, "exp": grant.expires_at})
        if grant.username:
            out["sub"] = grant.username
        return out

    def revoke(
        self, form: Mapping[str, str], authorization: str | None, origin: Origin | None = None
    ) -> Response:
        origin = origin or Origin()
        try:
            client = self._clients.authenticate(form, authorization)
        except OAuthError as exc:
            self._events(origin, "invalid-client", exc.status,
                         client_id=form.get("client_id") or None, detail="revoke")  # fmt: skip
            return exc.response()
        token = form.get("token", "")
        if not token:
            return OAuthError("invalid_request", "token is required").response()
        try:
            claims = self._tokens.claims(token)
        except InvalidToken:
            claims = {}
        if claims and claims.get("client_id") == client.client_id:
            self._store.revoke_access(str(claims["jti"]), int(claims["exp"]))
        elif not claims:
            self._store.revoke_refresh(token, client.client_id)  # and its access tokens
        self._events(origin, "revoke", 200, client_id=client.client_id)
        return Response(status_code=200, headers=dict(NO_STORE))


def _principal(grant: GrantRecord, scopes: Any) -> Principal:
    ctx = grant.context
    fhir_user = ctx.get("fhirUser")
    kind = "patient" if isinstance(fhir_user, str) and fhir_user.startswith("Patient/") else "user"
    return Principal(
        subject=grant.username or grant.client_id,
        client_id=grant.client_id,
        kind=kind,  # type: ignore[arg-type]
        scopes=scopes,
        role=ctx.get("role"),
        fhir_user=fhir_user,
        patient=ctx.get("patient"),
        encounter=ctx.get("encounter"),
    )
