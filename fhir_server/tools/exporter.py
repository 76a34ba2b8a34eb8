"""`jiayi export DIR`: every current resource as NDJSON, one `<Type>.ndjson` file per type."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import orjson
from rich.progress import Progress

from ..settings import Settings
from ..storage.sql import SqlDatabase

_BATCH = 1000


def export_ndjson(settings: Settings, directory: Path) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    db = SqlDatabase(settings.database_url)
    db.upgrade()
    counts: dict[str, int] = {}
    files: dict[str, IO[bytes]] = {}
    after: tuple[str, str] | None = None
    try:
        with Progress() as progress:
            task = progress.add_task("exporting", total=None)
            while True:
                with db.unit_of_work(write=False) as uow:
                    batch = uow.resources.list_current(None, after, _BATCH)
                if not batch:
                    break
                for record in batch:
                    out = files.get(record.resource_type)
                    if out is None:
                        out = files[record.resource_type] = (
                            directory / f"{record.resource_type}.ndjson"
                        ).open("wb")
                    out.write(orjson.dumps(record.content) + b"\n")
                    counts[record.resource_type] = counts.get(record.resource_type, 0) + 1
                after = (batch[-1].resource_type, batch[-1].id)
                progress.advance(task, len(batch))
    finally:
        for f in files.values():
            f.close()
        db.dispose()
    return counts
