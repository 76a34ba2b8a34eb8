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

#: FHIR interaction → AuditEvent.action (http://hl7.org/fhir/R4/valueset-audit-event-action.html):
#: reads R, searches and operations E (execute: a query or procedure), writes C/U/D.
INTERACTION_ACTIONS = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "capabilities": "R",
    "search-type": "E",
    "search-system": "E",
    "search-compartment": "E",
    "operation": "E",
    "batch-transaction": "E",
    "create": "C",
    "conditional-create": "C",
    "update": "U",
    "conditional-update": "U",
    "patch": "U",
    "conditional-patch": "U",
    "delete": "D",
    "conditional-delete": "D",
}
_METHOD_ACTIONS = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
_MAX_ENTITIES = 50
CLIENT_ID_SYSTEM = "https://jiayi.health/fhir/sid/client-id"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
#: Subtypes of a disclosure (an Export event): the way the data left the server.
DISCLOSURE_CHANNELS = "https://jiayi.health/fhir/CodeSystem/disclosure-channel"


@dataclass(frozen=True)
class AuditRecord:
    """What a request leaves behind for the audit writer (cheap to build on the request path).

    `targets`: what the request named (its route's resource, the compartment's patient …) as
    `Type/id`, recorded even when nothing was shown (a 404, a 403), so a resident's
    who-accessed list shows attempts too; the writer adds the targets' patients.  `kind`
    `"auth"` records an event of the authorisation server (`event`: login, token …)."""

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
    targets: tuple[str, ...] = ()
    kind: str = "rest"
    event: str = ""  # auth events: login, login-throttled, token, invalid-client, refresh-reuse
    username: str | None = None  # auth events: the user name or client id attempted
    client_id: str | None = None
    # disclosures (`kind` "disclosure", `event` the channel): who received the data, where
    recipient: Mapping[str, Any] | None = None  # the recipient agent's `who`
    endpoint: str | None = None  # where it went (no query string: it may hold secrets)


def _outcome(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _shown(resource: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not resource:
        return []
    if resource.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in resource.get("entry", []) or []
            if isinstance(e, Mapping)
            and isinstance(e.get("resource"), Mapping)
            and e["resource"].get("resourceType") != "OperationOutcome"
        ]
    return [resource] if resource.get("resourceType") != "OperationOutcome" else []


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    p = record.principal
    who: dict[str, Any] = {"display": record.username or "anonymous"}
    if p is not None and p.kind == "system":
        who = {
            "identifier": {"system": CLIENT_ID_SYSTEM, "value": p.client_id},
            "display": f"back-end client {p.client_id}",
        }
    elif p is not None:
        who = {"reference": p.fhir_user} if p.fhir_user else {"display": p.subject}
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if p is not None:
        agent["altId"] = p.subject
        agent["name"] = p.subject
        role = "system" if p.kind == "system" else p.role
        if role:
            agent["role"] = [{"text": role}]
    elif record.username:
        agent["altId"] = record.username
        agent["name"] = record.username
    if record.source_ip:
        agent["network"] = {"address": record.source_ip, "type": "2"}
    agents = [agent]
    client = p.client_id if p is not None else record.client_id
    if client and not (p is not None and p.kind == "system"):
        agents.append(
            {
                "who": {
                    "identifier": {"system": CLIENT_ID_SYSTEM, "value": client},
                    "display": f"client {client}",
                },
                "requestor": False,
            }
        )
    if p is not None and p.organization_reference:
        agents.append({"who": {"reference": p.organization_reference}, "requestor": False})
    return agents


def _disclosure_agents(record: AuditRecord) -> list[dict[str, Any]]:
    """The server as source (it initiated the disclosure) and the recipient as destination
    (DICOM PS3.15 "Export": roles 110153 Source / 110152 Destination), with the recipient's
    client id and Organization when the recipient is a SMART client."""
    source = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "who": {"display": "Jiayi FHIR server"},
        "requestor": True,
    }
    who = dict(record.recipient or {"display": record.username or "unknown recipient"})
    destination: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "who": who,
        "requestor": False,
    }
    if record.username:
        destination["name"] = record.username
    if record.endpoint:
        destination["network"] = {"address": record.endpoint, "type": "5"}
    agents = [source, destination]
    p = record.principal
    if p is not None and p.client_id:
        client = {"identifier": {"system": CLIENT_ID_SYSTEM, "value": p.client_id},
                  "display": f"client {p.client_id}"}  # fmt: skip
        if who.get("identifier") != client["identifier"]:
            agents.append({"who": client, "requestor": False})
    if (
        p is not None
        and p.organization_reference
        and who.get("reference") != (p.organization_reference)
    ):
        agents.append({"who": {"reference": p.organization_reference}, "requestor": False})
    return agents


