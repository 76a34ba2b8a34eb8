"""The simulated provincial signing platform.

Validates every record against `schema/v1/record.json` and the payload schema of its type (JSON
Schema 2020-12) and answers per record: `accepted`, `duplicate` (same key, version and checksum
already held, or a newer version: idempotency; a differing checksum is a repair and replaces) or `rejected` with the validation messages.  `POST /v1/control` sets a mode:
`fail` (503), `timeout` (sleep before answering), `duplicates` (answer every record twice),
`normal`; `signing_key` makes it check `X-Jiayi-Signature`.  State lives in the app instance.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema" / "v1"


def _validators() -> dict[str, Draft202012Validator]:
    return {
        p.stem: Draft202012Validator(json.loads(p.read_text(encoding="utf-8")))
        for p in SCHEMA_DIR.glob("*.json")
    }


@dataclass
class PlatformState:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → latest record
    received: list[str] = field(default_factory=list)  # every accepted (key, version) as "key@v"
    mode: str = "normal"
    timeout_seconds: float = 5.0
    signing_key: bytes | None = None
    doctors: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)


def _errors(validator: Draft202012Validator, data: Any, where: str) -> list[str]:
    return [
        f"{where}{'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else ''}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def create_simulator(state: PlatformState | None = None) -> FastAPI:
    state = state or PlatformState()
    validators = _validators()
    app = FastAPI(title="Provincial signing platform (simulator)")
    app.state.platform = state

    def check(record: Any) -> list[str]:
        errs = _errors(validators["record"], record, "record")
        if not errs and not record["deleted"]:
            errs = _errors(validators[record["record_type"]], record["payload"], "payload")
        return errs

    @app.post("/v1/records")
    async def post_records(request: Request) -> JSONResponse:
        body = await request.body()
        if state.mode == "fail":
            return JSONResponse({"error": "unavailable"}, 503)
        if state.mode == "timeout":
            await asyncio.sleep(state.timeout_seconds)  # never blocks other requests
        if state.signing_key is not None:
            ts = request.headers.get("x-jiayi-timestamp", "")
            want = hmac.new(
                state.signing_key, ts.encode() + b"\n" + body, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(want, request.headers.get("x-jiayi-signature", "")):
                return JSONResponse({"error": "bad signature"}, 401)
        records = json.loads(body).get("records", [])
        results = []
        for record in records:
            key = record.get("record_key", "?") if isinstance(record, dict) else "?"
            errs = check(record)
            if errs:
                results.append({"record_key": key, "status": "rejected", "errors": errs})
                continue
            held = state.records.get(key)
            if held is not None and (
                held["version"] > record["version"]
                or (held["version"] == record["version"] and held["checksum"] == record["checksum"])
            ):
                results.append({"record_key": key, "status": "duplicate"})
                continue
            state.records[key] = record
            state.received.append(f"{key}@{record['version']}")
            results.append({"record_key": key, "status": "accepted"})
        if state.mode == "duplicates":
            results = results + [{**r, "status": "duplicate"} for r in results]
        return JSONResponse({"results": results})

    @app.get("/v1/records")
    async def get_records(day: str) -> JSONResponse:
        rows = [
            {"record_key": k, "checksum": r["checksum"], "version": r["version"]}
            for k, r in sorted(state.records.items())
            if r["day"] == day
        ]
        return JSONResponse({"day": day, "count": len(rows), "records": rows})

    @app.get("/v1/directory/doctors")
    async def doctors() -> JSONResponse:
        return JSONResponse({"doctors": state.doctors})

    @app.get("/v1/contracts")
    async def contracts() -> JSONResponse:
        return JSONResponse({"contracts": state.contracts})

    @app.post("/v1/control")
    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        state.mode = body.get("mode", state.mode)
        return JSONResponse({"mode": state.mode})

    return app
