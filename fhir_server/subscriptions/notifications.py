"""Notification Bundles (pure).  Spec: Subscriptions R5 Backport IG, "Notifications" for R4: a
`history` Bundle whose first entry is a `Parameters` resource profiled as
`backport-subscription-status-r4` (subscription, topic, status, type, events-since-subscription-start,
notification-event with event-number / timestamp / focus), followed by the focus resources:
nothing for `empty`, `fullUrl` + `request` for `id-only`, the resource too for `full-resource`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.clock import fhir_instant
from .model import SubscriptionInfo

STATUS_PROFILE = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"


@dataclass(frozen=True)
class NumberedEvent:
    number: int
    timestamp: Any  # datetime
    resource_type: str
    resource_id: str
    version_id: int
    method: str
    resource: Mapping[str, Any] | None  # the version's content (None when deleted or not loaded)


_STATUS = {"POST": "201", "DELETE": "204"}


def history_request(e: NumberedEvent) -> dict[str, str]:
    """`Bundle.entry.request` of a history entry (R4 http.html#history): the interaction that
    made the version — POST to the type, PUT / PATCH / DELETE to the instance."""
    method = e.method if e.method in ("POST", "PUT", "PATCH", "DELETE") else "PUT"
    url = e.resource_type if method == "POST" else f"{e.resource_type}/{e.resource_id}"
    return {"method": method, "url": url}


def status_parameters(
    base_url: str,
    info: SubscriptionInfo,
    kind: str,
    events_since_start: int,
    events: Sequence[NumberedEvent] = (),
    status: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": "subscription",
            "valueReference": {"reference": f"{base_url}/Subscription/{info.id}"},
        },
        {"name": "topic", "valueCanonical": info.topic},
        {"name": "status", "valueCode": status or info.status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events_since_start)},
    ]
    for e in events:
        part: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(e.number)},
            {"name": "timestamp", "valueInstant": fhir_instant(e.timestamp)},
        ]
        if info.content != "empty":
            part.append(
                {
                    "name": "focus",
                    "valueReference": {
                        "reference": f"{base_url}/{e.resource_type}/{e.resource_id}"
                    },
                }
            )
        params.append({"name": "notification-event", "part": part})
    if error:
        params.append({"name": "error", "valueCodeableConcept": {"text": error}})
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": params,
    }


def notification_bundle(
    base_url: str,
    info: SubscriptionInfo,
    kind: str,
    events_since_start: int,
    events: Sequence[NumberedEvent] = (),
    *,
    content: str | None = None,
    bundle_type: str = "history",
    status: str | None = None,
) -> dict[str, Any]:
    content = content or info.content
    view = SubscriptionInfo(**{**info.__dict__, "content": content})
    status_res = status_parameters(base_url, view, kind, events_since_start, events, status)
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"urn:uuid:{status_res['id']}", "resource": status_res}
    ]
    if content != "empty":
        for e in events:
            url = f"{base_url}/{e.resource_type}/{e.resource_id}"
            entry: dict[str, Any] = {
                "fullUrl": url,
                "request": history_request(e),
                "response": {"status": _STATUS.get(e.method, "200"), "etag": f'W/"{e.version_id}"'},
            }
            if content == "full-resource" and e.resource is not None:
                entry["resource"] = dict(e.resource)
            entries.append(entry)
    if bundle_type != "history":
        for entry in entries:
            entry.pop("request", None)
            entry.pop("response", None)
    return (
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": bundle_type,
            "timestamp": fhir_instant(events[-1].timestamp) if events else None,
            "entry": entries,
        }
        if events
        else {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": bundle_type,
            "entry": entries,
        }
    )
