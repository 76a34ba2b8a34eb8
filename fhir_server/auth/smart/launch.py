"""Starting an EHR launch: `POST /auth/launch` (an EHR user's bearer token) or `jiayi launch`.

Spec: SMART App Launch 2.x "EHR Launch" (https://hl7.org/fhir/smart-app-launch/STU2.1/app-launch.html#launch-app-ehr-launch):
the EHR opens the app's launch URL with `iss` (the FHIR base) and an opaque `launch`; the app
sends `launch` back in its authorization request and receives the launch context (`patient`,
`encounter`) with its token.

A launch is bound to the app (`client_id`) and to the EHR user who started it, is single use
(taken when the code is issued) and expires quickly (`JIAYI_LAUNCH_LIFETIME`, 300 s).  The launch
URL must be on the origin of one of the app's registered redirect URIs (no open redirect), the app
must be registered for the `launch` scope, and the patient must be within the user's reach.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.responses import RedirectResponse, Response

from ..store import AuthStore, ClientRecord
from ..tokens import InvalidToken, TokenService
from .authorize import PatientCheck
from .config import SmartConfig
from .errors import NO_STORE, OAuthError

#: Roles of EHR users who may start a launch.
LAUNCH_ROLES = frozenset({"doctor", "nurse", "institution-admin", "admin"})
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def check_launch_uri(client: ClientRecord, launch_uri: str) -> None:
    """The launch URL must be http(s) on the origin of a registered redirect URI."""
    scheme, host = _origin(launch_uri)
    if scheme not in ("http", "https") or not host:
        raise OAuthError("invalid_request", "launch_uri must be an http(s) URL")
    if (scheme, host) not in {_origin(u) for u in client.redirect_uris}:
        raise OAuthError(
            "invalid_request", "launch_uri must be on the origin of a registered redirect URI"
        )


def create_launch(
    store: AuthStore,
    config: SmartConfig,
    *,
    client_id: str,
    username: str,
    launch_uri: str,
    patient: str | None = None,
    encounter: str | None = None,
) -> str:
    """Register a launch and return the URL to open (`launch_uri?iss=…&launch=…`)."""
    client = store.client(client_id)
    if client is None:
        raise OAuthError("invalid_request", f"unknown client '{client_id}'")
    if "launch" not in client.scope.split():
        raise OAuthError(
            "invalid_request", "this app is not registered for EHR launch (scope launch)"
        )
    check_launch_uri(client, launch_uri)
    for name, value in (("patient", patient), ("encounter", encounter)):
        if value is not None and not _ID.fullmatch(value):
            raise OAuthError("invalid_request", f"{name} is not a resource id")
    context = {k: v for k, v in (("patient", patient), ("encounter", encounter)) if v}
    launch_id = store.add_launch(
        context, config.launch_lifetime, client_id=client_id, username=username
    )
    sep = "&" if "?" in launch_uri else "?"
    return f"{launch_uri}{sep}{urlencode({'iss': config.fhir_base, 'launch': launch_id})}"


class EhrLauncher:
    def __init__(
        self,
        store: AuthStore,
        config: SmartConfig,
        tokens: TokenService,
        patient_check: PatientCheck | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._tokens = tokens
        self._patient_check = patient_check

    def _may_open(self, principal: Any, patient: str) -> bool:
        if not _ID.fullmatch(patient):
            return False
        check = self._patient_check
        return check is None or check(principal.fhir_user, principal.role, patient)

    def start(self, form: Mapping[str, str], authorization: str | None) -> Response:
        try:
            return self._start(form, authorization)
        except OAuthError as exc:
            return exc.response()

    def _start(self, form: Mapping[str, str], authorization: str | None) -> Response:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise OAuthError("invalid_token", "an EHR user's bearer token is required", 401)
        try:
            principal = self._tokens.verify(authorization[7:].strip())
        except InvalidToken as exc:
            raise OAuthError("invalid_token", "the bearer token is not valid", 401) from exc
        if principal.kind != "user" or principal.role not in LAUNCH_ROLES:
            raise OAuthError("access_denied", "only EHR users (staff) may start a launch", 403)
        patient = form.get("patient") or None
        if patient is not None and not self._may_open(principal, patient):
            raise OAuthError("access_denied", "no such patient within your reach", 403)
        url = create_launch(
            self._store,
            self._config,
            client_id=form.get("client_id", ""),
            username=principal.subject,
            launch_uri=form.get("launch_uri", ""),
            patient=patient,
            encounter=form.get("encounter") or None,
        )
        return RedirectResponse(url, status_code=303, headers=dict(NO_STORE))
