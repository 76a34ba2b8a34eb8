"""`Subscription/$status` and `Subscription/[id]/$events` of the Subscriptions R5 Backport IG.

- `$status` (instance or type level, `id` / `status` filters): a `searchset` Bundle of
  SubscriptionStatus Parameters (`type` = `query-status`) with `events-since-subscription-start`
  and, after failed deliveries, an `error`.
- `$events` (`eventsSinceNumber`, `eventsUntilNumber`, `content`): the stored events again, as a
  `query-event` notification — missed-event recovery for a receiver that saw a gap in numbers.
Spec: http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status
and …/backport-subscription-events.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ..subscriptions.model import subscription_info
from ..subscriptions.notifications import NumberedEvent, notification_bundle, status_parameters
from ..subscriptions.state import SubscriptionStore
from .parameters import OperationInput
from .spec import OperationSpec

_BASE = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"


def _store(repo: FhirRepository) -> SubscriptionStore:
    return SubscriptionStore(repo.components.database.engine)  # type: ignore[attr-defined]


def _status(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    if op.id:
        resources = [repo.read("Subscription", op.id).content]
    else:
        query = [("_count", "1000")]
        if ids := op.all("id"):
            query.append(("_id", ",".join(map(str, ids))))
        if statuses := op.all("status"):
            query.append(("status", ",".join(map(str, statuses))))
        resources = [r.content for r in repo.search(["Subscription"], query).matches]
    store = _store(repo)
    entries = []
    for resource in resources:
        info = subscription_info(resource or {})
        state = store.state(info.id)
        error = (
            f"{state.failures} failed deliveries in a row: {state.last_error}"
            if state.failures
            else None
        )
        params = status_parameters(
            repo.ctx.base_url, info, "query-status", state.events_since_start, error=error
        )
        entries.append(
            {"fullUrl": f"urn:uuid:{params['id']}", "resource": params, "search": {"mode": "match"}}
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": entries,
    }
    return FhirResponse(200, bundle)


def _number(op: OperationInput, name: str) -> int | None:
    value = op.one(name)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise E.bad_request(f"{name} must be an event number", name) from exc


def _events(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    assert op.id
    resource = repo.read("Subscription", op.id).content or {}
    info = subscription_info(resource)
    content = str(op.one("content") or info.content)
    if content not in ("empty", "id-only", "full-resource"):
        raise E.bad_request("content must be empty, id-only or full-resource", "content")
    store = _store(repo)
    stored = store.events(
        info.id, since=_number(op, "eventsSinceNumber"), until=_number(op, "eventsUntilNumber")
    )

    def body(rtype: str, rid: str, version: int) -> dict[str, Any] | None:
        try:
            return repo.vread(rtype, rid, str(version)).content
        except E.FhirError:
            return None

    # The event store is read directly: keep only events about versions the caller may read
    # (through the gate), so even `id-only` / `empty` notifications name nothing foreign.
    def visible(rtype: str, rid: str, version: int) -> bool:
        try:
            repo.vread(rtype, rid, str(version))
        except E.FhirError as exc:
            return exc.status == 410  # a deletion the caller may know of
        return True

    if repo.access is not None:
        stored = [e for e in stored if visible(e.resource_type, e.resource_id, e.version_id)]

    events = [
        NumberedEvent(
            e.number,
            e.occurred_at,
            e.resource_type,
            e.resource_id,
            e.version_id,
            e.method,
            body(e.resource_type, e.resource_id, e.version_id)
            if content == "full-resource" and e.method != "DELETE"
            else None,
        )
        for e in stored
    ]
    total = store.state(info.id).events_since_start
    bundle = notification_bundle(
        repo.ctx.base_url, info, "query-event", total, events, content=content
    )
    return FhirResponse(200, bundle)


OPERATIONS = [
    OperationSpec(
        "status",
        _BASE + "backport-subscription-status",
        _status,
        type_level=True,
        instance=True,
        resource_types=("Subscription",),
        affects_state=False,
        documentation="Subscription status (Subscriptions Backport)",
    ),
    OperationSpec(
        "events",
        _BASE + "backport-subscription-events",
        _events,
        instance=True,
        resource_types=("Subscription",),
        affects_state=False,
        documentation="Re-read a subscription's events by number (missed-event recovery)",
    ),
]
