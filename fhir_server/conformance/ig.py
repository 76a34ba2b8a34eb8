"""The implementation guide's own resources: every FHIR JSON file under `profiles/` and `terminology/`.

Files that are not FHIR resources (no `resourceType`, e.g. `terminology/key-population-rules.json`)
are data for code and are skipped here; `load_ig_data` reads them by name.  Order is stable (folder,
then path), so seeding and listings are reproducible.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from .packages import ig_dir

IG_FOLDERS = ("profiles", "terminology")


def _json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if p.is_file()) if folder.is_dir() else []


#: Sub-folders whose JSON is not part of the guide's definitions (example instances, data tables).
NOT_DEFINITIONS = ("examples", "population", "fsh")


def load_ig_resources(include_examples: bool = False) -> list[dict[str, Any]]:
    """Every FHIR resource of the guide (CodeSystem, ValueSet, StructureDefinition, PlanDefinition …).

    Example instances (`profiles/examples/`) are left out unless asked for: they illustrate the
    profiles and must not be seeded into production databases.  A new list each call, of parsed
    resources shared by every caller (read-only: copy one before changing it)."""
    files: list[tuple[str, int, int]] = []
    for name in IG_FOLDERS:
        root = ig_dir(name)
        for path in _json_files(root):
            parts = path.relative_to(root).parts[:-1]
            if any(p in NOT_DEFINITIONS for p in parts) and not (
                include_examples and "examples" in parts
            ):
                continue
            stat = path.stat()
            files.append((str(path), stat.st_size, stat.st_mtime_ns))
    return list(_parsed(tuple(files)))


@functools.lru_cache(maxsize=4)
def _parsed(files: tuple[tuple[str, int, int], ...]) -> tuple[dict[str, Any], ...]:
    """The resources in `files` (path, size, mtime), parsed once per distinct set of versions."""
    resources = []
    for path, _size, _mtime in files:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
            resources.append(data)
    return tuple(resources)


def load_ig_data(folder: str, filename: str) -> Any:
    """A data file of the guide that is not a resource, e.g. `("terminology", "key-population-rules.json")`."""
    return json.loads((ig_dir(folder) / filename).read_text(encoding="utf-8"))
