"""What a client may write as a Subscription (pure; run on every client write by
`domain.sync.rules_on_write.SubscriptionRule`).

Spec: Subscriptions R5 Backport IG for R4 ("backport-subscription" profile, "Handshake",
"Channels: REST Hook", "Filtering") and R4 subscription.html:

- `criteria` is the canonical of a topic this server offers;
- every `backport-filter-criteria` is `Type?parameter=value` with (Type, parameter) in the
  topic's `canFilterBy`;
- `channel.type` is `rest-hook` (the one channel served), `channel.endpoint` an `https` URL
  (plain `http` only to a loopback host, for local testing), `channel.payload`
  `application/fhir+json`, payload content `empty`, `id-only` or `full-resource`;
- `status`: a client asks for `requested` (or `off`); only the server makes a subscription
  `active` (after a successful handshake) or `error`.  A client may keep `active` only on an
  update that leaves the channel and criteria alone.

Each problem is an `Issue` whose `expression` points at the element (FHIRPath, R4 names).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..core import errors as E
from .model import BP
from .topics import TopicCatalog

CHANNELS = frozenset({"rest-hook"})
CONTENTS = frozenset({"empty", "id-only", "full-resource"})
PAYLOADS = frozenset({"application/fhir+json", "application/json"})
CLIENT_STATUSES = frozenset({"requested", "off"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _issue(text: str, where: str, code: str = "business-rule") -> E.Issue:
    return E.error(code, text, where, message_id="JY-SUB-422")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_problem(endpoint: Any) -> str | None:
    """Why `endpoint` cannot receive notifications (None: it can)."""
    if not isinstance(endpoint, str) or not endpoint:
        return "a rest-hook Subscription needs channel.endpoint"
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return None
    return (
        f"channel.endpoint '{endpoint}' must be an https URL "
        "(plain http is accepted only for a loopback host)"
    )


def _filters(resource: Mapping[str, Any]) -> list[tuple[int, str]]:
    exts = (resource.get("_criteria") or {}).get("extension") or []
    return [
        (i, str(e.get("valueString", "")))
        for i, e in enumerate(exts)
        if isinstance(e, Mapping) and e.get("url") == BP + "backport-filter-criteria"
    ]


def _content(channel: Mapping[str, Any]) -> Any:
    for e in (channel.get("_payload") or {}).get("extension") or []:
        if e.get("url") == BP + "backport-payload-content":
            return e.get("valueCode")
    return None


def _same_channel(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    keys = ("channel", "criteria", "_criteria")
    return a is not None and b is not None and all(a.get(k) == b.get(k) for k in keys)


def check_subscription(
    resource: Mapping[str, Any],
    catalog: TopicCatalog,
    current: Mapping[str, Any] | None = None,
) -> list[E.Issue]:
    """The problems of a client's Subscription write (empty: acceptable).  `current`: the stored
    version it replaces (None on create)."""
    issues: list[E.Issue] = []
    topic = catalog.topics.get(str(resource.get("criteria", "")))
    if topic is None:
        known = ", ".join(sorted(catalog.topics)) or "none"
        issues.append(
            _issue(
                f"criteria '{resource.get('criteria')}' is not a SubscriptionTopic of this "
                f"server (known: {known})",
                "Subscription.criteria",
                "not-supported",
            )
        )
    for i, text in _filters(resource):
        where = f"Subscription.criteria.extension[{i}].value"
        rtype, sep, query = text.partition("?")
        pairs = parse_qsl(query, keep_blank_values=True) if sep else []
        if not rtype or not pairs or any(not v for _k, v in pairs):
            issues.append(_issue(f"filter '{text}' must be 'Type?parameter=value'", where))
            continue
        if topic is None:
            continue
        for param, _value in pairs:
            name = param.split(":", 1)[0]
            if (rtype, name) not in topic.filters or name != param:
                allowed = ", ".join(f"{t}?{p}" for t, p in topic.filters) or "none"
                issues.append(
                    _issue(
                        f"filter '{rtype}?{param}' is not offered by topic '{topic.url}' "
                        f"(canFilterBy: {allowed})",
                        where,
                        "not-supported",
                    )
                )
    channel = resource.get("channel") or {}
    ctype = channel.get("type")
    if ctype not in CHANNELS:
        issues.append(
            _issue(
                f"channel.type '{ctype}' is not supported (this server sends rest-hook)",
                "Subscription.channel.type",
                "not-supported",
            )
        )
    else:
        problem = endpoint_problem(channel.get("endpoint"))
        if problem:
            issues.append(_issue(problem, "Subscription.channel.endpoint"))
    payload = channel.get("payload")
    if payload is not None and payload not in PAYLOADS:
        issues.append(
            _issue(
                f"channel.payload '{payload}' is not supported (use application/fhir+json)",
                "Subscription.channel.payload",
                "not-supported",
            )
        )
    content = _content(channel)
    if content is not None and content not in CONTENTS:
        issues.append(
            _issue(
                f"payload content '{content}' must be empty, id-only or full-resource",
                "Subscription.channel.payload.extension[0].value",
            )
        )
    status = resource.get("status")
    kept = current is not None and status == current.get("status")
    if status not in CLIENT_STATUSES and not (kept and _same_channel(resource, current)):
        issues.append(
            _issue(
                f"status '{status}' is set by the server: create or change a Subscription with "
                "status 'requested' (it becomes 'active' after a successful handshake)",
                "Subscription.status",
            )
        )
    return issues
