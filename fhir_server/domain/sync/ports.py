"""Ports the sync adapters implement (`adapters/signing_platform`, `adapters/health_record`).

Outbox events arrive as objects with `seq`, `resource_type`, `resource_id`, `version_id`,
`occurred_at` and `deleted` (`fhir_server.outbox.dispatcher.OutboxEvent`); `repo` is the
`FhirRepository` of a named system context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol


class SigningPlatform(Protocol):
    consumer: str
    resource_types: frozenset[str]

    def deliver(self, repo: Any, events: Sequence[Any]) -> Mapping[int, str | None]:
        """Send the changes; seq → None (observed by the platform) or the refusal reason."""

    def reconcile(self, repo: Any, day: date) -> str:
        """Compare counts and checksums of `day` with the platform, resend differences."""

    def import_inbound(self, repo: Any) -> str:
        """Import the platform's doctor directory and platform-signed contracts, no duplicates."""


class Integrations(Protocol):
    """What app.py hands the jobs (`ServerComponents.integrations`)."""

    signing_platform: SigningPlatform | None

    def drain(self) -> str:
        """Run every outbox consumer until idle; a one-line summary."""
