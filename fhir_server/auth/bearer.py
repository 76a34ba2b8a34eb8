"""Bearer-token authentication of FHIR requests (RFC 6750) → `Principal`.

Spec: RFC 6750 §3 (the `WWW-Authenticate: Bearer` challenge with `error="invalid_token"`), SMART App
Launch 2.x "Accessing the FHIR API" (apps send `Authorization: Bearer <access token>`).
A missing, malformed, expired, revoked or foreign token gives 401 with the challenge; scope
checks (403) belong to `policy.AccessPolicy`, applied by the repository gate.
"""

from __future__ import annotations

from typing import Protocol

from ..core import errors as E
from .principal import Principal
from .tokens import InvalidToken


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal: ...


def challenge(
    realm: str = "jiayi", error: str | None = None, description: str | None = None
) -> str:
    parts = [f'realm="{realm}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return "Bearer " + ", ".join(parts)


def unauthorized(diagnostics: str, error: str | None = "invalid_token") -> E.FhirError:
    return E.FhirError(
        401,
        E.error("login", diagnostics, message_id="JY-0401"),
        {"WWW-Authenticate": challenge(error=error, description=diagnostics if error else None)},
    )


def authenticate(authorization_header: str | None, verifier: TokenVerifier) -> Principal:
    """The Principal of a request's `Authorization` header, or `FhirError(401)` with a challenge."""
    if not authorization_header:
        raise unauthorized("This server requires an access token (Authorization: Bearer …)", None)
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("The Authorization header must be 'Bearer <token>'", "invalid_request")
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        raise unauthorized(f"The access token is not valid: {exc}") from exc


def forbidden(diagnostics: str) -> E.FhirError:
    """403 for an authenticated caller whose scopes or role do not allow the interaction."""
    return E.FhirError(
        403,
        E.error("forbidden", diagnostics, message_id="JY-0403"),
        {"WWW-Authenticate": challenge(error="insufficient_scope")},
    )
