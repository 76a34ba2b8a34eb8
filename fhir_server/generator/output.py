"""Where generated resources go: NDJSON files per type; PostgreSQL with COPY (`copy_load`: the
search-index rows the API would write, resumable); or any database through the repository
(`load`: validated and indexed exactly as the API would, in batches, resumable)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..services.repository import FhirRepository


def write_ndjson(resources: Iterable[dict[str, Any]], directory: Path) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, IO[bytes]] = {}
    counts: dict[str, int] = {}
    try:
        for resource in resources:
            rtype = resource["resourceType"]
            if rtype not in files:
                files[rtype] = (directory / f"{rtype}.ndjson").open("wb")
            files[rtype].write(orjson.dumps(resource) + b"\n")
            counts[rtype] = counts.get(rtype, 0) + 1
    finally:
        for f in files.values():
            f.close()
    return counts


def batches(resources: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for resource in resources:
        batch.append(resource)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(
    repo: FhirRepository, resources: Iterable[dict[str, Any]], batch_size: int = 500
) -> Iterator[int]:
    """Store every resource (update-as-create: the generator's ids); yields counts per batch.

    What an earlier run stored is skipped (a whole batch when its last resource is there), so an
    interrupted load resumes where it stopped without duplicates or new versions."""
    for batch in batches(resources, batch_size):
        last = batch[-1]
        if repo.current_or_none(last["resourceType"], last["id"]) is not None:
            yield len(batch)
            continue
        with repo.transaction() as tx:
            for resource in batch:
                if tx.current_or_none(resource["resourceType"], resource["id"]) is None:
                    tx.update(resource["resourceType"], resource["id"], resource)
        yield len(batch)


class ResumeMismatch(ValueError):
    """The database holds resources of this seed that are not the start of this plan's stream."""


def _strip_meta(resource: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (resource.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")}  # fmt: skip
    out = {k: v for k, v in resource.items() if k != "meta"}
    return {**out, "meta": meta} if meta else out


def stored_prefix(database_url: str, prefix: str) -> int:
    """How many resources with ids starting `prefix` the database holds (PostgreSQL)."""
    import psycopg

    from ..tools.bulk_load import libpq

    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE res_id LIKE %s", (pattern,))
        return int(row.fetchone()[0])  # type: ignore[index]


def _stored(database_url: str, resource: dict[str, Any]) -> dict[str, Any] | None:
    import psycopg

    from ..tools.bulk_load import libpq

    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute(
            "SELECT content FROM resource WHERE res_type = %s AND res_id = %s",
            (resource["resourceType"], resource["id"]),
        ).fetchone()
    if row is None:
        return None
    content = row[0]
    return orjson.loads(content) if isinstance(content, str | bytes) else content


def resume_point(database_url: str, prefix: str, resources: Iterator[dict[str, Any]]) -> int:
    """Skip what an earlier, interrupted COPY load of the same plan committed.

    The bulk loader commits batches in stream order, so what is stored is a prefix of the
    stream: its length is the number of stored resources with the plan's id prefix.  The last
    stored resource must equal the stream's resource at that position and the next one must be
    absent — otherwise the database was filled from another plan (ResumeMismatch)."""
    done = stored_prefix(database_url, prefix)
    if done == 0:
        return 0
    last: dict[str, Any] | None = None
    patient: dict[str, Any] | None = None  # the last resident: names, birth date, ID number
    for _ in range(done):
        last = next(resources, None)
        if last is None:
            break
        if last["resourceType"] == "Patient":
            patient = last
    following = next(resources, None)
    probes = [r for r in (last, patient) if r is not None]
    if last is None or any(
        _strip_meta(_stored(database_url, r) or {}) != _strip_meta(r) for r in probes
    ):
        raise ResumeMismatch(
            f"the database holds {done} resources with ids '{prefix}…' that are not the start of "
            "this population: resume with the same --residents, --city, --seed and --date"
        )
    if following is not None and _stored(database_url, following) is not None:
        raise ResumeMismatch(
            f"the database holds resources with ids '{prefix}…' beyond the first {done} of this "
            "population: resume with the same --residents, --city, --seed and --date"
        )
    return done


def copy_load(
    database_url: str,
    resources: Callable[[], Iterator[dict[str, Any]]],
    prefix: str,
    *,
    workers: int = 2,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Load a generated population into PostgreSQL with COPY (`tools.bulk_load`: the search
    index rows the API would write), resuming after an interruption.  Returns (skipped, written)."""
    from ..tools.bulk_load import bulk_load

    skipped = resume_point(database_url, prefix, resources())
    stream = resources()
    for _ in range(skipped):
        next(stream, None)
    written = bulk_load(database_url, stream, workers=workers, batch=batch, progress=progress)
    return skipped, written
