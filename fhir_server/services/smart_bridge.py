"""What the SMART authorisation server needs from the services layer, wired by `app.py`:

- `auth_events(sink)`: its events (logins, throttling, token issuance, invalid clients, refresh
  reuse …) as AuditEvents through the audit writer;
- `patient_check(components, base_url)`: may this user take this Patient into context (the
  approval page's patient picker, `POST /auth/launch`)?  Asked of the access gate itself: the
  Patient must exist and be readable by the user (for a doctor: a contracted resident).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..auth.principal import Principal
from ..auth.scopes import parse_scopes
from ..auth.smart.authorize import PatientCheck
from ..auth.smart.events import AuthEvents, Origin
from ..core.errors import FhirError
from .audit import AuditRecord
from .context import RequestContext, ServerComponents


def auth_events(sink: Any) -> AuthEvents:
    """An `AuthEvents` callback recording into `sink` (`services.audit.AuditSink`)."""

    def record(
        origin: Origin,
        event: str,
        status: int,
        *,
        username: str | None = None,
        client_id: str | None = None,
        principal: Any = None,
        detail: str = "",
    ) -> None:
        sink.record(
            AuditRecord(
                recorded=datetime.now(UTC),
                method="POST",
                path=f"auth/{event}",
                query="",
                status=status,
                source_ip=origin.source_ip,
                request_id=origin.request_id,
                principal=principal,
                kind="auth",
                event=f"{event}{': ' + detail if detail else ''}",
                username=username,
                client_id=client_id,
            )
        )

    return record


def patient_check(components: ServerComponents, base_url: str) -> PatientCheck:
    from .repository import FhirRepository

    def check(fhir_user: str | None, role: str | None, patient: str) -> bool:
        principal = Principal(
            subject="patient-picker",
            client_id="-",
            kind="user",
            scopes=parse_scopes("user/Patient.r"),
            role=role,
            fhir_user=fhir_user,
        )
        repo = FhirRepository(RequestContext(base_url, "patient-picker", principal), components)
        try:
            repo.read("Patient", patient)
        except FhirError:
            return False
        return True

    return check
