"""`jiayi import`: FHIR JSON resources, Bundles and NDJSON files through the repository (validated).

A resource with an id is stored by update-as-create (so re-importing is idempotent); one without an
id is created.  A batch or transaction Bundle is processed as the REST API would process it; any other
Bundle (collection, searchset, document …) is unpacked into its entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from ..core.errors import FhirError
from ..core.jsonio import loads
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

    def line(self) -> str:
        return f"imported {self.stored} resources, {self.failed} failed"


def read_resources(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_bytes()
    stripped = text.lstrip()
    if path.suffix == ".ndjson" or (stripped[:1] == b"{" and b"\n{" in text.strip()):
        for line in text.splitlines():
            if line.strip():
                yield loads(line)
        return
    yield loads(text)


def _store_one(repo: FhirRepository, resource: dict[str, Any]) -> int:
    rtype = resource.get("resourceType", "")
    if rtype == "Bundle" and resource.get("type") in ("batch", "transaction"):
        dispatch(repo, FhirRequest("POST", "", body=resource))
        return len(resource.get("entry") or [])
    if (
        rtype == "Bundle"
        and resource.get("type") not in ("batch", "transaction")
        and "id" not in resource
    ):
        stored = 0
        for entry in resource.get("entry") or []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                stored += _store_one(repo, entry["resource"])
        return stored
    if "id" in resource:
        repo.update(rtype, str(resource["id"]), resource)
    else:
        repo.create(rtype, resource)
    return 1


def import_paths(settings: Settings, paths: list[Path]) -> ImportSummary:
    from ..app import build_components

    components = build_components(settings)
    components.database.upgrade()  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(settings.public_base, system_name="import"), components)
    summary = ImportSummary()
    with Progress() as progress:
        task = progress.add_task("importing", total=len(paths))
        for path in paths:
            for resource in read_resources(path):
                try:
                    summary.stored += _store_one(repo, resource)
                except FhirError as exc:
                    summary.failed += 1
                    summary.errors.append(f"{path}: {exc.message}")
                    progress.console.print(f"[red]{path}[/red]: {exc.message}")
            progress.advance(task)
    components.database.dispose()
    return summary
