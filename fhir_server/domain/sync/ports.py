"""Ports the sync adapters implement (`adapters/signing_platform`, `adapters/health_record`).

Outbox events arrive as objects with `seq`, `resource_type`, `resource_id`, `version_id`,
`occurred_at`, `method` and `deleted` (`fhir_server.outbox.dispatcher.OutboxEvent`); `repo` is the
`FhirRepository` of a named system context.  A `deliver` answers seq → None (the receiver holds
the change) or a refusal reason (reported, not retried); it raises for a transient failure (the
outbox backs off and retries), `PartialDelivery` when part of the batch got through, and
`PermanentFailure` when the receiver refuses this server as such (credentials, endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from ...outbox.dispatcher import PartialDelivery, PermanentFailure

__all__ = [
    "HealthRecordStore",
    "Integrations",
    "PartialDelivery",
    "PermanentFailure",
    "RecordRefused",
    "SigningPlatform",
]


class RecordRefused(Exception):
    """The receiver refused this record (or this resident's publication) for good: the reason
    is reported and the change is not retried."""


class SigningPlatform(Protocol):
    consumer: str
    resource_types: frozenset[str]

    def deliver(self, repo: Any, events: Sequence[Any]) -> Mapping[int, str | None]:
        """Send the changes; seq → None (observed by the platform) or the refusal reason."""

    def reconcile(self, repo: Any, day: date) -> str:
        """Compare counts and checksums of `day` with the platform, resend differences."""

    def import_inbound(self, repo: Any) -> str:
        """Import the platform's doctor directory and platform-signed contracts, no duplicates."""


class HealthRecordStore(Protocol):
    """The regional health-record store, as a FHIR server.  Both calls are idempotent (PUT and
    DELETE by id), so a resend after a crash changes nothing."""

    def publish(
        self,
        patient_id: str,
        document: Mapping[str, Any],
        resources: Sequence[Mapping[str, Any]],
        deleted: Sequence[tuple[str, str]],
    ) -> None:
        """Store the resident's summary document, the changed resources, and remove deleted ones.
        Raises `RecordRefused`, `PermanentFailure`, or any other exception when unavailable."""

    def withdraw(self, patient_id: str, references: Sequence[tuple[str, str]]) -> None:
        """Remove the resident's summary document and these resources (Consent withdrawn)."""


class Integrations(Protocol):
    """What app.py hands the jobs (`ServerComponents.integrations`)."""

    signing_platform: SigningPlatform | None
    health_record: Any

    def drain(self) -> str:
        """Run every outbox consumer until idle; a one-line summary."""
