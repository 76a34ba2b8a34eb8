"""rest-hook delivery (Subscriptions R5 Backport IG, "Channels: REST Hook"): POST the notification
Bundle as `application/fhir+json` to `channel.endpoint`, with each `channel.header` line as a
header, within the subscription's timeout.  Any non-2xx answer or transport error raises
`DeliveryFailed` (the dispatcher retries with back-off)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..core.jsonio import dumps
from .model import SubscriptionInfo


class DeliveryFailed(Exception):
    """`status`: the endpoint's HTTP answer (None: no answer — transport error, no endpoint)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def header_lines(lines: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def post_notification(
    http: httpx.Client, info: SubscriptionInfo, bundle: Mapping[str, Any]
) -> None:
    if info.channel != "rest-hook" or not info.endpoint:
        raise DeliveryFailed(f"Subscription/{info.id} has no rest-hook endpoint")
    headers = {"Content-Type": "application/fhir+json", **header_lines(info.headers)}
    try:
        r = http.post(
            info.endpoint, content=dumps(bundle), headers=headers, timeout=info.timeout_seconds
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= r.status_code < 300:
        raise DeliveryFailed(f"{info.endpoint} answered {r.status_code}", r.status_code)
