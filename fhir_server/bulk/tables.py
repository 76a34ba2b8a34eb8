"""Bulk Data export jobs and their NDJSON files, on the shared `metadata` (migration 0006).

Files live in the database so every worker process can serve the status and download endpoints.
Spec: Bulk Data Access IG 2.0 (https://hl7.org/fhir/uv/bulkdata/export.html).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, String, Table, Text

from ..storage.sql.tables import JsonDocument, metadata

bulk_export_job = Table(
    "bulk_export_job",
    metadata,
    Column("id", String(64), primary_key=True),
    # accepted | in-progress | completed | error | cancelled
    Column("status", String(16), nullable=False),
    Column("request_url", Text, nullable=False),
    Column("params", JsonDocument, nullable=False),
    Column("owner", String(255), nullable=True),  # client id of the kick-off
    Column("requires_token", Boolean, nullable=False, default=False),
    Column("transaction_time", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("progress", String(200), nullable=True),
    Column("error", Text, nullable=True),
)

bulk_export_file = Table(
    "bulk_export_file",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("file_no", Integer, primary_key=True),
    Column("res_type", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # output | error
    Column("count", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)
