"""The R4 Subscription as the Backport IG profiles it (`backport-subscription`): `criteria` holds the
topic canonical, `criteria.extension` `backport-filter-criteria` the filters, `channel` a rest-hook
with `backport-payload-content` (empty | id-only | full-resource), `backport-heartbeat-period`,
`backport-timeout` and `backport-max-count` extensions.  Pure."""

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


def _references(value: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(value, Mapping):
        ref = value.get("reference")
        if isinstance(ref, str):
            out.add(ref)
        for v in value.values():
            out |= _references(v)
    elif isinstance(value, list):
        for v in value:
            out |= _references(v)
    return out


def filters_hold(
    info: SubscriptionInfo, resource_type: str, content: Mapping[str, Any] | None
) -> bool:
    """Each filter for this type holds.  Reference-valued filters (`patient`, `subject`,
    `requester` …) hold when the resource refers to the value (or is it); others compare the
    top-level element's code.  A deleted resource passes (there is nothing left to test)."""
    if content is None:
        return True
    own = f"{resource_type}/{content.get('id')}"
    for rtype, param, value in info.filters:
        if rtype not in (resource_type, "*", ""):
            continue
        if "/" in value:
            if value != own and not any(r.endswith(value) for r in _references(content)):
                return False
        elif str(content.get(param)) != value:
            return False
    return True
