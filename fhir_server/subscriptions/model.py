"""The R4 Subscription as the Backport IG profiles it (`backport-subscription`): `criteria` holds the
topic canonical, `criteria.extension` `backport-filter-criteria` the filters, `channel` a rest-hook
with `backport-payload-content` (empty | id-only | full-resource), `backport-heartbeat-period`,
`backport-timeout` and `backport-max-count` extensions.  Pure.  Filters are resolved per event by
`filters.FilterResolver`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"


def _ext_value(holder: Mapping[str, Any] | None, name: str) -> Any:
    for e in (holder or {}).get("extension") or []:
        if e.get("url") == BP + name:
            return next((v for k, v in e.items() if k.startswith("value")), None)
    return None


@dataclass(frozen=True)
class SubscriptionInfo:
    id: str
    status: str
    topic: str
    filters: tuple[tuple[str, str, str], ...]  # (resource type, parameter, value)
    channel: str
    endpoint: str | None
    headers: tuple[str, ...]
    content: str  # empty | id-only | full-resource
    heartbeat_seconds: int | None
    timeout_seconds: int
    max_count: int


def subscription_info(resource: Mapping[str, Any]) -> SubscriptionInfo:
    channel = resource.get("channel") or {}
    payload = channel.get("_payload") or {}
    filters = []
    for e in (resource.get("_criteria") or {}).get("extension") or []:
        if e.get("url") == BP + "backport-filter-criteria":
            rtype, _, query = str(e.get("valueString", "")).partition("?")
            filters += [(rtype, k, v) for k, v in parse_qsl(query)]
    return SubscriptionInfo(
        id=str(resource.get("id")),
        status=str(resource.get("status")),
        topic=str(resource.get("criteria", "")),
        filters=tuple(filters),
        channel=str(channel.get("type", "")),
        endpoint=channel.get("endpoint"),
        headers=tuple(channel.get("header") or ()),
        content=str(_ext_value(payload, "backport-payload-content") or "id-only"),
        heartbeat_seconds=_ext_value(channel, "backport-heartbeat-period"),
        timeout_seconds=int(_ext_value(channel, "backport-timeout") or 10),
        max_count=int(_ext_value(channel, "backport-max-count") or 1),
    )