def _type(record: AuditRecord) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if record.kind == "disclosure":
        return (
            {"system": DCM, "code": "110106", "display": "Export"},
            [{"system": DISCLOSURE_CHANNELS, "code": record.event}] if record.event else [],
        )
    if record.kind == "auth":
        return (
            {"system": DCM, "code": "110114", "display": "User Authentication"},
            [{"system": DCM, "code": "110122", "display": "Login"}],
        )
    subtype = (
        [{"system": "http://hl7.org/fhir/restful-interaction", "code": record.interaction}]
        if record.interaction
        else []
    )
    return (
        {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        subtype,
    )


def build_audit_event(
    record: AuditRecord,
    patients_of: Callable[[Mapping[str, Any]], Iterable[str]],
    target_patients: Callable[[str], Iterable[str]] | None = None,
) -> dict[str, Any]:
    """One AuditEvent for one request, Bundle entry or authorisation event (pure, given
    `target_patients`, which names the patients of a `Type/id` the request targeted)."""
    entities: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(ref: str) -> None:
        if ref not in seen and len(entities) < _MAX_ENTITIES:
            seen.add(ref)
            entities.append({"what": {"reference": ref}})

    for shown in _shown(record.resource):
        add(f"{shown.get('resourceType')}/{shown.get('id')}")
        for p in patients_of(shown):
            add(f"Patient/{p}")
    for target in record.targets:
        add(target)
        if target_patients is not None:
            for p in target_patients(target):
                add(f"Patient/{p}")
    principal = record.principal
    if principal is not None and principal.patient:
        add(f"Patient/{principal.patient}")
    if record.query:
        entities.append(
            {"query": base64.b64encode(record.query.encode()).decode(), "description": "query"}
        )
    kind, subtype = _type(record)
    action = (
        "E"
        if record.kind == "auth"
        else "R"
        if record.kind == "disclosure"
        else INTERACTION_ACTIONS.get(record.interaction, _METHOD_ACTIONS.get(record.method, "E"))
    )
    where = f"{record.method} /{record.path}" if record.kind == "rest" else record.event
    if record.kind == "disclosure":
        outcome_desc = (
            f"{record.event} {record.path} to {record.username or record.endpoint or '?'}: "
            f"{'delivered' if record.status < 400 else 'failed'} ({record.status})"
        )
    else:
        outcome_desc = f"HTTP {record.status} {where} (request {record.request_id})"
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": kind,
        "action": action,
        "recorded": fhir_instant(record.recorded),
        "outcome": _outcome(record.status),
        "outcomeDesc": outcome_desc,
        "agent": _disclosure_agents(record) if record.kind == "disclosure" else _agents(record),
        "source": {"observer": {"display": "Jiayi FHIR server"}},
    }
    if subtype:
        event["subtype"] = subtype
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

    def _targets(self, uow: Any) -> Callable[[str], Iterable[str]]:
        """The patients of a targeted `Type/id`, read as the server (for a deletion: what it
        deleted) — so an attempt on a resource outside the caller's reach is still listed under
        the resident it concerns."""

        def patients(ref: str) -> Iterable[str]:
            rtype, _, rid = ref.partition("/")
            if not rid or "/" in rid:
                return ()
            try:
                record = uow.resources.current(rtype, rid)
                if record is not None and record.deleted and record.version_id > 1:
                    record = uow.resources.version(rtype, rid, record.version_id - 1)
            except Exception:  # noqa: BLE001 - an unknown type or id names no patient
                return ()
            if record is None or record.content is None:
                return ()
            return self.patients_of(record.content)

        return patients

    def _store(self, batch: list[AuditRecord]) -> None:
        try:
            with self.database.unit_of_work(write=True) as uow:
                for rec in batch:
                    content = build_audit_event(rec, self.patients_of, self._targets(uow))
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


