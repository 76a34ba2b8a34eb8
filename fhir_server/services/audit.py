"""The audit trail: an `AuditEvent` for every access and every denied attempt (issue 5; FHIR R4
auditevent.html, IHE BALP's "RESTful" event shape).

Requests only hand a small record to a queue; a background writer builds the AuditEvents and stores
them in batches, so auditing does not slow the request.  The queue is flushed on shutdown.  Events
are written only when authorisation is on (with `--auth off` there is no "who" to record).
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.clock import fhir_instant
from ..storage.ports import Database, StoredResource

log = logging.getLogger("jiayi.audit")

_ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
_MAX_ENTITIES = 50


@dataclass(frozen=True)
class AuditRecord:
    """What a request leaves behind for the audit writer (cheap to build on the request path)."""

    recorded: datetime
    method: str
    path: str
    query: str
    status: int
    source_ip: str | None
    request_id: str
    principal: Any = None  # auth.principal.Principal, or None for an unauthenticated attempt
    resource: Mapping[str, Any] | None = None  # the response body (resources it shows)
    interaction: str = ""


def _outcome(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _shown(resource: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not resource:
        return []
    if resource.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in resource.get("entry", []) or []
            if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
        ]
    return [resource] if resource.get("resourceType") != "OperationOutcome" else []


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    p = record.principal
    who: dict[str, Any] = {"display": "anonymous"}
    if p is not None:
        who = {"reference": p.fhir_user} if p.fhir_user else {"display": p.subject}
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if p is not None:
        agent["altId"] = p.subject
        if p.role:
            agent["role"] = [{"text": p.role}]
    if record.source_ip:
        agent["network"] = {"address": record.source_ip, "type": "2"}
    agents = [agent]
    if p is not None and p.client_id:
        agents.append({"who": {"display": f"client {p.client_id}"}, "requestor": False})
    return agents


def build_audit_event(
    record: AuditRecord, patients_of: Callable[[Mapping[str, Any]], Iterable[str]]
) -> dict[str, Any]:
    """One AuditEvent for one request (pure)."""
    entities: list[dict[str, Any]] = []
    seen: set[str] = set()
    for shown in _shown(record.resource):
        ref = f"{shown.get('resourceType')}/{shown.get('id')}"
        refs = [ref] + [f"Patient/{p}" for p in patients_of(shown)]
        for r in refs:
            if r not in seen and len(entities) < _MAX_ENTITIES:
                seen.add(r)
                entities.append({"what": {"reference": r}})
    if record.query:
        entities.append(
            {"query": base64.b64encode(record.query.encode()).decode(), "description": "query"}
        )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "action": _ACTIONS.get(record.method, "E"),
        "recorded": fhir_instant(record.recorded),
        "outcome": _outcome(record.status),
        "outcomeDesc": f"HTTP {record.status} {record.method} /{record.path} (request {record.request_id})",
        "agent": _agents(record),
        "source": {"observer": {"display": "Jiayi FHIR server"}},
    }
    if record.interaction:
        event["subtype"] = [
            {"system": "http://hl7.org/fhir/restful-interaction", "code": record.interaction}
        ]
    if entities:
        event["entity"] = entities
    return event


@dataclass
class BackgroundAuditWriter:
    """Queue + one writer thread storing AuditEvents in batches (implements the AuditSink port)."""

    database: Database
    patients_of: Callable[[Mapping[str, Any]], Iterable[str]]
    batch_size: int = 200
    _queue: queue.Queue[AuditRecord | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jiayi-audit", daemon=True)
            self._thread.start()

    def record(self, record: AuditRecord) -> None:
        self.start()
        self._queue.put(record)

    def close(self, timeout: float = 30) -> None:
        """Flush what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[AuditRecord] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stop = item is None
            if batch:
                self._store(batch)

    def _store(self, batch: list[AuditRecord]) -> None:
        try:
            with self.database.unit_of_work(write=True) as uow:
                for rec in batch:
                    content = build_audit_event(rec, self.patients_of)
                    rid = str(uuid.uuid4())
                    content = {
                        "resourceType": "AuditEvent",
                        "id": rid,
                        "meta": {"versionId": "1", "lastUpdated": fhir_instant(rec.recorded)},
                        **{k: v for k, v in content.items() if k != "resourceType"},
                    }
                    uow.resources.write(
                        StoredResource("AuditEvent", rid, 1, rec.recorded, False, content, "POST"),
                        0,
                    )
                uow.commit()
        except Exception:  # noqa: BLE001 - the audit trail must never take the server down
            log.exception("could not store %d audit events", len(batch))
