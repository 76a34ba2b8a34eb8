"""Compile the official FHIR R4 (4.0.1) StructureDefinitions into compact package data.

Spec: http://hl7.org/fhir/R4/structuredefinition.html and http://hl7.org/fhir/R4/elementdefinition.html.
Source: the npm package `hl7.fhir.r4.examples@4.0.1` (it holds every core StructureDefinition with a
snapshot plus the official examples).  The package is fetched with `npm pack` into `<repo>/.cache/r4/`
unless `--package-dir` names an unpacked copy.

Output (read by `fhir_server.conformance.r4.R4Definitions`):

* `fhir_server/conformance/data/r4-structure.json.gz` — for every resource type (concrete and the
  abstract `Resource`/`DomainResource`) and every complex datatype, the snapshot elements in document
  order as compact records; for every primitive type its JSON representation, regex and maxLength.
* `fhir_server/conformance/data/resource-types.json` — the sorted list of the 146 concrete types.

Element record keys (defaults omitted): `p` path, `t` type codes (after mapping FHIRPath system types
to their FHIR type), `min` (0), `max` ("1"), `s` isSummary (false), `m` isModifier (false), `a` the
XML-attribute representation (no `_name` sibling in JSON; false), `r` contentReference path, `tp`
Reference/canonical target profiles, `b` [strength, valueSet] of a binding.

Run: `python scripts/build_r4_definitions.py [--package-dir DIR]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "hl7.fhir.r4.examples@4.0.1"
CACHE = REPO / ".cache" / "r4"
OUT_DIR = REPO / "fhir_server" / "conformance" / "data"
SCHEMA_VERSION = 1

_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
_JSON_KIND = {"boolean": "boolean", "integer": "integer", "decimal": "decimal"}
# R4 snapshots type `Resource.id` as System.String; the specification's type for it is `id`.
_TYPE_OVERRIDES = {"Resource.id": "id"}


def fetch_package(cache: Path = CACHE) -> Path:
    """Return the unpacked package directory, running `npm pack` into `cache` when absent."""
    package_dir = cache / "package"
    if (package_dir / "package.json").is_file():
        return package_dir
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is required to fetch " + PACKAGE)
    cache.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [npm, "pack", PACKAGE, "--silent"], cwd=cache, check=True, capture_output=True, text=True
    )
    tarball = cache / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(cache, filter="data")
    tarball.unlink()
    return package_dir


def _load_sds(package_dir: Path) -> list[dict[str, Any]]:
    sds = []
    for path in sorted(package_dir.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("derivation") == "constraint" or sd.get("kind") == "logical":
            continue
        sds.append(sd)
    return sds


def _type_code(element: dict[str, Any], type_: dict[str, Any]) -> str:
    code: str = type_["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in type_.get("extension", []):
            if ext.get("url") == _FHIR_TYPE_EXT:
                code = ext["valueUrl"]
    base_path = element.get("base", {}).get("path", "")
    return _TYPE_OVERRIDES.get(base_path, code)


def _compact_element(element: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"p": element["path"]}
    types = element.get("type", [])
    if types:
        record["t"] = [_type_code(element, t) for t in types]
    targets = sorted({p for t in types for p in t.get("targetProfile", [])})
    if targets:
        record["tp"] = targets
    if element.get("min", 0):
        record["min"] = element["min"]
    if element.get("max", "1") != "1":
        record["max"] = element["max"]
    if element.get("isSummary"):
        record["s"] = 1
    if element.get("isModifier"):
        record["m"] = 1
    if "xmlAttr" in element.get("representation", []):
        record["a"] = 1
    if "contentReference" in element:
        record["r"] = element["contentReference"].lstrip("#")
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        record["b"] = [binding["strength"], binding["valueSet"]]
    return record


def _primitive(sd: dict[str, Any]) -> dict[str, Any]:
    name = sd["type"]
    value = next(e for e in sd["snapshot"]["element"] if e["path"] == f"{name}.value")
    info: dict[str, Any] = {"json": _JSON_KIND.get(name, "string")}
    if name in ("positiveInt", "unsignedInt"):
        info["json"] = "integer"
    for ext in value["type"][0].get("extension", []):
        if ext.get("url") == _REGEX_EXT:
            info["regex"] = ext["valueString"]
    if "maxLength" in value:
        info["maxLength"] = value["maxLength"]
    return info


def compile_definitions(package_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Build the compact structure document and the list of concrete resource types."""
    types: dict[str, Any] = {}
    primitives: dict[str, Any] = {}
    concrete: list[str] = []
    for sd in _load_sds(package_dir):
        name, kind = sd["type"], sd["kind"]
        if kind == "primitive-type":
            primitives[name] = _primitive(sd)
            continue
        if kind == "resource" and not sd.get("abstract"):
            concrete.append(name)
        elements = sd["snapshot"]["element"][1:]  # the root element carries no child information
        types[name] = {
            "kind": kind,
            "abstract": bool(sd.get("abstract")),
            "base": sd.get("baseDefinition", "").rsplit("/", 1)[-1] or None,
            "elements": [_compact_element(e) for e in elements],
        }
    document = {
        "fhirVersion": "4.0.1",
        "schema": SCHEMA_VERSION,
        "primitives": dict(sorted(primitives.items())),
        "types": dict(sorted(types.items())),
    }
    return document, sorted(concrete)


def write_outputs(document: dict[str, Any], resource_types: list[str], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(document, separators=(",", ":"), sort_keys=False).encode("utf-8")
    # mtime=0 keeps the archive byte-for-byte reproducible.
    with gzip.GzipFile(out_dir / "r4-structure.json.gz", "wb", compresslevel=9, mtime=0) as fh:
        fh.write(raw)
    (out_dir / "resource-types.json").write_text(json.dumps(resource_types), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, help="an unpacked hl7.fhir.r4.examples package")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    package_dir = args.package_dir or fetch_package()
    document, resource_types = compile_definitions(package_dir)
    write_outputs(document, resource_types, args.out_dir)
    size = (args.out_dir / "r4-structure.json.gz").stat().st_size
    print(
        f"{len(document['types'])} structures, {len(document['primitives'])} primitives, "
        f"{len(resource_types)} resource types -> r4-structure.json.gz ({size // 1024} KiB)"
    )


if __name__ == "__main__":
    main()
