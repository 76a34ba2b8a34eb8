"""A database whose units of work record outbox events through the production hook
(`SqlDatabase(outbox=…)`), for tests that drive dispatchers by hand."""

from __future__ import annotations

from fhir_server.outbox.writer import OutboxWriter
from fhir_server.search.registry import r4_registry
from fhir_server.storage.sql import SqlDatabase

BASE = "http://testserver/fhir"


def outbox_database(url: str, writer: OutboxWriter) -> SqlDatabase:
    return SqlDatabase(url, registry=r4_registry(), base_url=BASE, outbox=writer)
