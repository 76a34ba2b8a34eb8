"""Subscription state, numbered events and subscribers, on the shared `metadata` (migrations
0006, 0010).

Spec: Subscriptions R5 Backport IG (http://hl7.org/fhir/uv/subscriptions-backport/), "events
since subscription start" numbering and `$events` (missed-event recovery) read these rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, UniqueConstraint

from ..storage.sql.tables import JsonDocument, metadata

subscription_state = Table(
    "subscription_state",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    Column("events_since_start", BigInteger, nullable=False, default=0),
    Column("last_sent_at", DateTime(timezone=True), nullable=True),
    Column("handshake_at", DateTime(timezone=True), nullable=True),
    # The newest outbox event when it became active: older events are not delivered to it.
    Column("start_seq", BigInteger, nullable=True),
)

subscription_event = Table(
    "subscription_event",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    Column("event_number", BigInteger, primary_key=True),
    Column("outbox_seq", BigInteger, nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("method", String(8), nullable=False, server_default="PUT"),
    UniqueConstraint("subscription_id", "outbox_seq", name="uq_subscription_event_seq"),
    Index("ix_subscription_event_seq", "outbox_seq"),
)

#: Who created (or last changed) each Subscription: the principal's token claims (None: the
#: server itself, or authorisation off).  Notifications carry only what that principal may read.
subscription_owner = Table(
    "subscription_owner",
    metadata,
    Column("subscription_id", String(64), primary_key=True),
    Column("claims", JsonDocument, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
