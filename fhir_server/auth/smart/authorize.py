"""`/auth/authorize`: validate the request, log the user in, ask for approval, issue a code.

Spec: SMART App Launch 2.x "App Launch: Launch and Authorization"
(https://hl7.org/fhir/smart-app-launch/STU2.1/app-launch.html) §"Obtain authorization code":
`response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`, `aud` (must be this FHIR
base), `code_challenge` + `code_challenge_method=S256` (required of public clients; `plain` is
refused), `launch` (EHR launch); GET and POST (`authorize-post`).  Errors about the client or its
redirect URI are shown, never redirected (RFC 6749 §4.1.2.1).

The steps are stateless across workers: after login the validated request travels in a short-lived
ticket signed with the server key, posted back with the approval form.  Credentials and the ticket
are accepted only in a POST body (the router refuses them in a query string); every page is sent
with `Cache-Control: no-store` and anti-framing headers.  An EHR launch (`launch`) is bound to the
app and the EHR user who started it and is taken once, when the code is issued; a resident
cannot take a launch naming another resident.  A patient picked on the approval page must exist
and be within the user's reach (for a doctor: a contracted resident).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..passwords import dummy_verify, verify_password
from ..scopes import narrow, parse_scopes
from ..store import AuthStore, GrantRecord, UserRecord
from ..tokens import InvalidToken, SigningKeys
from . import pages
from .config import SmartConfig
from .events import AuthEvents, Origin, no_events

_REQUEST_FIELDS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "aud",
    "code_challenge", "code_challenge_method", "launch", "nonce",
)  # fmt: skip
_TICKET_PURPOSE = "jiayi-authorize"
#: Sent with every page of the flow: never cached, never framed (clickjacking).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
#: (fhirUser, role, patient id) → may this user take this patient into context?  (The Patient
#: exists and is within the user's reach: for a doctor, a contracted resident.)  Supplied by the
#: composition root, which asks the access gate.
PatientCheck = Callable[[str | None, str | None, str], bool]


def page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


class _Redirectable(Exception):
    """An error sent back to the client's redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    scope: str  # as narrowed to what the client may be granted
    state: str = ""
    code_challenge: str | None = None
    nonce: str | None = None
    launch_context: dict[str, Any] = field(default_factory=dict)
    launch_id: str | None = None
    redirect_uri_sent: bool = True  # then the token request must repeat it (RFC 6749 §4.1.3)

    def redirect(self, **params: str) -> RedirectResponse:
        query = {k: v for k, v in params.items() if v}
        if self.state:
            query["state"] = self.state
        sep = "&" if "?" in self.redirect_uri else "?"
        return RedirectResponse(f"{self.redirect_uri}{sep}{urlencode(query)}", status_code=302)


