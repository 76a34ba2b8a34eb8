"""Compile the R4 base CodeSystems and ValueSets that are small and complete into package data.

Spec: http://hl7.org/fhir/R4/terminologies-systems.html, http://hl7.org/fhir/R4/terminologies-valuesets.html.
Source: the npm package `hl7.fhir.r4.examples@4.0.1` (fetched into `<repo>/.cache/r4/` like
`scripts/build_r4_definitions.py` does), or `--package-dir DIR`.

Output: `fhir_server/conformance/data/r4-terminology.json.gz`, read by
`fhir_server.terminology.sources.PackageSource`:

    {"schema": 1, "fhirVersion": "4.0.1", "codeSystems": [...], "valueSets": [...]}

Each entry is a FHIR resource stripped to what terminology operations use: narrative, contacts,
extensions and other metadata are dropped.  Kept:

* every CodeSystem (concept definitions only for the FHIR-defined `http://hl7.org/fhir/…` ones) with `content = complete` and at most `--max-concepts` concepts (the FHIR-defined
  systems such as administrative-gender and observation-status, and the HL7 v2/v3 tables the base
  bindings name);
* every ValueSet whose compose the engine can evaluate from that data alone: each include names a kept
  system, or enumerates its concepts, and each imported ValueSet is itself kept.

Run: `python scripts/build_r4_terminology.py [--package-dir DIR] [--max-concepts N]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "fhir_server" / "conformance" / "data" / "r4-terminology.json.gz"
SCHEMA_VERSION = 1

_CS_KEYS = (
    "resourceType",
    "id",
    "url",
    "version",
    "name",
    "title",
    "status",
    "caseSensitive",
    "valueSet",
    "hierarchyMeaning",
    "content",
    "property",
    "concept",
)
_VS_KEYS = ("resourceType", "id", "url", "version", "name", "title", "status", "compose")
_FHIR_DEFINED = "http://hl7.org/fhir/"
_CONCEPT_KEYS = ("code", "display", "definition", "designation", "property", "concept")


def _count(concepts: Iterable[dict[str, Any]]) -> int:
    return sum(1 + _count(c.get("concept", [])) for c in concepts)


def _concept(concept: dict[str, Any], definitions: bool) -> dict[str, Any]:
    out = {k: concept[k] for k in _CONCEPT_KEYS if k in concept and k != "concept"}
    if not definitions:
        out.pop("definition", None)
    if "designation" in out:
        out["designation"] = [
            {k: d[k] for k in ("language", "use", "value") if k in d} for d in out["designation"]
        ]
    if concept.get("concept"):
        out["concept"] = [_concept(c, definitions) for c in concept["concept"]]
    return out


def _code_system(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: resource[k] for k in _CS_KEYS if k in resource}
    # Definitions only for the FHIR-defined systems: the v2/v3 tables' texts would double the file.
    definitions = resource["url"].startswith(_FHIR_DEFINED)
    out["concept"] = [_concept(c, definitions) for c in resource.get("concept", [])]
    return out


def _value_set(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in _VS_KEYS if k in resource}


def _evaluable(vs: dict[str, Any], systems: set[str], kept: set[str]) -> bool:
    compose = vs.get("compose") or {}
    parts = [*compose.get("include", []), *compose.get("exclude", [])]
    if not compose.get("include"):
        return False
    for part in parts:
        if any(ref.split("|")[0] not in kept for ref in part.get("valueSet", [])):
            return False
        system = part.get("system")
        if system and system not in systems and not part.get("concept"):
            return False
    return True


def compile_package(package_dir: Path, max_concepts: int) -> dict[str, Any]:
    code_systems: dict[str, dict[str, Any]] = {}
    value_sets: dict[str, dict[str, Any]] = {}
    for path in sorted(package_dir.glob("*.json")):
        if not path.name.startswith(("CodeSystem-", "ValueSet-")):
            continue
        resource = json.loads(path.read_text(encoding="utf-8"))
        if "example" in resource.get("id", ""):
            continue
        if resource.get("resourceType") == "CodeSystem":
            if resource.get("content") != "complete" or "|" in resource["url"]:
                continue  # (six v2 tables carry "|version" inside their url: not canonical)
            if _count(resource.get("concept", [])) > max_concepts:
                continue
            code_systems[resource["url"]] = _code_system(resource)
        elif resource.get("resourceType") == "ValueSet":
            value_sets[resource["url"]] = resource
    systems = set(code_systems)
    kept = set(value_sets)
    while True:  # drop value sets importing dropped ones until nothing changes
        keep = {u for u in kept if _evaluable(value_sets[u], systems, kept)}
        if keep == kept:
            break
        kept = keep
    return {
        "schema": SCHEMA_VERSION,
        "fhirVersion": "4.0.1",
        "codeSystems": [code_systems[u] for u in sorted(code_systems)],
        "valueSets": [_value_set(value_sets[u]) for u in sorted(kept)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, default=None)
    parser.add_argument("--max-concepts", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.package_dir is None:
        sys.path.insert(0, str(REPO / "scripts"))
        from build_r4_definitions import fetch_package

        package_dir = fetch_package()
    else:
        package_dir = args.package_dir
    data = compile_package(package_dir, args.max_concepts)
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
        fh.write(raw.encode("utf-8"))
    print(
        f"{OUT.relative_to(REPO)}: {len(data['codeSystems'])} CodeSystems, "
        f"{len(data['valueSets'])} ValueSets, {OUT.stat().st_size // 1024} KiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
