"""Snapshots of the guide's StructureDefinitions, generated from their differentials.

Spec: http://hl7.org/fhir/R4/profiling.html#snapshot.  The guide's StructureDefinitions are authored
differential-only (SUSHI, scripts); `scripts/build_snapshots.py` writes the snapshot next to the
differential in the committed JSON, with the full element definitions of the R4 base (text, mappings,
constraints) taken from the official package, and `jiayi ig build` packages them.  The element
algorithm is `fhir_server.validation.snapshot` (the one the validator uses), so what is published is
what is enforced.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fhir_server.validation.snapshot import generate_snapshot


class SnapshotBuilder:
    """Generates snapshots of `guide` StructureDefinitions over `base` ones (canonical URL → SD with
    a snapshot, e.g. the official R4 package).  The guide's own snapshots are ignored and rebuilt, so
    a stale committed snapshot cannot feed another."""

    def __init__(
        self, base: Mapping[str, dict[str, Any]], guide: Iterable[Mapping[str, Any]]
    ) -> None:
        self._base = base
        self._guide = {
            str(sd["url"]): {k: v for k, v in sd.items() if k != "snapshot"}
            for sd in guide
            if sd.get("resourceType") == "StructureDefinition" and isinstance(sd.get("url"), str)
        }
        self._done: dict[str, dict[str, Any]] = {}

    def resolve(self, url: str) -> dict[str, Any] | None:
        url = url.split("|", 1)[0]
        if url in self._done:
            return self._done[url]
        sd = self._guide.get(url)
        if sd is None:
            return self._base.get(url)
        elements = generate_snapshot(sd, self.resolve)
        self._done[url] = {**sd, "snapshot": {"element": elements}}
        return self._done[url]

    def snapshot(self, url: str) -> list[dict[str, Any]]:
        sd = self.resolve(url)
        if sd is None or url not in self._guide:
            raise KeyError(f"{url} is not a StructureDefinition of the guide")
        return copy.deepcopy(sd["snapshot"]["element"])

    def with_snapshot(self, sd: Mapping[str, Any]) -> dict[str, Any]:
        """`sd` with its generated snapshot placed after the differential (key order kept)."""
        out = {k: v for k, v in sd.items() if k != "snapshot"}
        out["snapshot"] = {"element": self.snapshot(str(sd["url"]))}
        return out


def load_base_definitions(package_dir: Path) -> dict[str, dict[str, Any]]:
    """Canonical URL → StructureDefinition of an unpacked FHIR package (`package/*.json`)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(package_dir.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(sd.get("url"), str) and sd.get("snapshot"):
            found[sd["url"]] = sd
    return found
