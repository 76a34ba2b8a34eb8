"""Outbox tables on the shared `metadata` (migration 0006).

- `outbox_event`: one row per recorded change (resource type/id/version, method, time, the
  SubscriptionTopic canonicals it matched).  `seq` orders the events.
- `outbox_delivery`: one row per (consumer, event), written in the same transaction as the event,
  so a dispatcher never misses an event whose transaction committed late (no sequence gaps).
- `outbox_consumer`: per consumer, the lease (one dispatcher at a time across processes) and the
  back-off state after a transient failure.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ..storage.sql.tables import JsonDocument, Seq, metadata

outbox_event = Table(
    "outbox_event",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("history_seq", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("topics", JsonDocument, nullable=False),
    Index("ix_outbox_event_resource", "res_type", "res_id"),
)

outbox_delivery = Table(
    "outbox_delivery",
    metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_seq", BigInteger, primary_key=True),
    Column("status", String(16), nullable=False),  # pending | delivered | rejected
    Column("attempts", Integer, nullable=False, default=0),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_outbox_delivery_pending", "consumer", "status", "event_seq"),
)

outbox_consumer = Table(
    "outbox_consumer",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
)
