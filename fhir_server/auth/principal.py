"""`Principal`: who is calling, decoded from a verified access token.

Spec: SMART App Launch 2.x, "App Launch: Launch and Authorization" (token response fields `patient`,
`encounter`, `fhirUser`, `scope`) and SMART Backend Services ("system/" scopes, client identity).
The access-token claims written by `auth.tokens` are exactly the fields below, so any worker can
rebuild the Principal without a database lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .scopes import ScopeSet, parse_scopes

PrincipalKind = Literal["user", "patient", "system"]
ROLES = (
    "resident",
    "doctor",
    "nurse",
    "institution-admin",
    "commission",
    "auditor",
    "admin",
)
#: Roles whose users sign in with a Practitioner identity (the rest are residents or staff accounts).
PRACTITIONER_ROLES = frozenset(
    {"doctor", "nurse", "institution-admin", "commission", "auditor", "admin"}
)


@dataclass(frozen=True)
class Principal:
    """The caller of one request; immutable."""

    subject: str  # username, or client id for system callers
    client_id: str
    kind: PrincipalKind
    scopes: ScopeSet = field(default_factory=ScopeSet)
    role: str | None = None
    fhir_user: str | None = None  # "Patient/123" or "Practitioner/7"
    patient: str | None = None  # patient id in launch context
    encounter: str | None = None
    expires_at: datetime | None = None
    token_id: str | None = None
    organization: str | None = None  # back-end clients: the Organization id they act for

    @property
    def organization_reference(self) -> str | None:
        return f"Organization/{self.organization}" if self.organization else None

    @property
    def patient_reference(self) -> str | None:
        return f"Patient/{self.patient}" if self.patient else None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at

    def audit_agent(self) -> dict[str, Any]:
        """Who to name in an AuditEvent.agent (the lead's audit module uses this)."""
        who: dict[str, Any] = {"display": self.subject}
        if self.fhir_user:
            who["reference"] = self.fhir_user
        return {"who": who, "altId": self.client_id, "requestor": True}

    def to_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "sub": self.subject,
            "client_id": self.client_id,
            "kind": self.kind,
            "scope": self.scopes.text,
        }
        optional = {
            "role": self.role,
            "fhirUser": self.fhir_user,
            "patient": self.patient,
            "encounter": self.encounter,
            "organization": self.organization,
        }
        claims.update({k: v for k, v in optional.items() if v})
        return claims

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        kind = claims.get("kind")
        if kind not in ("user", "patient", "system"):
            raise ValueError("token names no principal kind")
        exp = claims.get("exp")
        return cls(
            subject=str(claims.get("sub", "")),
            client_id=str(claims.get("client_id", "")),
            kind=kind,
            scopes=parse_scopes(str(claims.get("scope", ""))),
            role=claims.get("role"),
            fhir_user=claims.get("fhirUser"),
            patient=claims.get("patient"),
            encounter=claims.get("encounter"),
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None,
            token_id=claims.get("jti"),
            organization=claims.get("organization"),
        )
