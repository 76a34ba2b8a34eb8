"""Where generated resources go: NDJSON files per type, or a database through the repository
(validated and indexed exactly as the API would), in batches, resumable."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
