"""Webhook channel: POST the message as JSON to a gateway (SMS, WeChat template message, app push)
with httpx.  `Idempotency-Key` = the Communication id, so a retried or resumed send is safe.

Retries: network errors, 429 and 5xx are retried up to `max_attempts` with exponential back-off
(`sleep` injectable); other 4xx are permanent.  A 2xx answer may carry `{"received": "<instant>"}`
when the gateway confirms receipt; otherwise `received` stays unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from fhir_server.domain.pushes.ports import DeliveryReceipt, OutboundMessage

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class WebhookSender:
    def __init__(
        self,
        channel: str,
        url: str,
        *,
        client: httpx.Client | None = None,
        token: str | None = None,
        max_attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.channel = channel
        self.url = url
        self.client = client or httpx.Client(timeout=httpx.Timeout(10.0))
        self.token = token
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep = sleep or _sleep
        self.clock = clock or (lambda: datetime.now(UTC))

    def _payload(self, message: OutboundMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "channel": message.channel,
            "recipient": message.patient_id,
            "addresses": list(message.addresses),
            "title": message.title,
            "text": message.text,
            "priority": message.priority,
            "kind": message.kind,
        }

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        headers = {"Idempotency-Key": message.id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        reason = "not sent"
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                response = self.client.post(self.url, json=self._payload(message), headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return DeliveryReceipt(
                    ok=True, attempts=attempt, sent=self.clock(), received=_received(response)
                )
            reason = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code not in _RETRY_STATUS:
                return DeliveryReceipt(ok=False, attempts=attempt, reason=reason, permanent=True)
        return DeliveryReceipt(ok=False, attempts=self.max_attempts, reason=reason)


def _received(response: httpx.Response) -> datetime | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get("received") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)
