"""SMART server configuration and the `.well-known/smart-configuration` document.

Spec: SMART App Launch 2.x "Conformance" (https://hl7.org/fhir/smart-app-launch/STU2.1/conformance.html):
required fields `grant_types_supported`, `token_endpoint`, `capabilities`,
`code_challenge_methods_supported` (S256, never plain), plus `authorization_endpoint` for launch
capabilities and `issuer` / `jwks_uri` exactly when `sso-openid-connect` is advertised.  Also
SMART Backend Services "Discovery" (`token_endpoint_auth_methods_supported` with
`private_key_jwt`, `token_endpoint_auth_signing_alg_values_supported` RS384 / ES384).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CAPABILITIES = (
    "launch-standalone",
    "launch-ehr",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-ehr-encounter",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
)
ASSERTION_ALGS = ("RS384", "ES384")
SUPPORTED_SCOPES = (
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "system/*.cruds",
    "patient/*.read",
    "patient/*.write",
    "user/*.read",
    "user/*.write",
    "system/*.read",
    "system/*.write",
)


@dataclass(frozen=True)
class SmartConfig:
    """Endpoints and lifetimes (seconds); built from Settings by `from_settings`."""

    fhir_base: str  # also the OpenID issuer and the access tokens' audience
    access_token_lifetime: int = 900
    code_lifetime: int = 60
    offline_lifetime: int = 30 * 24 * 3600
    online_lifetime: int = 12 * 3600
    ticket_lifetime: int = 600  # login → approval step
    launch_lifetime: int = 300  # EHR launch ids
    login_failures_allowed: int = 5  # per username per window
    login_failure_window: int = 60
    assertion_max_lifetime: int = 300
    cors: bool = True  # advertised in the CapabilityStatement only when CORS is served

    @classmethod
    def from_settings(cls, settings: Any) -> SmartConfig:
        """Lifetimes and throttling from `Settings` (JIAYI_ACCESS_TOKEN_LIFETIME …); anything a
        settings object lacks keeps its default."""
        defaults = cls(fhir_base=settings.public_base)

        def pick(name: str, default: int) -> int:
            return int(getattr(settings, name, default))

        return cls(
            fhir_base=settings.public_base,
            access_token_lifetime=pick("access_token_lifetime", defaults.access_token_lifetime),
            code_lifetime=pick("code_lifetime", defaults.code_lifetime),
            offline_lifetime=pick("refresh_token_lifetime", defaults.offline_lifetime),
            online_lifetime=pick("online_refresh_lifetime", defaults.online_lifetime),
            launch_lifetime=pick("launch_lifetime", defaults.launch_lifetime),
            login_failures_allowed=pick("login_failures_allowed", defaults.login_failures_allowed),
            login_failure_window=pick("login_failure_window", defaults.login_failure_window),
            cors=bool(getattr(settings, "cors_origins", ["*"])),
        )

    @property
    def origin(self) -> str:
        parts = urlsplit(self.fhir_base)
        path = parts.path.rstrip("/")
        prefix = path[: -len("/fhir")] if path.endswith("/fhir") else ""
        return f"{parts.scheme}://{parts.netloc}{prefix}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/auth/{name}"


def smart_configuration(config: SmartConfig) -> dict[str, Any]:
    return {
        "issuer": config.fhir_base,
        "jwks_uri": config.endpoint("jwks"),
        "authorization_endpoint": config.endpoint("authorize"),
        "token_endpoint": config.endpoint("token"),
        "introspection_endpoint": config.endpoint("introspect"),
        "revocation_endpoint": config.endpoint("revoke"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "code_challenge_methods_supported": ["S256"],
        "capabilities": list(CAPABILITIES),
    }


def openid_configuration(config: SmartConfig) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3, for `sso-openid-connect` clients."""
    return {
        "issuer": config.fhir_base,
        "authorization_endpoint": config.endpoint("authorize"),
        "token_endpoint": config.endpoint("token"),
        "jwks_uri": config.endpoint("jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "fhirUser", "profile"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "fhirUser", "nonce"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
    }


def security_extension(config: SmartConfig) -> dict[str, Any]:
    """`CapabilityStatement.rest.security` for SMART (the lead adds it in conformance.capability)."""
    uris = [
        ("authorize", config.endpoint("authorize")),
        ("token", config.endpoint("token")),
        ("introspect", config.endpoint("introspect")),
        ("revoke", config.endpoint("revoke")),
    ]
    return {
        "cors": config.cors,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ]
            }
        ],
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": uri} for name, uri in uris],
            }
        ],
    }
