"""Assemble the FHIR package `hl7.fhir.r4.core#4.0.1` from the npm package `hl7.fhir.r4.examples@4.0.1`.

SUSHI (npm `fsh-sushi`) needs `hl7.fhir.r4.core#4.0.1` in its FHIR package cache
(`~/.fhir/packages/hl7.fhir.r4.core#4.0.1/package/`).  The registry that serves that package cannot be
reached here, but `hl7.fhir.r4.examples@4.0.1` on npm carries the full R4 definitions next to the
examples (http://hl7.org/fhir/R4/downloads.html).  This script copies the definitional resources
(StructureDefinition, ValueSet, CodeSystem, SearchParameter, OperationDefinition, …; not the examples)
into a package folder with a `package.json` naming it `hl7.fhir.r4.core` 4.0.1 and an `.index.json`
(FHIR NPM package spec, index-version 1: https://confluence.hl7.org/display/FHIR/NPM+Package+Specification).

Usage::

    python scripts/r4_core_package.py                 # source: .cache/r4/package (fetched with npm pack if absent)
    python scripts/r4_core_package.py --source DIR --dest ~/.fhir/packages
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES_PACKAGE = "hl7.fhir.r4.examples@4.0.1"
CORE_NAME = "hl7.fhir.r4.core"
CORE_VERSION = "4.0.1"

DEFINITIONAL = frozenset(
    {
        "StructureDefinition",
        "SearchParameter",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "OperationDefinition",
        "CompartmentDefinition",
        "NamingSystem",
        "CapabilityStatement",
        "ImplementationGuide",
        "StructureMap",
    }
)

PACKAGE_JSON: dict[str, Any] = {
    "name": CORE_NAME,
    "version": CORE_VERSION,
    "tools-version": 3,
    "type": "fhir.core",
    "date": "20191030123500",
    "license": "CC0-1.0",
    "canonical": "http://hl7.org/fhir",
    "url": "http://hl7.org/fhir/R4",
    "title": "FHIR Core package",
    "description": "Definitions (API, structures and terminologies) for the R4 version of the FHIR standard "
    "(rebuilt locally from hl7.fhir.r4.examples@4.0.1)",
    "fhirVersions": [CORE_VERSION],
    "dependencies": {},
    "author": "HL7 Inc",
    "jurisdiction": "http://unstats.un.org/unsd/methods/m49/m49.htm#001",
}

INDEX_FIELDS = ("id", "url", "version", "kind", "type", "supplements")


def fetch_examples(cache: Path) -> Path:
    """The unpacked `hl7.fhir.r4.examples` package folder, fetched with `npm pack` when missing."""
    package_dir = cache / "package"
    if (package_dir / "package.json").is_file():
        return package_dir
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm is not installed: cannot fetch {EXAMPLES_PACKAGE}")
    cache.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [npm, "pack", EXAMPLES_PACKAGE, "--silent"],
        cwd=cache,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = cache / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(cache, filter="data")
    tarball.unlink()
    return package_dir


def is_definition(resource: dict[str, Any]) -> bool:
    """A core definition (not an example): a conformance resource type whose id does not say example."""
    return resource.get("resourceType") in DEFINITIONAL and "example" not in str(
        resource.get("id", "")
    )


def index_entry(filename: str, resource: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"filename": filename, "resourceType": resource["resourceType"]}
    for field in INDEX_FIELDS:
        value = resource.get(field)
        if isinstance(value, str):
            entry[field] = value
    return entry


def build(source: Path, dest_root: Path) -> Path:
    """Write `<dest_root>/hl7.fhir.r4.core#4.0.1/package/`; returns that folder."""
    target = dest_root / f"{CORE_NAME}#{CORE_VERSION}" / "package"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files: list[dict[str, Any]] = []
    for path in sorted(source.glob("*.json")):
        if path.name in {"package.json", ".index.json"}:
            continue
        try:
            resource = json.loads(path.read_bytes())
        except ValueError:
            continue
        if not isinstance(resource, dict) or not is_definition(resource):
            continue
        shutil.copyfile(path, target / path.name)
        files.append(index_entry(path.name, resource))
    (target / "package.json").write_text(
        json.dumps(PACKAGE_JSON, indent=2) + "\n", encoding="utf-8"
    )
    index = {"index-version": 1, "files": files}
    (target / ".index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="unpacked hl7.fhir.r4.examples package folder")
    parser.add_argument(
        "--dest",
        type=Path,
        default=Path.home() / ".fhir" / "packages",
        help="FHIR package cache (default ~/.fhir/packages)",
    )
    args = parser.parse_args(argv)
    source = args.source or fetch_examples(REPO / ".cache" / "r4")
    target = build(source, args.dest)
    count = len(json.loads((target / ".index.json").read_text(encoding="utf-8"))["files"])
    print(f"{CORE_NAME}#{CORE_VERSION}: {count} definitions in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
