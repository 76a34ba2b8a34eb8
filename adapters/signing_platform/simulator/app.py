"""The simulated provincial signing platform (a reference implementation of `schema/README.md`).

- `POST /v1/records`: every record is validated against `schema/v1/record.json` and the payload
  schema of its type (JSON Schema 2020-12) and answered per record: `accepted`, `duplicate`
  (same key, version and checksum already held, or an older version: idempotency; the same
  version with another checksum is a repair and replaces) or `rejected` with the validation
  messages.  A record type without a payload schema is rejected, never a 500.
- `GET /v1/records?day=`: keys, checksums and versions of the records whose latest version is
  of that day; `GET /v1/directory/doctors`, `GET /v1/contracts?source=platform`: the platform's
  own doctors and contracts (inbound).  The platform's own records are held under
  `<type>:platform/<id>` keys (`PlatformState.add_native`).
- Signed requests (`signing_key` set): `X-Jiayi-Signature` must be the HMAC of
  `X-Jiayi-Timestamp + "\\n" + body`, the timestamp within `max_skew_seconds` of the
  platform's clock, and a (timestamp, signature) pair is accepted once: a replay gets 401.
- `POST /v1/control {"mode": …}`: `normal`, `fail` (503), `timeout` (sleep before answering),
  `duplicates` (answer every record twice), `too-large` (413 for batches of more than
  `max_batch` records), `reject-batch` (400 for a batch holding an invalid record).
State lives in the app instance (`PlatformState`); `now` is injectable for clock tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
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


def _checksum(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class PlatformState:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → latest record
    received: list[str] = field(default_factory=list)  # every accepted (key, version) as "key@v"
    mode: str = "normal"
    timeout_seconds: float = 5.0
    signing_key: bytes | None = None
    max_skew_seconds: float = 300.0
    max_batch: int = 2
    now: Callable[[], float] = time.time
    seen_nonces: set[str] = field(default_factory=set)
    doctors: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)

    def add_native(
        self, doctors: list[dict[str, Any]], contracts: list[dict[str, Any]], day: str
    ) -> None:
        """The platform's own doctors and contracts: served inbound and held as records."""
        self.doctors, self.contracts = list(doctors), list(contracts)
        for kind, items, id_field in (
            ("doctor", doctors, "doctor_id"),
            ("contract", contracts, "contract_id"),
        ):
            for item in items:
                key = f"{kind}:platform/{item[id_field]}"
                self.records[key] = {
                    "schema_version": "1",
                    "record_type": kind,
                    "record_key": key,
                    "version": 1,
                    "deleted": False,
                    "day": day,
                    "checksum": _checksum(item),
                    "payload": dict(item),
                }


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
        if not isinstance(record, dict):
            return ["record: must be an object"]
        errs = _errors(validators["record"], record, "record")
        if not errs and not record["deleted"]:
            validator = validators.get(record["record_type"])
            if validator is None:
                return [f"record/record_type: no payload schema for '{record['record_type']}'"]
            errs = _errors(validator, record["payload"], "payload")
        return errs

    def refused(request: Request, body: bytes) -> JSONResponse | None:
        """401 for a missing, wrong, stale or replayed signature (when signing is on)."""
        if state.signing_key is None:
            return None
        ts = request.headers.get("x-jiayi-timestamp", "")
        nonce = request.headers.get("x-jiayi-nonce", "")
        given = request.headers.get("x-jiayi-signature", "")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        text = f"{ts}\n{nonce}\n{request.method} {target}\n".encode() + body
        want = hmac.new(state.signing_key, text, hashlib.sha256).hexdigest()
        if not nonce or not hmac.compare_digest(want, given):
            return JSONResponse({"error": "bad signature"}, 401)
        try:
            skew = abs(state.now() - float(ts))
        except ValueError:
            return JSONResponse({"error": "bad timestamp"}, 401)
        if skew > state.max_skew_seconds:
            return JSONResponse({"error": f"stale timestamp ({skew:.0f} s off)"}, 401)
        if nonce in state.seen_nonces:
            return JSONResponse({"error": "replayed request (nonce already used)"}, 401)
        state.seen_nonces.add(nonce)
        return None

    @app.post("/v1/records")
    async def post_records(request: Request) -> JSONResponse:
        body = await request.body()
        if state.mode == "fail":
            return JSONResponse({"error": "unavailable"}, 503)
        if state.mode == "timeout":
            await asyncio.sleep(state.timeout_seconds)  # never blocks other requests
        if (denied := refused(request, body)) is not None:
            return denied
        try:
            records = json.loads(body).get("records", [])
        except (ValueError, AttributeError):
            return JSONResponse({"error": 'the body must be {"records": [...]}'}, 400)
        if state.mode == "too-large" and len(records) > state.max_batch:
            return JSONResponse({"error": f"at most {state.max_batch} records a batch"}, 413)
        if state.mode == "reject-batch" and any(check(r) for r in records):
            return JSONResponse({"error": "the batch holds an invalid record"}, 400)
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
    async def get_records(request: Request, day: str) -> JSONResponse:
        if (denied := refused(request, b"")) is not None:
            return denied
        rows = [
            {"record_key": k, "checksum": r["checksum"], "version": r["version"]}
            for k, r in sorted(state.records.items())
            if r["day"] == day
        ]
        return JSONResponse({"day": day, "count": len(rows), "records": rows})

    @app.get("/v1/directory/doctors")
    async def doctors(request: Request) -> JSONResponse:
        if (denied := refused(request, b"")) is not None:
            return denied
        return JSONResponse({"doctors": state.doctors})

    @app.get("/v1/contracts")
    async def contracts(request: Request) -> JSONResponse:
        if (denied := refused(request, b"")) is not None:
            return denied
        return JSONResponse({"contracts": state.contracts})

    @app.post("/v1/control")
    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        state.mode = body.get("mode", state.mode)
        return JSONResponse({"mode": state.mode})

    return app
