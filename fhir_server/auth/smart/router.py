"""The SMART authorisation server's HTTP routes (FastAPI), built by `build_smart_router`.

Spec: SMART App Launch 2.x "Conformance" (`/.well-known/smart-configuration` under the FHIR base),
"App Launch" (authorize, token), SMART Backend Services (token with client_credentials),
RFC 7662 (introspect), RFC 7009 (revoke), RFC 7517 (jwks), OpenID Connect Discovery 1.0.

Handlers only parse the form and hand it to `AuthorizeFlow` / `TokenEndpoint`, off the event loop
(password hashing and database calls block).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

from ...core.clock import Clock, SystemClock
from ..store import AuthStore
from ..tokens import SigningKeys, TokenService
from .authorize import AuthorizeFlow
from .client_auth import ClientAuthenticator
from .config import SmartConfig, openid_configuration, smart_configuration
from .errors import OAuthError
from .pages import error_page
from .token import TokenEndpoint

_MAX_FORM = 64 * 1024


def _engine(database: Any) -> Any:
    return getattr(database, "engine", database)


def build_token_service(
    settings: Any, database: Any, keys: SigningKeys, clock: Clock | None = None
) -> TokenService:
    """The access-token issuer/verifier (pass it to `bearer.authenticate` as the verifier)."""
    config = SmartConfig.from_settings(settings)
    store = AuthStore(_engine(database), clock)
    return TokenService(
        keys, config.fhir_base, config.access_token_lifetime, store, clock or SystemClock()
    )


def build_smart_router(
    settings: Any,
    database: Any,
    keys: SigningKeys,
    *,
    http: httpx.Client | None = None,
    clock: Clock | None = None,
    config: SmartConfig | None = None,
) -> APIRouter:
    """Routes: /fhir/.well-known/{smart,openid}-configuration and /auth/{authorize,token,…}.

    `database` is a `SqlDatabase` (or an Engine); `keys` comes from
    `SigningKeys.load_or_create(AuthStore(database.engine))`; `http` fetches client JWKS URLs.
    """
    config = config or SmartConfig.from_settings(settings)
    store = AuthStore(_engine(database), clock)
    tokens = TokenService(
        keys, config.fhir_base, config.access_token_lifetime, store, clock or SystemClock()
    )
    endpoint = TokenEndpoint(store, config, tokens, ClientAuthenticator(store, config, http))
    flow = AuthorizeFlow(store, config, keys)
    router = APIRouter()

    async def smart_config() -> Response:
        return JSONResponse(smart_configuration(config), headers={"Cache-Control": "max-age=3600"})

    async def oidc_config() -> Response:
        return JSONResponse(openid_configuration(config))

    async def jwks() -> Response:
        return JSONResponse(keys.jwks(), headers={"Cache-Control": "max-age=3600"})

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            try:
                params.update(await _form(request))
            except OAuthError as exc:
                return HTMLResponse(error_page(exc.description), status_code=400)
        return await run_in_threadpool(flow.handle, params)

    async def token(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        return await run_in_threadpool(endpoint.token, form, request.headers.get("authorization"))

    async def introspect(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        return await run_in_threadpool(
            endpoint.introspect, form, request.headers.get("authorization")
        )

    async def revoke(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        return await run_in_threadpool(endpoint.revoke, form, request.headers.get("authorization"))

    router.add_api_route(
        "/fhir/.well-known/smart-configuration",
        smart_config,
        methods=["GET"],
        include_in_schema=False,
    )
    router.add_api_route(
        "/fhir/.well-known/openid-configuration",
        oidc_config,
        methods=["GET"],
        include_in_schema=False,
    )
    router.add_api_route("/auth/jwks", jwks, methods=["GET"], include_in_schema=False)
    router.add_api_route(
        "/auth/authorize", authorize, methods=["GET", "POST"], include_in_schema=False
    )
    router.add_api_route("/auth/token", token, methods=["POST"], include_in_schema=False)
    router.add_api_route("/auth/introspect", introspect, methods=["POST"], include_in_schema=False)
    router.add_api_route("/auth/revoke", revoke, methods=["POST"], include_in_schema=False)
    return router


async def _form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (first value of each name)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > _MAX_FORM:
        raise OAuthError("invalid_request", "the form is too large")
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form
