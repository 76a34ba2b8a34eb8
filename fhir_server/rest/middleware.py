"""The outermost layer of every request: request id (`X-Request-Id`, echoed or generated), the
last line of defence against unexpected exceptions, and one structured access-log line.

Written as plain ASGI middleware so streaming and the threadpool are untouched.  An exception that
escapes the application becomes an OperationOutcome here (503 + `Retry-After` when the database is
unreachable, else 500) — so every response, 500s included, carries the request id and is logged.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.jsonio import dumps
from ..core.outcome import operation_outcome
from .failures import failure_error

access_log = logging.getLogger("jiayi.access")
error_log = logging.getLogger("jiayi.error")
_MAX_ID = 200
_FHIR_JSON = b"application/fhir+json; charset=utf-8"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0  # 0: no response was sent (the client went away first)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            error = failure_error(exc)
            if error.status == 500:
                error_log.exception(
                    "unhandled error on %s %s (request %s)",
                    scope.get("method"),
                    scope.get("path"),
                    request_id,
                )
            else:
                error_log.warning(
                    "%s on %s %s (request %s): %s",
                    error.status,
                    scope.get("method"),
                    scope.get("path"),
                    request_id,
                    exc,
                )
            if status:  # the response had begun: nothing can be sent any more
                raise
            body = dumps(operation_outcome(error.issues))
            headers = [
                (b"content-type", _FHIR_JSON),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
            ]
            await send_with_id(
                {"type": "http.response.start", "status": error.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            _log(scope, request_id, status, started)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            if 0 < len(text) <= _MAX_ID and text.isprintable():
                return text
    return None


def _log(scope: Scope, request_id: str, status: int, started: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    record: dict[str, Any] = {
        "event": "request",
        "request_id": request_id,
        "method": scope.get("method"),
        "path": scope.get("path"),
        # /auth/* query strings may carry codes, states and launch ids: never logged.
        "query": ""
        if str(scope.get("path", "")).startswith("/auth/")
        else scope.get("query_string", b"").decode("latin-1"),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client": (scope.get("client") or [None])[0],
    }
    access_log.info(orjson.dumps(record).decode())
