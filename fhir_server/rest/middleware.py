"""Request id (`X-Request-Id`, echoed or generated) and one structured access-log line per request.

Written as plain ASGI middleware so streaming and the threadpool are untouched.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("jiayi.access")
_MAX_ID = 200


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
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
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
