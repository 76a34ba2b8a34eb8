"""Copy SUSHI's compiled resources into the guide's folders under `profiles/` (run by build_profiles.sh).

Placement: StructureDefinitions of extensions → `extensions/`, other StructureDefinitions →
`structuredefinitions/`, SearchParameter → `searchparameters/`, Measure → `measures/`, NamingSystem →
`namingsystems/`, Questionnaire → `questionnaires/`, everything else (example instances) → `examples/`.
Nothing is removed: other scripts and hand-written resources share these folders (SearchParameters,
extensions of `scripts/build_service_packages.py`), so a file of an FSH definition that was deleted
must be deleted by hand; `main` lists the JSON files SUSHI did not produce.  JSON is written with two-space indentation and
unescaped Chinese, like the rest of the guide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NOT_FSH_EXTENSIONS = frozenset(
    f"StructureDefinition-{i}.json"
    for i in ("fee-standard", "timing-comparator", "timing-anchor", "delivery-mode")
)
FOLDERS = {
    "SearchParameter": "searchparameters",
    "Measure": "measures",
    "NamingSystem": "namingsystems",
    "Questionnaire": "questionnaires",
}
MANAGED = ("structuredefinitions", "extensions", "examples", *FOLDERS.values())


def folder_for(resource: dict[str, Any]) -> str:
    rtype = resource["resourceType"]
    if rtype == "StructureDefinition":
        return "extensions" if resource.get("type") == "Extension" else "structuredefinitions"
    return FOLDERS.get(rtype, "examples")


def place(generated: Path, profiles: Path) -> dict[str, int]:
    written: dict[str, set[str]] = {name: set() for name in MANAGED}
    for path in sorted(generated.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        folder = folder_for(resource)
        name = f"{resource['resourceType']}-{resource['id']}.json"
        if folder == "extensions" and name in NOT_FSH_EXTENSIONS:
            continue  # a SUSHI-only copy (fee-standard.fsh); the JSON file stays authoritative
        target = profiles / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(resource, ensure_ascii=False, indent=2) + "\n"
        target.write_text(text, encoding="utf-8")
        written[folder].add(name)
    return {folder: len(names) for folder, names in written.items()}


def not_from_fsh(generated: Path, profiles: Path) -> list[str]:
    """JSON files of the managed folders that SUSHI's output in `generated` does not hold."""
    made = set()
    for path in generated.glob("*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        made.add(f"{folder_for(resource)}/{resource['resourceType']}-{resource['id']}.json")
    return [
        f"{folder}/{p.name}"
        for folder in MANAGED
        for p in sorted((profiles / folder).glob("*.json"))
        if f"{folder}/{p.name}" not in made
    ]


def main(argv: list[str]) -> int:
    counts = place(Path(argv[0]), Path(argv[1]))
    print(", ".join(f"{folder}: {n}" for folder, n in counts.items()))
    others = not_from_fsh(Path(argv[0]), Path(argv[1]))
    if others:
        print(f"not from FSH (kept): {', '.join(others)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
