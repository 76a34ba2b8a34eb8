"""The platform's HTTP wire (v1): `POST /v1/records` (a batch of records, idempotent by
`record_key` + `version`), `GET /v1/records?day=` (keys and checksums, for reconciliation),
`GET /v1/directory/doctors`, `GET /v1/contracts?source=platform` (inbound).

Security options: mutual TLS (`cert=(cert_file, key_file)`, `verify=ca_file` on the httpx client),
or signed requests: `X-Jiayi-Timestamp` (Unix seconds), `X-Jiayi-Nonce` (random, once) and
`X-Jiayi-Signature` = hex HMAC-SHA256 with a shared key over
`timestamp "\n" nonce "\n" METHOD " " path?query "\n" body` (`signing_string`); the platform
refuses stale timestamps and reused nonces (replay protection).

Answers: transport errors, 429 and 5xx are retried `retries` times with exponential back-off,
then `PlatformUnavailable` (transient: the outbox backs off).  A batch the platform refuses as a
whole (400, 409, 413, 422) is split in halves until the refused records are alone, and each of
those is refused with the platform's message (reported, not retried; the rest goes through).
401 / 403 (credentials, signature, certificate) and 404 / 405 (wrong URL) are the consumer's
problem, not a record's: `PermanentFailure` (nothing is refused, the outbox waits long and
reports it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from fhir_server.domain.sync.ports import PermanentFailure

SPLIT_STATUSES = frozenset({400, 409, 413, 422})
PERMANENT_STATUSES = frozenset({401, 403, 404, 405})


class PlatformUnavailable(Exception):
    """Transient: try again later."""


class PlatformRefused(Exception):
    """The platform answered 4xx to a request."""

    def __init__(self, status: int, method: str, path: str, text: str) -> None:
        super().__init__(f"{method} {path} refused ({status}): {text[:500]}")
        self.status = status


@dataclass
class BatchResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # record key → reason


def signing_string(timestamp: str, nonce: str, method: str, target: str, body: bytes) -> bytes:
    """What a signed request signs (`target`: the path with its query string)."""
    return f"{timestamp}\n{nonce}\n{method.upper()} {target}\n".encode() + body


def sign(key: bytes, timestamp: str, nonce: str, method: str, target: str, body: bytes) -> str:
    return hmac.new(
        key, signing_string(timestamp, nonce, method, target, body), hashlib.sha256
    ).hexdigest()


def tls_context(cert: tuple[str, str] | None = None, ca: str | None = None) -> ssl.SSLContext:
    """Server verification against `ca` (a PEM bundle; None: the system's trust store) and,
    with `cert` = (certificate file, key file), a client certificate for mutual TLS."""
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert is not None:
        context.load_cert_chain(cert[0], cert[1])
    return context


def mtls_client(
    base_url: str, cert: tuple[str, str], ca: str | None = None, timeout: float = 10.0
) -> httpx.Client:
    """An httpx client presenting a client certificate (mutual TLS)."""
    return httpx.Client(base_url=base_url, verify=tls_context(cert, ca), timeout=timeout)


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
                ts, nonce = str(int(self._now())), secrets.token_hex(16)
                target = path + (f"?{urlencode(params)}" if params else "")
                headers["X-Jiayi-Timestamp"] = ts
                headers["X-Jiayi-Nonce"] = nonce
                headers["X-Jiayi-Signature"] = sign(
                    self.signing_key, ts, nonce, method, target, content
                )
            try:
                r = self.http.request(
                    method, path, content=content or None, params=params, headers=headers
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code < 500 and r.status_code != 429:
                    if r.status_code >= 400:
                        refused = PlatformRefused(r.status_code, method, path, r.text)
                        if r.status_code in PERMANENT_STATUSES:
                            raise PermanentFailure(str(refused)) from refused
                        raise refused
                    return r.json()
                last = f"{method} {path} answered {r.status_code}"
            if attempt < self.retries:
                self._sleep(self.backoff_seconds * 2**attempt)
        raise PlatformUnavailable(last)

    def push(self, records: Sequence[dict[str, Any]]) -> BatchResult:
        """Send records in batches; the answer per record key."""
        result = BatchResult()
        for i in range(0, len(records), self.batch_size):
            self._push(list(records[i : i + self.batch_size]), result)
        return result

    def _push(self, batch: list[dict[str, Any]], result: BatchResult) -> None:
        try:
            answer = self._send("POST", "/v1/records", {"records": batch})
        except PlatformRefused as exc:
            if exc.status not in SPLIT_STATUSES:
                raise PermanentFailure(str(exc)) from exc
            if len(batch) == 1:
                result.rejected[str(batch[0].get("record_key"))] = str(exc)
                return
            half = len(batch) // 2
            self._push(batch[:half], result)
            self._push(batch[half:], result)
            return
        for item in answer.get("results", []):
            key, status = item["record_key"], item["status"]
            if status == "accepted":
                result.accepted.append(key)
            elif status == "duplicate":
                result.duplicates.append(key)
            else:
                result.rejected[key] = "; ".join(item.get("errors") or [status])

    def records(self, day: str) -> dict[str, dict[str, Any]]:
        """record key → {"checksum", "version"} of what the platform holds for `day`."""
        answer = self._send("GET", "/v1/records", params={"day": day})
        return {
            r["record_key"]: {"checksum": r["checksum"], "version": int(r.get("version", 1))}
            for r in answer.get("records", [])
        }

    def directory(self) -> list[dict[str, Any]]:
        return list(self._send("GET", "/v1/directory/doctors").get("doctors", []))

    def platform_contracts(self) -> list[dict[str, Any]]:
        return list(
            self._send("GET", "/v1/contracts", params={"source": "platform"}).get("contracts", [])
        )
