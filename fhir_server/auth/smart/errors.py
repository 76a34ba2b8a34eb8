"""OAuth 2.0 error responses (RFC 6749 §5.2) with the headers SMART requires.

Spec: RFC 6749 §5.1/§5.2 (JSON body, `Cache-Control: no-store`, `Pragma: no-cache`), SMART App
Launch 2.x "Obtain access token" and Backend Services "Response" (400 `unsupported_grant_type`,
401 `invalid_client` for a bad client assertion).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, event: str = "") -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.event = event  # for the audit trail, e.g. "refresh-reuse"

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = f'Basic realm="jiayi", error="{self.error}"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


def token_json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=dict(NO_STORE))
