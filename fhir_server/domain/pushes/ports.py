"""Ports of the pushes workflow: what it needs from outside, as Protocols.

- `KeyPopulations`: a resident's key populations on a date (INTERFACE.md "Key-population membership").
  `record.RecordKeyPopulations` is the default; the populations package's function replaces it when
  it lands (one adapter class, no change here).
- `MessageSender`: one delivery channel (app inbox, SMS, WeChat …), implemented in
  `adapters/messaging/`.  `send` is idempotent per `OutboundMessage.id` (the Communication id), so a
  job resumed after a crash between sending and committing does not reach the resident twice.
  `DeliveryReceipt.attempts` counts the channel's own tries within one call (HTTP retries); the
  pushes job counts delivery *runs* separately (`push-delivery-attempts`).
- `PushPlanStore`: the planner's tables (`storage/sql/push_plan.py`), rows as dicts; `PlanStores`
  binds one to a unit of work so plan changes commit with the pushes they account for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

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


class PushPlanStore(Protocol):
    def get_state(self, name: str) -> str | None: ...

    def set_state(self, name: str, value: str) -> None: ...

    def contracts(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def upsert_contracts(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def contracts_to_plan(
        self, on: date, after: str | None, limit: int
    ) -> list[dict[str, Any]]: ...

    def count_to_plan(self, on: date) -> int: ...

    def set_next_plan(self, updates: Sequence[tuple[str, date | None]]) -> None: ...

    def end_plans(
        self, contract_id: str, year_end: date | None, catch_up_from: date | None = None
    ) -> None: ...

    def insert_plans(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def history(self, patient_ids: Sequence[str]) -> dict[str, list[tuple[date, set[str]]]]: ...

    def count_due(self, on: date, lo: str | None = None, hi: str | None = None) -> int: ...

    def due(
        self,
        on: date,
        after: tuple[str, str] | None,
        limit: int,
        lo: str | None = None,
        hi: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def split_points(self, on: date, parts: int) -> list[str]: ...

    def mark(self, updates: Sequence[Mapping[str, Any]]) -> None: ...

    def plans_of(self, patient_id: str) -> list[dict[str, Any]]: ...

    def contracts_in_force(
        self, on: date, after: str | None, limit: int
    ) -> list[dict[str, Any]]: ...


class PlanStores(Protocol):
    """`stores(uow)`: a `PushPlanStore` in that unit of work; `stores(None)`: on its own."""

    def __call__(self, uow: Any = None) -> PushPlanStore: ...
