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
from starlette.responses import JSONResponse, Response

from ...core.clock import Clock, SystemClock
from ..store import AuthStore
from ..tokens import SigningKeys, TokenService
from .authorize import AuthorizeFlow, PatientCheck, page
from .client_auth import ClientAuthenticator
from .config import SmartConfig, openid_configuration, smart_configuration
from .errors import OAuthError
from .events import AuthEvents, Origin, no_events
from .launch import EhrLauncher
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
    events: AuthEvents = no_events,
    patient_check: PatientCheck | None = None,
) -> APIRouter:
    """Routes: /fhir/.well-known/{smart,openid}-configuration and /auth/{authorize,token,…}.

    `database` is a `SqlDatabase` (or an Engine); `keys` comes from
    `SigningKeys.load_or_create(AuthStore(database.engine))`; `http` fetches client JWKS URLs;
    `events` receives what the audit trail records; `patient_check` decides whether a user may
    take a patient into context (the approval page's picker, `POST /auth/launch`).
    """
    config = config or SmartConfig.from_settings(settings)
    store = AuthStore(_engine(database), clock)
    tokens = TokenService(
        keys, config.fhir_base, config.access_token_lifetime, store, clock or SystemClock()
    )
    clients = ClientAuthenticator(store, config, http)
    endpoint = TokenEndpoint(store, config, tokens, clients, events)
    flow = AuthorizeFlow(store, config, keys, events, patient_check)
    launcher = EhrLauncher(store, config, tokens, patient_check)
    router = APIRouter()

    async def smart_config() -> Response:
        return JSONResponse(smart_configuration(config), headers={"Cache-Control": "max-age=3600"})

    async def oidc_config() -> Response:
        return JSONResponse(openid_configuration(config))

    async def jwks() -> Response:
        return JSONResponse(keys.jwks(), headers={"Cache-Control": "max-age=3600"})

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        posted = sorted(set(params) & _POST_ONLY)
        if posted:  # credentials and the approval ticket never travel in a URL
            message = f"{', '.join(posted)}: 只能以表单提交 · must be sent in a POST body"
            return page(error_page(message), 400)
        if request.method == "POST":
            try:
                params.update(await _form(request))
            except OAuthError as exc:
                return page(error_page(exc.description), 400)
        return await run_in_threadpool(flow.handle, params, _origin(request))

    async def token(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(endpoint.token, form, authorization, _origin(request))

    async def introspect(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(endpoint.introspect, form, authorization, _origin(request))

    async def revoke(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(endpoint.revoke, form, authorization, _origin(request))

    async def launch(request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as exc:
            return exc.response()
        authorization = request.headers.get("authorization")
        return await run_in_threadpool(launcher.start, form, authorization)

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
    router.add_api_route("/auth/launch", launch, methods=["POST"], include_in_schema=False)
    return router


#: Never accepted in the query string of /auth/authorize.
_POST_ONLY = frozenset({"username", "password", "ticket", "decision", "patient"})


def _origin(request: Request) -> Origin:
    return Origin(
        request.client.host if request.client else None,
        getattr(request.state, "request_id", "-"),
    )


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
