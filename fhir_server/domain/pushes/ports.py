"""Ports of the pushes workflow: what it needs from outside, as Protocols.

- `KeyPopulations`: a resident's key populations on a date (INTERFACE.md "Key-population membership").
  `record.RecordKeyPopulations` is the default; the populations package's function replaces it when
  it lands (one adapter class, no change here).
- `MessageSender`: one delivery channel (app inbox, SMS, WeChat …), implemented in
  `adapters/messaging/`.  `send` is idempotent per `OutboundMessage.id` (the Communication id), so a
  job resumed after a crash between sending and committing does not reach the resident twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .record import ResidentRecord


class KeyPopulations(Protocol):
    def of(self, record: ResidentRecord, on: date) -> frozenset[str]:
        """Key-population codes (https://jiayi.health/fhir/CodeSystem/key-population) on `on`."""
        ...


@dataclass(frozen=True)
class OutboundMessage:
    id: str  # idempotency key: the Communication id
    channel: str  # push-channel code
    patient_id: str
    title: str
    text: str
    priority: str = "routine"  # routine | urgent
    kind: str = "routine"  # push-kind code
    addresses: tuple[str, ...] = field(default=())  # phone numbers etc. from Patient.telecom


@dataclass(frozen=True)
class DeliveryReceipt:
    ok: bool
    attempts: int = 1
    sent: datetime | None = None
    received: datetime | None = None
    reason: str | None = None  # why it failed
    permanent: bool = False  # True: retrying cannot help (unknown recipient, rejected)


class MessageSender(Protocol):
    channel: str  # push-channel code served

    def send(self, message: OutboundMessage) -> DeliveryReceipt: ...