# -- disclosures (workflows sending data out: Subscriptions, adapters) ---------------------------------
def public_endpoint(url: str | None) -> str | None:
    """An endpoint as the audit trail shows it: scheme, host and path (no credentials, no query)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url.split("?", 1)[0]


def disclosure_record(
    channel: str,
    what: str,
    disclosed: Iterable[str],
    *,
    delivered: bool,
    status: int | None = None,
    recipient: Mapping[str, Any] | None = None,
    recipient_name: str | None = None,
    endpoint: str | None = None,
    principal: Any = None,
    at: datetime | None = None,
    patients: Iterable[str] = (),
) -> AuditRecord:
    """The audit record of one disclosure: `channel` (subtype: `subscription-notification`,
    `health-record`, `signing-platform` …), `what` (e.g. `Subscription/s1 event 4-6`),
    `disclosed` the `Type/id`s sent (the writer adds the residents they concern; `patients`
    names residents directly), `delivered` or failed (`status`: the recipient's answer, if any),
    `recipient` the destination agent's `who`."""
    from datetime import UTC

    code = status if status is not None else (200 if delivered else 503)
    if not delivered and code < 400:
        code = 502
    targets = [*disclosed, *(f"Patient/{p}" for p in patients)]
    return AuditRecord(
        recorded=at or datetime.now(UTC),
        method="POST",
        path=what,
        query="",
        status=code,
        source_ip=None,
        request_id=str(uuid.uuid4()),
        principal=principal,
        targets=tuple(dict.fromkeys(targets)),
        kind="disclosure",
        event=channel,
        username=recipient_name,
        recipient=recipient,
        endpoint=public_endpoint(endpoint),
    )


# -- from a request (the REST edge calls this; no I/O) -----------------------------------------------
_PATIENT_PARAMS = ("patient", "subject", "_id")


def route_targets(
    resource_type: str | None,
    rid: str | None,
    query: Iterable[tuple[str, str]] = (),
) -> tuple[str, ...]:
    """What a request names: its resource (`Type/id`), and patients named by `patient=` /
    `subject=` (or `Patient?_id=`) search parameters."""
    out: list[str] = []
    if resource_type and rid:
        out.append(f"{resource_type}/{rid}")
    for name, value in query:
        code = name.split(":", 1)[0]
        if code not in _PATIENT_PARAMS:
            continue
        for item in value.split(","):
            item = item.strip()
            if code == "_id" and resource_type == "Patient" and item:
                out.append(f"Patient/{item}")
            elif item.startswith("Patient/") and item.count("/") == 1:
                out.append(item)
            elif name.endswith(":Patient") and item and "/" not in item:
                out.append(f"Patient/{item}")
    return tuple(dict.fromkeys(out))


def entry_records(
    parent: AuditRecord,
    bundle: Mapping[str, Any] | None,
    response: Mapping[str, Any] | None,
    resolve: Callable[[str, str, list[tuple[str, str]]], tuple[str, str | None, str | None]],
) -> list[AuditRecord]:
    """One record per batch/transaction entry: its method, URL, status (from the response
    Bundle, or the transaction's own status when it failed as a whole) and what it showed.
    `resolve(method, path, query)` → (interaction, resource type, id) of an entry's URL."""
    from urllib.parse import parse_qsl, urlsplit

    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        return []
    responses = (
        response.get("entry", [])
        if isinstance(response, Mapping) and response.get("resourceType") == "Bundle"
        else []
    )
    out = []
    for i, entry in enumerate(bundle.get("entry", []) or []):
        request = entry.get("request") if isinstance(entry, Mapping) else None
        if not isinstance(request, Mapping) or not isinstance(request.get("url"), str):
            continue
        method = str(request.get("method", ""))
        parts = urlsplit(request["url"])
        path = parts.path.strip("/")
        query = parse_qsl(parts.query, keep_blank_values=True)
        answer = responses[i] if i < len(responses) and isinstance(responses[i], Mapping) else {}
        status_line = str((answer.get("response") or {}).get("status", ""))
        status = int(status_line[:3]) if status_line[:3].isdigit() else parent.status
        try:
            interaction, rtype, rid = resolve(method, path, query)
        except Exception:  # noqa: BLE001 - an entry the router refuses is still recorded
            interaction, rtype, rid = "", None, None
        out.append(
            AuditRecord(
                recorded=parent.recorded,
                method=method,
                path=path,
                query=parts.query,
                status=status,
                source_ip=parent.source_ip,
                request_id=f"{parent.request_id}#{i}",
                principal=parent.principal,
                resource=answer.get("resource") if isinstance(answer, Mapping) else None,
                interaction=interaction,
                targets=route_targets(rtype, rid, query),
            )
        )
    return out
