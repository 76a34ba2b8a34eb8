"""Baseline for the REST-core benchmark: a minimal FastAPI app over plain psycopg.

It reads and writes the same `resource` / `resource_history` rows as Jiayi (its database is
migrated with `jiayi db upgrade`), with none of Jiayi's validation, search indexing, auth or
middleware, so the benchmark shows what Jiayi's extra work costs.  The endpoints mirror the
FHIR REST shape the load generator uses:

- `POST /fhir/{type}`           create: insert into `resource` and `resource_history` (201)
- `GET  /fhir/{type}/{id}`      read: select `content` from `resource`
- `PUT  /fhir/{type}/{id}`      update: update `resource` (version + 1) and insert history
- `POST /fhir`                  transaction Bundle of creates, all in one database transaction
- `GET  /readyz`                database reachable

The database comes from the environment variable `BENCH_BASELINE_DSN` (a libpq URL); run it as
`uvicorn benchmarks.baseline_app:create_app --factory`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from psycopg import Connection
from psycopg_pool import ConnectionPool

FHIR_JSON = "application/fhir+json"


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: the raw request body, without pydantic parsing.
RawBody = Annotated[bytes, Depends(_raw_body)]

_INSERT_RESOURCE = (
    "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content) "
    "VALUES (%s, %s, %s, %s, false, %s::jsonb)"
)
_INSERT_HISTORY = (
    "INSERT INTO resource_history "
    "(res_type, res_id, version_id, last_updated, method, deleted, content) "
    "VALUES (%s, %s, %s, %s, %s, false, %s::jsonb)"
)
_UPDATE_RESOURCE = (
    "UPDATE resource SET version_id = version_id + 1, last_updated = %s, content = %s::jsonb "
    "WHERE res_type = %s AND res_id = %s RETURNING version_id"
)
_SELECT_CONTENT = (
    "SELECT content::text, version_id FROM resource "
    "WHERE res_type = %s AND res_id = %s AND NOT deleted"
)


def _outcome(status: int, diagnostics: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": diagnostics}],
    }
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def _stamp(content: dict[str, Any], res_id: str, version: int, now: datetime) -> bytes:
    content["id"] = res_id
    meta = dict(content.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    content["meta"] = meta
    return orjson.dumps(content)


def _insert(conn: Connection[Any], res_type: str, content: dict[str, Any]) -> tuple[str, bytes]:
    res_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    body = _stamp(content, res_id, 1, now)
    text = body.decode()
    conn.execute(_INSERT_RESOURCE, (res_type, res_id, 1, now, text))
    conn.execute(_INSERT_HISTORY, (res_type, res_id, 1, now, "POST", text))
    return res_id, body


def create_app(dsn: str | None = None, pool_size: int = 20) -> FastAPI:
    """Build the baseline app; `dsn` defaults to `$BENCH_BASELINE_DSN`."""
    conninfo = dsn or os.environ["BENCH_BASELINE_DSN"]
    pool = ConnectionPool(conninfo, min_size=4, max_size=pool_size, open=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=True)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/readyz")
    def readyz() -> Response:
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/fhir/{res_type}")
    def create(res_type: str, body: RawBody) -> Response:
        content = orjson.loads(body)
        with pool.connection() as conn:
            res_id, out = _insert(conn, res_type, content)
        return Response(
            out,
            status_code=201,
            media_type=FHIR_JSON,
            headers={"Location": f"/fhir/{res_type}/{res_id}/_history/1", "ETag": 'W/"1"'},
        )

    @app.get("/fhir/{res_type}/{res_id}")
    def read(res_type: str, res_id: str) -> Response:
        with pool.connection() as conn:
            row = conn.execute(_SELECT_CONTENT, (res_type, res_id)).fetchone()
        if row is None:
            return _outcome(404, f"{res_type}/{res_id} not found")
        return Response(row[0], media_type=FHIR_JSON, headers={"ETag": f'W/"{row[1]}"'})

    @app.put("/fhir/{res_type}/{res_id}")
    def update(res_type: str, res_id: str, body: RawBody) -> Response:
        content = orjson.loads(body)
        now = datetime.now(UTC)
        with pool.connection() as conn:
            # Lock the row first so the stored content carries the version it is written as.
            row = conn.execute(
                "SELECT version_id FROM resource WHERE res_type = %s AND res_id = %s FOR UPDATE",
                (res_type, res_id),
            ).fetchone()
            if row is None:
                return _outcome(404, f"{res_type}/{res_id} not found")
            version = int(row[0]) + 1
            out = _stamp(content, res_id, version, now)
            text = out.decode()
            conn.execute(_UPDATE_RESOURCE, (now, text, res_type, res_id))
            conn.execute(_INSERT_HISTORY, (res_type, res_id, version, now, "PUT", text))
        return Response(out, media_type=FHIR_JSON, headers={"ETag": f'W/"{version}"'})

    @app.post("/fhir")
    def transaction(body: RawBody) -> Response:
        bundle = orjson.loads(body)
        entries: list[dict[str, Any]] = []
        with pool.connection() as conn:  # one database transaction for the whole Bundle
            for entry in bundle.get("entry") or []:
                res = entry["resource"]
                res_type = res["resourceType"]
                res_id, _out = _insert(conn, res_type, res)
                entries.append(
                    {
                        "response": {
                            "status": "201 Created",
                            "location": f"{res_type}/{res_id}/_history/1",
                            "etag": 'W/"1"',
                        }
                    }
                )
        out = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return Response(orjson.dumps(out), media_type=FHIR_JSON)

    return app
