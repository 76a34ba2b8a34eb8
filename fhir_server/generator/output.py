"""Where generated resources go: NDJSON files per type; PostgreSQL with COPY (`copy_load`: the
search-index rows the API would write, resumable); or any database through the repository
(`load`: validated and indexed exactly as the API would, in batches, resumable)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from ..services.repository import FhirRepository

if TYPE_CHECKING:
    from ..tools.bulk_load import LoadState


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


def transaction_bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle storing `resources` under their own ids (PUT: update-as-create, so
    posting it twice changes nothing but versions)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + r['id'])}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


def write_bundles(
    resources: Iterable[dict[str, Any]], directory: Path, size: int = 500
) -> dict[str, int]:
    """Transaction Bundles of `size` entries, `bundle-000001.json` …, to POST in name order
    (providers come first, so every reference resolves to a resource posted before or with it)."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for number, batch in enumerate(batches(resources, size), start=1):
        (directory / f"bundle-{number:06d}.json").write_bytes(
            orjson.dumps(transaction_bundle(batch))
        )
        for resource in batch:
            counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
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


def stored_prefix(database_url: str, prefix: str) -> int:
    """How many resources with ids starting `prefix` the database holds (PostgreSQL)."""
    import psycopg

    from ..tools.bulk_load import libpq

    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE res_id LIKE %s", (pattern,))
        return int(row.fetchone()[0])  # type: ignore[index]


def _verified_skip(state: LoadState, prefix: str, resources: Iterator[dict[str, Any]]) -> int:
    """How many resources the committed batches hold, after checking that each committed batch
    is this stream's batch of that number (ResumeMismatch otherwise)."""
    from ..tools.bulk_load import _batches, batch_digest

    last = max(state.committed)
    skipped = 0
    seen = 0
    for number, chunk in enumerate(_batches(resources, state.batch_size)):
        if number > last:
            break
        seen = number + 1
        if number in state.committed:
            count, digest = state.committed[number]
            if count != len(chunk) or digest != batch_digest(chunk):
                raise ResumeMismatch(
                    f"batch {number} of the load '{prefix}…' in the database is not this "
                    "population's: resume with the same --residents, --city, --seed and --date"
                )
            skipped += count
    if seen <= last:
        raise ResumeMismatch(
            f"the database holds batches of the load '{prefix}…' beyond the end of this "
            "population: resume with the same --residents, --city, --seed and --date"
        )
    return skipped


def copy_load(
    database_url: str,
    resources: Callable[[], Iterator[dict[str, Any]]],
    prefix: str,
    *,
    workers: int = 2,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    expected: int | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Load a generated population into PostgreSQL with COPY (`tools.bulk_load`: the search
    index rows the API would write), resuming after an interruption.  Returns (skipped, written).

    The load is keyed by `prefix` (the plan's id prefix): the batches an earlier run committed
    (`bulk_load_batch`, written in each batch's transaction) are checked against this stream's
    batches of the same numbers and skipped; the rest is loaded with the earlier run's batch
    size and start time, so the result equals an uninterrupted load's."""
    from ..tools.bulk_load import bulk_load, load_state

    state = load_state(database_url, prefix)
    if state is None and stored_prefix(database_url, prefix):
        raise ResumeMismatch(
            f"the database holds resources with ids '{prefix}…' that no resumable load of this "
            "population recorded: load into another database (or another --seed)"
        )
    skipped = 0
    if state is not None:
        batch = state.batch_size
        if state.committed:
            skipped = _verified_skip(state, prefix, resources())
    written = bulk_load(
        database_url,
        resources(),
        workers=workers,
        batch=batch,
        progress=progress,
        load_key=prefix,
        skip=frozenset(state.committed) if state else frozenset(),
        now=state.started if state else None,
        expected=expected,
        on_phase=on_phase,
    )
    return skipped, written
