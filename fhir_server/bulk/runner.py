"""Running an export job: searches through the repository gate (so the caller's access policy
applies), page by page, into NDJSON files of at most `file_size` resources.

Spec: Bulk Data Access IG 2.0 — resources modified after `transactionTime` are left out, `_since`
keeps those modified after it, `_typeFilter` alternatives for one type are ORed, Patient-level
export covers the Patient compartment, Group-level the compartments of the group's members.
Search errors of a `_typeFilter` go to an OperationOutcome error file, not a failed job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from ..auth.principal import Principal
from ..core import errors as E
from ..core.clock import fhir_instant
from ..core.jsonio import dumps
from ..core.outcome import operation_outcome
from ..search.registry import load_compartments
from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from .params import ExportRequest, from_json
from .store import ExportJob, ExportStore

log = logging.getLogger("jiayi.bulk")

PAGE = 500


class ExportRunner:
    def __init__(
        self,
        components: ServerComponents,
        store: ExportStore,
        base_url: str,
        *,
        file_size: int = 10_000,
        lease_seconds: float = 120.0,
        context: Callable[[str | None], RequestContext] | None = None,
    ) -> None:
        self.components = components
        self.store = store
        self.base_url = base_url
        self.file_size = file_size
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = uuid.uuid4().hex
        # The request context an export runs as: the kick-off client's principal when the
        # job recorded one (SMART Backend Services), else a named system context.
        self._context = context

    def context(self, job: ExportJob) -> RequestContext:
        if self._context is not None:
            return self._context(job.owner)
        claims = job.params.get("principal")
        if isinstance(claims, dict) and claims:
            principal = Principal.from_claims({k: v for k, v in claims.items() if k != "exp"})
            return RequestContext(self.base_url, f"bulk-export:{job.id}", principal)
        return RequestContext(self.base_url, system_name=f"bulk-export:{job.owner or '-'}")

    def run_pending(self) -> int:
        """Run every claimable job; how many ran."""
        ran = 0
        while (
            job_id := self.store.claim(self.owner, self.components.clock.now(), self.lease)
        ) is not None:
            self.run(job_id)
            ran += 1
        return ran

    def run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None:
            return
        repo = FhirRepository(self.context(job), self.components)
        req = from_json(job.params)
        try:
            finished = self._export(repo, job_id, req, fhir_instant(job.transaction_time))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - recorded as the job's error
            log.exception("bulk export %s failed", job_id)
            self.store.finish(job_id, self.owner, "error", self.components.clock.now(), str(exc))
            return
        if finished:
            self.store.finish(job_id, self.owner, "completed", self.components.clock.now())

    # -- the export --------------------------------------------------------------------------------
    def _types(self, repo: FhirRepository, req: ExportRequest) -> list[str]:
        if req.level == "system":
            return list(req.types) or self.store.types_present()
        compartment = load_compartments()["Patient"]
        allowed = [t for t in self.store.types_present() if t in compartment or t == "Patient"]
        return (
            [t for t in req.types if t in compartment or t == "Patient"] if req.types else allowed
        )

    def _patients(self, repo: FhirRepository, req: ExportRequest) -> list[str] | None:
        """Patient ids whose compartments are exported (None: every patient)."""
        if req.level == "group":
            group = repo.read("Group", req.group_id or "").content or {}
            members = [
                (m.get("entity") or {}).get("reference", "")
                for m in group.get("member") or []
                if not m.get("inactive")
            ]
            ids = [r.split("/")[-1] for r in members if r.startswith("Patient/")]
            return [i for i in ids if not req.patients or i in req.patients]
        if req.level == "patient" and req.patients:
            return list(req.patients)
        return None

    def _export(self, repo: FhirRepository, job_id: str, req: ExportRequest, tt: str) -> bool:
        file_no = 0
        patients = self._patients(repo, req)
        errors: list[dict[str, Any]] = []
        for rtype in self._types(repo, req):
            if not self.store.heartbeat(
                job_id, self.owner, self.components.clock.now(), self.lease, rtype
            ):
                return False  # cancelled
            lines: list[bytes] = []
            seen: set[str] = set()
            try:
                for resource in self._resources(repo, rtype, req, tt, patients):
                    if resource["id"] in seen:
                        continue
                    seen.add(resource["id"])
                    lines.append(dumps(resource))
                    if len(lines) >= self.file_size:
                        file_no += 1
                        self.store.add_file(
                            job_id, file_no, rtype, "output", len(lines), b"\n".join(lines) + b"\n"
                        )
                        lines = []
            except E.FhirError as exc:
                errors.append(operation_outcome(exc.issues))
            if lines:
                file_no += 1
                self.store.add_file(
                    job_id, file_no, rtype, "output", len(lines), b"\n".join(lines) + b"\n"
                )
        if errors:
            file_no += 1
            self.store.add_file(
                job_id,
                file_no,
                "OperationOutcome",
                "error",
                len(errors),
                b"\n".join(map(dumps, errors)) + b"\n",
            )
        return True

    def _resources(
        self,
        repo: FhirRepository,
        rtype: str,
        req: ExportRequest,
        tt: str,
        patients: list[str] | None,
    ) -> Iterator[dict[str, Any]]:
        base: list[tuple[str, str]] = [("_lastUpdated", f"le{tt}")]
        if req.since:
            base.append(("_lastUpdated", f"gt{req.since}"))
        alternatives = req.type_filters.get(rtype) or ((),)
        codes = load_compartments()["Patient"].get(rtype, [])
        scopes: list[tuple[str, str, list[str]] | None] = (
            [None] if patients is None else [("Patient", p, codes) for p in patients]
        )
        for alt in alternatives:
            for compartment in scopes:
                yield from self._pages(repo, rtype, [*alt, *base], compartment)

    @staticmethod
    def _pages(
        repo: FhirRepository,
        rtype: str,
        query: list[tuple[str, str]],
        compartment: tuple[str, str, list[str]] | None,
    ) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            q = [*query, ("_count", str(PAGE))] + ([("_cursor", cursor)] if cursor else [])
            page = repo.search([rtype], q, strict=True, page_size=PAGE, compartment=compartment)
            for record in page.matches:
                if record.content is not None:
                    yield record.content
            cursor = page.next_cursor
            if not cursor:
                return


class BackgroundExports:
    """Runs the runner's pending jobs on one daemon thread, re-running when kicked meanwhile.
    `kick` never blocks: the outbox pump calls it every round, so a job whose worker died
    (its lease ran out) or that was accepted by a process that stopped is taken up again."""

    def __init__(self, runner: ExportRunner) -> None:
        self.runner = runner
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def kick(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._loop, name="jiayi-bulk-export", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a job records its own error
                self.runner.run_pending()
            with self._lock:
                if not self._again:
                    self._running = False
                    break
                self._again = False
