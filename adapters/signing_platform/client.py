"""The platform's HTTP wire (v1): `POST /v1/records` (a batch of records, idempotent by
`record_key` + `version`), `GET /v1/records?day=` (keys and checksums, for reconciliation),
`GET /v1/directory/doctors`, `GET /v1/contracts?source=platform` (inbound).

Security options: mutual TLS (`cert=(cert_file, key_file)`, `verify=ca_file` on the httpx client),
or signed requests: `X-Jiayi-Timestamp` + `X-Jiayi-Signature` = hex HMAC-SHA256 over
`timestamp + "\n" + body` with a shared key.  Transient failures (transport errors, 429, 5xx) are
retried `retries` times with exponential back-off; then `PlatformUnavailable` (the outbox backs off).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


class PlatformUnavailable(Exception):
    """Transient: try again later."""


@dataclass
class BatchResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # record key → reason


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(key, timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def mtls_client(
    base_url: str, cert: tuple[str, str], ca: str, timeout: float = 10.0
) -> httpx.Client:
    """An httpx client presenting a client certificate (mutual TLS)."""
    return httpx.Client(base_url=base_url, cert=cert, verify=ca, timeout=timeout)


class SigningPlatformClient:
    def __init__(
        self,
        http: httpx.Client,
        *,
        signing_key: bytes | None = None,
        retries: int = 3,
        backoff_seconds: float = 0.2,
        batch_size: int = 100,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.signing_key = signing_key
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.batch_size = batch_size
        self._sleep = sleep
        self._now = now

    def _send(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        content = orjson.dumps(body) if body is not None else b""
        last = ""
        for attempt in range(self.retries + 1):
            headers = {"Content-Type": "application/json"}
            if self.signing_key is not None:
                ts = str(int(self._now()))
                headers["X-Jiayi-Timestamp"] = ts
                headers["X-Jiayi-Signature"] = sign(self.signing_key, ts, content)
            try:
                r = self.http.request(
                    method, path, content=content or None, params=params, headers=headers
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code < 500 and r.status_code != 429:
                    if r.status_code >= 400:
                        raise ValueError(
                            f"{method} {path} refused ({r.status_code}): {r.text[:500]}"
                        )
                    return r.json()
                last = f"{method} {path} answered {r.status_code}"
            if attempt < self.retries:
                self._sleep(self.backoff_seconds * 2**attempt)
        raise PlatformUnavailable(last)

    def push(self, records: Sequence[dict[str, Any]]) -> BatchResult:
        """Send records in batches; the answer per record key."""
        result = BatchResult()
        for i in range(0, len(records), self.batch_size):
            answer = self._send(
                "POST", "/v1/records", {"records": list(records[i : i + self.batch_size])}
            )
            for item in answer.get("results", []):
                key, status = item["record_key"], item["status"]
                if status == "accepted":
                    result.accepted.append(key)
                elif status == "duplicate":
                    result.duplicates.append(key)
                else:
                    result.rejected[key] = "; ".join(item.get("errors") or [status])
        return result

    def records(self, day: str) -> dict[str, str]:
        """record key → checksum of what the platform holds for `day`."""
        answer = self._send("GET", "/v1/records", params={"day": day})
        return {r["record_key"]: r["checksum"] for r in answer.get("records", [])}

    def directory(self) -> list[dict[str, Any]]:
        return list(self._send("GET", "/v1/directory/doctors").get("doctors", []))

    def platform_contracts(self) -> list[dict[str, Any]]:
        return list(
            self._send("GET", "/v1/contracts", params={"source": "platform"}).get("contracts", [])
        )
