"""`/healthz` (process alive) and `/readyz` (database reachable), outside `/fhir`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from ..storage.ports import Database
from .failures import RETRY_AFTER_SECONDS


def build_health_router(database: Database) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok = await run_in_threadpool(database.ping)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "database": ok},
            status_code=200 if ok else 503,
            headers=None if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    return router
