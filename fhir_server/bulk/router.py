"""HTTP endpoints of Bulk Data export, mounted by `app.py` before the FHIR catch-all.

Spec: Bulk Data Access IG 2.0 (https://hl7.org/fhir/uv/bulkdata/export.html):
- kick-off `GET|POST [base]/$export`, `[base]/Patient/$export`, `[base]/Group/[id]/$export` with
  `Prefer: respond-async` → 202 + `Content-Location` (status URL);
- status `GET [status]` → 202 + `Retry-After`/`X-Progress` while running, 200 + manifest when done
  (`transactionTime`, `request`, `requiresAccessToken`, `output`, `error`), 500 + OperationOutcome
  when the job failed, 404 for unknown or cancelled jobs;
- cancel `DELETE [status]` → 202, afterwards 404;
- files `GET [base]/bulkfiles/[job]/[n].ndjson` → `application/fhir+ndjson`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..core import errors as E
from ..core.clock import fhir_instant
from ..core.jsonio import dumps, loads
from ..rest.responses import error_response
from ..services.audit import AuditRecord
from ..services.context import ServerComponents
from ..settings import Settings
from .params import ExportRequest, parse_export, to_json
from .runner import BackgroundExports, ExportRunner
from .store import ExportJob, ExportStore

#: (request, export request or None for status/download calls) → the caller (a `Principal`,
#: whose client id owns the job and whose access the export runs with), or its client id.
#: Raises FhirError 401/403.  `access.smart_authorizer` builds one from the SMART token verifier.
Authorizer = Callable[[Request, ExportRequest | None], Any]

NDJSON = "application/fhir+ndjson"


def public_request_url(base: str, request: Request) -> str:
    """The kick-off URL as the client addressed it through the public base (`--base-url`), not as
    this process saw it behind a proxy."""
    path = request.url.path
    suffix = path[path.index("/fhir") + len("/fhir") :] if "/fhir" in path else path
    query = request.url.query
    return f"{base}{suffix}" + (f"?{query}" if query else "")


def _params_from_body(body: Any) -> list[tuple[str, object]]:
    if body is None:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise E.bad_request("The body of a POST $export must be a Parameters resource")
    out: list[tuple[str, object]] = []
    for p in body.get("parameter") or []:
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        out.append((str(p.get("name")), value))
    return out


def build_bulk_router(
    components: ServerComponents,
    settings: Settings,
    *,
    authorize: Authorizer | None = None,
    runner: ExportRunner | None = None,
    background: BackgroundExports | None = None,
    start_jobs: bool = True,
) -> APIRouter:
    """`background`: the runner's thread (shared with the outbox pump, which restarts orphaned
    jobs); `start_jobs` False leaves accepted jobs to the pump or `jiayi jobs run outbox-dispatch`."""
    base = settings.public_base
    store = ExportStore(components.database.engine)  # type: ignore[attr-defined]
    if background is not None:
        runner = background.runner
    runner = runner or ExportRunner(components, store, base)
    background = background or BackgroundExports(runner)
    router = APIRouter()
    requires_token = settings.auth == "smart"

    def who(request: Request, req: ExportRequest | None) -> Any:
        found = authorize(request, req) if authorize is not None else None
        request.state.bulk_principal = found  # for the audit trail (authorize sets it for a 403)
        return found

    def audit(request: Request, status: int, content: bytes | None = None) -> None:
        """An AuditEvent for a kick-off, a status poll, a cancel or a file download (issue 5:
        every access and denial); a file's entities are the first resources it holds (the
        writer keeps 50)."""
        principal = getattr(request.state, "bulk_principal", None)
        if components.audit is None or (principal is None and status not in (401, 403)):
            return
        shown = None
        if content:
            lines = content.split(b"\n", 50)[:50]
            shown = {"resourceType": "Bundle", "entry": [
                {"resource": loads(line)} for line in lines if line.strip()
            ]}  # fmt: skip
        components.audit.record(
            AuditRecord(
                recorded=datetime.now(UTC),
                method=request.method,
                path=request.url.path.removeprefix("/fhir/"),
                query=request.url.query,
                status=status,
                source_ip=request.client.host if request.client else None,
                request_id=getattr(request.state, "request_id", "") or "",
                principal=principal if hasattr(principal, "kind") else None,
                resource=shown,
                interaction="operation",
            )
        )

    def caller(request: Request, req: ExportRequest | None) -> str | None:
        found = who(request, req)
        return getattr(found, "client_id", found)

    def own_job(request: Request, job_id: str) -> ExportJob:
        owner = caller(request, None)  # first: an unknown job's 404 is audited with its caller
        job = store.get(job_id)
        if job is None or (authorize is not None and job.owner != owner):
            raise E.FhirError(
                404, E.error("not-found", f"No export job '{job_id}'", message_id="JY-0404")
            )
        return job

    async def kickoff(request: Request, level: str, group_id: str | None) -> Response:
        try:
            prefer = request.headers.get("prefer", "")
            if "respond-async" not in prefer.replace(" ", "").split(","):
                raise E.bad_request("$export requires the header 'Prefer: respond-async'", "Prefer")
            accept = request.headers.get("accept", "application/fhir+json")
            if not any(a in accept for a in ("application/fhir+json", "application/json", "*/*")):
                raise E.bad_request("$export answers application/fhir+json", "Accept")
            params: list[tuple[str, object]] = list(request.query_params.multi_items())
            if request.method == "POST":
                raw = await request.body()
                params += _params_from_body(loads(raw) if raw.strip() else None)
            req = parse_export(level, params, components.types.is_resource_type, group_id)
            principal = await run_in_threadpool(who, request, req)
            owner = getattr(principal, "client_id", principal)
            if level == "group":
                await run_in_threadpool(_check_group, components, base, group_id or "")
            now = components.clock.now()
            job_params = to_json(req)
            if hasattr(principal, "to_claims"):
                job_params["principal"] = principal.to_claims()  # the export runs with its access
            job = ExportJob(
                uuid.uuid4().hex,
                "accepted",
                public_request_url(base, request),
                job_params,
                owner,
                requires_token,
                now,
                None,
                None,
            )
            await run_in_threadpool(store.create, job, now)
        except E.FhirError as exc:
            audit(request, exc.status)
            return error_response(exc)
        except ValueError as exc:
            audit(request, 400)
            return error_response(E.bad_request(f"Unparseable body: {exc}"))
        audit(request, 202)
        if start_jobs:
            background.kick()
        return Response(
            status_code=202, headers={"Content-Location": f"{base}/bulkstatus/{job.id}"}
        )

    async def system_export(request: Request) -> Response:
        return await kickoff(request, "system", None)

    async def patient_export(request: Request) -> Response:
        return await kickoff(request, "patient", None)

    async def group_export(request: Request, group_id: str) -> Response:
        return await kickoff(request, "group", group_id)

    async def status(request: Request, job_id: str) -> Response:
        try:
            job = await run_in_threadpool(own_job, request, job_id)
            if job.status in ("accepted", "in-progress"):
                audit(request, 202)
                return Response(
                    status_code=202,
                    headers={
                        "Retry-After": "1",
                        "X-Progress": f"{job.status} {job.progress or ''}".strip(),
                    },
                )
            if job.status == "error":
                raise E.FhirError(
                    500,
                    E.error("exception", f"The export failed: {job.error}", message_id="JY-0500"),
                )
            files = await run_in_threadpool(store.files, job_id)
        except E.FhirError as exc:
            audit(request, exc.status)
            return error_response(exc)
        manifest = {
            "transactionTime": fhir_instant(job.transaction_time),  # type: ignore[arg-type]
            "request": job.request_url,
            "requiresAccessToken": job.requires_token,
            "output": [
                {
                    "type": f.res_type,
                    "url": f"{base}/bulkfiles/{job_id}/{f.file_no}.ndjson",
                    "count": f.count,
                }
                for f in files
                if f.kind == "output"
            ],
            "error": [
                {"type": "OperationOutcome", "url": f"{base}/bulkfiles/{job_id}/{f.file_no}.ndjson"}
                for f in files
                if f.kind == "error"
            ],
        }
        audit(request, 200)
        return Response(dumps(manifest), 200, media_type="application/json")

    async def cancel(request: Request, job_id: str) -> Response:
        try:
            await run_in_threadpool(own_job, request, job_id)
            if not await run_in_threadpool(store.cancel, job_id):
                raise E.not_found("export job", job_id)
        except E.FhirError as exc:
            audit(request, exc.status)
            return error_response(exc)
        audit(request, 202)
        return Response(status_code=202)

    async def download(request: Request, job_id: str, file_no: int) -> Response:
        try:
            job = await run_in_threadpool(own_job, request, job_id)
            content = await run_in_threadpool(store.content, job.id, file_no)
            if content is None or job.status != "completed":
                raise E.FhirError(
                    404, E.error("not-found", "No such export file", message_id="JY-0404")
                )
        except E.FhirError as exc:
            audit(request, exc.status)
            return error_response(exc)
        audit(request, 200, content)
        return Response(content, 200, media_type=NDJSON)

    for path, fn in (
        ("/fhir/$export", system_export),
        ("/fhir/Patient/$export", patient_export),
        ("/fhir/Group/{group_id}/$export", group_export),
    ):
        router.add_api_route(path, fn, methods=["GET", "POST"], include_in_schema=False)
    router.add_api_route(
        "/fhir/bulkstatus/{job_id}", status, methods=["GET"], include_in_schema=False
    )
    router.add_api_route(
        "/fhir/bulkstatus/{job_id}", cancel, methods=["DELETE"], include_in_schema=False
    )
    router.add_api_route(
        "/fhir/bulkfiles/{job_id}/{file_no}.ndjson",
        download,
        methods=["GET"],
        include_in_schema=False,
    )
    router.state_runner = runner  # type: ignore[attr-defined]  # for pump rounds and tests
    return router


def _check_group(components: ServerComponents, base: str, group_id: str) -> None:
    from ..services.context import RequestContext
    from ..services.repository import FhirRepository

    FhirRepository(RequestContext(base, system_name="bulk-export"), components).read(
        "Group", group_id
    )
