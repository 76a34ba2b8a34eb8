"""`jiayi import`: FHIR JSON resources, Bundles and NDJSON files through the repository (validated).

A resource with an id is stored by update-as-create (so re-importing is idempotent); one without an
id is created.  A batch or transaction Bundle is processed as the REST API would process it; any other
Bundle (collection, searchset, document …) is unpacked into its entries.

Nothing stops the run but the database: an unreadable file, a line of NDJSON that is not JSON, a
resource the server refuses — each is one line naming the file (and line), then the run goes on;
the summary counts what was stored and what failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress

from ..core.errors import FhirError
from ..core.jsonio import MAX_DEPTH, loads, nests_deeper_than
from ..interactions.model import FhirRequest
from ..interactions.router import dispatch
from ..services.context import RequestContext
from ..services.repository import FhirRepository
from ..settings import Settings


@dataclass
class ImportSummary:
    stored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        self.errors.append(message)

    def line(self) -> str:
        return f"imported {self.stored} resources, {self.failed} failed"


@dataclass(frozen=True)
class Unreadable:
    """A file or NDJSON line that holds no FHIR resource: why."""

    reason: str


def _parse(raw: bytes) -> dict[str, Any] | Unreadable:
    try:
        value = loads(raw)
    except ValueError as exc:
        return Unreadable(f"not JSON ({exc})")
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return Unreadable("not a FHIR resource (a JSON object with a resourceType)")
    if nests_deeper_than(value, MAX_DEPTH):
        return Unreadable(f"nests more than {MAX_DEPTH} levels deep")
    return value


def _looks_like_ndjson(data: bytes) -> bool:
    stripped = data.strip()
    return stripped[:1] == b"{" and b"\n{" in stripped


def read_resources(path: Path) -> Iterator[tuple[str, dict[str, Any] | Unreadable]]:
    """(where, resource or why not) for each resource of the file; `where` is `path` or
    `path:line` for NDJSON (a `.ndjson` file, or a file of one JSON object per line)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield str(path), Unreadable(f"cannot be read ({exc.strerror or exc})")
        return
    if path.suffix != ".ndjson":
        whole = _parse(data)
        if not (isinstance(whole, Unreadable) and _looks_like_ndjson(data)):
            yield str(path), whole
            return
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield f"{path}:{number}", _parse(line)


def describe(exc: FhirError) -> str:
    """`HTTP 422: Patient.birthDate: Invalid date value …; …` — the status, then each issue with
    the element it points at."""
    parts = [
        f"{', '.join(i.expression)}: {i.diagnostics}" if i.expression else i.diagnostics
        for i in exc.issues
        if i.is_error
    ]
    return f"{exc.status}: " + "; ".join(parts or [exc.message])


def _bundle_outcomes(bundle: dict[str, Any]) -> list[str | None]:
    """Per entry of a batch/transaction response: None when stored, else the problem."""
    out: list[str | None] = []
    for entry in bundle.get("entry") or []:
        response = entry.get("response") or {}
        status = str(response.get("status", ""))
        if status[:1] == "2":
            out.append(None)
            continue
        issues = (response.get("outcome") or {}).get("issue") or [{}]
        parts = [
            ": ".join(
                [
                    *([", ".join(i["expression"])] if i.get("expression") else []),
                    str(i.get("diagnostics", "failed")),
                ]
            )
            for i in issues
        ]
        out.append(f"{status}: " + "; ".join(parts))
    return out


def _store(
    repo: FhirRepository, resource: dict[str, Any], where: str, fail: Callable[[str], None]
) -> int:
    """Store one resource (or the entries of a Bundle); returns how many were stored."""
    rtype = resource["resourceType"]
    try:
        if rtype == "Bundle" and resource.get("type") in ("batch", "transaction"):
            result = dispatch(repo, FhirRequest("POST", "", body=resource))
            stored = 0
            for i, problem in enumerate(_bundle_outcomes(result.resource or {})):
                if problem is None:
                    stored += 1
                else:
                    fail(f"{where}: Bundle.entry[{i}]: {problem}")
            return stored
        if rtype == "Bundle" and "id" not in resource:
            stored = 0
            for i, entry in enumerate(resource.get("entry") or []):
                inner = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
                    stored += _store(repo, inner, f"{where} entry[{i}]", fail)
            return stored
        if "id" in resource:
            repo.update(rtype, str(resource["id"]), resource)
        else:
            repo.create(rtype, resource)
        return 1
    except FhirError as exc:
        fail(f"{where}: {describe(exc)}")
        return 0


def import_paths(settings: Settings, paths: list[Path]) -> ImportSummary:
    from ..app import build_components

    components = build_components(settings)
    components.database.upgrade()  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(settings.public_base, system_name="import"), components)
    summary = ImportSummary()
    try:
        with Progress() as progress:
            task = progress.add_task("importing", total=len(paths))

            def fail(message: str) -> None:
                summary.fail(message)
                progress.console.print(f"[red]error[/red] {escape(message)}", soft_wrap=True)

            for path in paths:
                for where, item in read_resources(path):
                    if isinstance(item, Unreadable):
                        fail(f"{where}: {item.reason}")
                    else:
                        summary.stored += _store(repo, item, where, fail)
                progress.advance(task)
    finally:
        components.database.dispose()
    return summary