class AuthorizeFlow:
    def __init__(
        self,
        store: AuthStore,
        config: SmartConfig,
        keys: SigningKeys,
        events: AuthEvents = no_events,
        patient_check: PatientCheck | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._keys = keys
        self._events = events
        self._patient_check = patient_check

    def handle(self, params: dict[str, str], origin: Origin | None = None) -> Response:
        origin = origin or Origin()
        if params.get("ticket"):
            return self._approval(params, origin)
        client, redirect_uri = self._client_and_redirect(params)
        if client is None:
            return page(pages.error_page(redirect_uri), 400)
        bare = AuthRequest(client.client_id, redirect_uri, "", params.get("state", ""))
        try:
            request = self._validate(params, bare, client.scope, client.is_public)
        except _Redirectable as exc:
            return bare.redirect(error=exc.error, error_description=exc.description)
        if "username" in params or "password" in params:
            return self._login(params, request, origin)
        return self._login_form(params, request)

    # -- step 1: the request -----------------------------------------------------------------------
    def _client_and_redirect(self, params: dict[str, str]) -> tuple[Any, str]:
        client = self._store.client(params.get("client_id", ""))
        if client is None:
            return None, "未知的应用 · Unknown client_id"
        if not client.redirect_uris:
            return None, "该应用未登记回调地址 · This client has no registered redirect URI"
        given = params.get("redirect_uri")
        if given is None and len(client.redirect_uris) == 1:
            return client, client.redirect_uris[0]
        if given not in client.redirect_uris:
            return None, "回调地址未登记 · redirect_uri is not registered for this client"
        return client, given

    def _validate(
        self, params: dict[str, str], bare: AuthRequest, allowed: str, public: bool
    ) -> AuthRequest:
        if params.get("response_type") != "code":
            raise _Redirectable("unsupported_response_type", "response_type must be 'code'")
        if params.get("aud", "").rstrip("/") != self._config.fhir_base.rstrip("/"):
            raise _Redirectable(
                "invalid_request", f"aud must be the FHIR base {self._config.fhir_base}"
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or None
        if method is not None and method != "S256":
            raise _Redirectable("invalid_request", "code_challenge_method must be S256")
        if challenge is not None and method is None:
            raise _Redirectable("invalid_request", "code_challenge_method must be S256")
        if challenge is None and (public or method):
            raise _Redirectable("invalid_request", "PKCE (code_challenge, S256) is required")
        scope = narrow(params.get("scope", ""), allowed)
        if not scope:
            raise _Redirectable("invalid_scope", "none of the requested scopes may be granted")
        context: dict[str, Any] = {}
        launch_id = params.get("launch") or None
        if launch_id:
            found = self._store.launch(launch_id, bare.client_id)
            if found is None:
                raise _Redirectable("invalid_request", "unknown, used or expired launch")
            context = found
        return AuthRequest(
            bare.client_id,
            bare.redirect_uri,
            scope,
            bare.state,
            challenge,
            params.get("nonce"),
            context,
            launch_id,
            "redirect_uri" in params,
        )

    # -- step 2: login -----------------------------------------------------------------------------
    def _login_form(
        self,
        params: dict[str, str],
        request: AuthRequest,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        fields = {k: params[k] for k in _REQUEST_FIELDS if params.get(k)}
        html = pages.login_page(
            self._config.endpoint("authorize"), fields, request.client_id, error
        )
        return page(html, status)

    def _login(self, params: dict[str, str], request: AuthRequest, origin: Origin) -> Response:
        username = params.get("username", "").strip()
        password = params.get("password", "")
        window = self._config.login_failure_window
        if self._store.login_failures(username, window) >= self._config.login_failures_allowed:
            self._events(origin, "login-throttled", 429, username=username,
                         client_id=request.client_id, detail="too many failed logins")  # fmt: skip
            msg = "尝试次数过多，请稍后再试 · Too many attempts; try again later"
            return self._login_form(params, request, msg, 429)
        user = self._store.user(username) if username else None
        if user is None:
            dummy_verify(password)
        if user is None or not verify_password(password, user.password_hash):
            self._store.record_login_failure(username)
            self._events(origin, "login", 401, username=username, client_id=request.client_id,
                         detail="wrong user name or password")  # fmt: skip
            return self._login_form(
                params, request, "用户名或密码错误 · Wrong username or password", 401
            )
        refusal = self._launch_refusal(request, user)
        if refusal is not None:
            self._events(origin, "launch-refused", 403, username=username,
                         client_id=request.client_id, detail=refusal)  # fmt: skip
            return page(pages.error_page(refusal), 403)
        self._events(origin, "login", 200, username=username, client_id=request.client_id)
        return self._approval_form(request, user)

    @staticmethod
    def _launch_refusal(request: AuthRequest, user: UserRecord) -> str | None:
        """Why this user may not take the request's EHR launch (None: they may)."""
        context = request.launch_context
        if not request.launch_id:
            return None
        started_by = context.get("_username")
        if started_by and started_by != user.username:
            return "该启动由其他用户发起 · This launch was started by another user"
        launched = context.get("patient")
        if user.patient_id and launched and str(launched) != user.patient_id:
            return "该启动指向其他居民 · This launch names another resident"
        return None

    # -- step 3: approval --------------------------------------------------------------------------
    def _patient_for(self, request: AuthRequest, user: UserRecord) -> tuple[str | None, bool]:
        """(patient in context, must the user pick one?)."""
        if request.launch_context.get("patient"):
            return str(request.launch_context["patient"]), False
        if user.patient_id:
            return user.patient_id, False
        return None, parse_scopes(request.scope).has("launch/patient")

    def _approval_form(
        self, request: AuthRequest, user: UserRecord, error: str | None = None, status: int = 200
    ) -> Response:
        patient, ask = self._patient_for(request, user)
        now = self._store.now()
        ticket = self._keys.sign(
            {
                "purpose": _TICKET_PURPOSE,
                "sub": user.username,
                "req": asdict(request),
                "iat": now,
                "exp": now + self._config.ticket_lifetime,
            }
        )
        html = pages.approval_page(
            self._config.endpoint("authorize"), ticket, request.client_id, request.scope.split(),
            ask_patient=ask, patient=patient, error=error,
        )  # fmt: skip
        return page(html, status)

    def _approval(self, params: dict[str, str], origin: Origin) -> Response:
        try:
            claims = self._keys.decode(params["ticket"])
        except InvalidToken:
            claims = {}
        exp = claims.get("exp")
        if (
            claims.get("purpose") != _TICKET_PURPOSE
            or not isinstance(exp, int)
            or exp <= self._store.now()
        ):
            return page(
                pages.error_page("授权已过期，请重新开始 · The sign-in expired; start again"), 400
            )
        request = AuthRequest(**claims["req"])
        user = self._store.user(str(claims.get("sub")))
        if user is None:
            return page(pages.error_page("用户不存在 · Unknown user"), 400)
        if params.get("decision") != "approve":
            return request.redirect(
                error="access_denied", error_description="the user denied access"
            )
        patient, ask = self._patient_for(request, user)
        if ask:
            patient = params.get("patient", "").strip() or None
            if patient is None or not _valid_id(patient):
                return self._approval_form(request, user, "请填写居民 ID · Enter a patient id", 400)
            if self._patient_check is not None and not self._patient_check(
                user.fhir_user, user.role, patient
            ):
                msg = (
                    "没有该居民，或不在您的签约服务范围内 · "
                    "No such resident, or not one you may open"
                )
                return self._approval_form(request, user, msg, 400)
        if request.launch_id and not self._store.take_launch(request.launch_id, request.client_id):
            self._events(origin, "launch-refused", 400, username=user.username,
                         client_id=request.client_id, detail="launch used or expired")  # fmt: skip
            return page(
                pages.error_page("该启动已使用或已过期 · This launch was used or expired"), 400
            )
        return request.redirect(code=self._issue_code(request, user, patient))

    def _issue_code(self, request: AuthRequest, user: UserRecord, patient: str | None) -> str:
        scopes = parse_scopes(request.scope)
        granted = request.scope.split()
        if patient is None:  # a patient/ scope is only ever granted with a patient in context
            granted = [s for s in granted if not s.startswith("patient/") and s != "launch/patient"]
        context: dict[str, Any] = {
            "patient": patient,
            "encounter": request.launch_context.get("encounter"),
            "nonce": request.nonce,
            "fhirUser": user.fhir_user,
            "role": user.role,
            "launch": scopes.has("launch"),
            "_redirect_sent": request.redirect_uri_sent,
        }
        grant = GrantRecord(
            request.client_id, " ".join(granted), user.username,
            {k: v for k, v in context.items() if v is not None}, request.redirect_uri, request.code_challenge,
        )  # fmt: skip
        return self._store.save_code(grant, self._config.code_lifetime)


def _valid_id(value: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", value) is not None
