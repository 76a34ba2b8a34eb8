"""Build the R4 search-parameter and compartment package data from the official definitions.

Source: HL7 FHIR R4 (4.0.1), the npm package `hl7.fhir.r4.examples@4.0.1` (the full R4 definition
set: 1,400 SearchParameters and the CompartmentDefinitions), published by HL7 International under
CC0 / public domain (http://hl7.org/fhir/R4/license.html).  Spec: http://hl7.org/fhir/R4/search.html

Writes, under `fhir_server/conformance/data/`:
- `r4-search-parameters.json.gz`: every SearchParameter, compacted to what the search engine needs
  (url, code, base, type, expression, target, modifier, comparator, multipleOr/And, chain, component,
  and the description the CapabilityStatement documents each parameter with).
- `r4-compartments.json`: {compartment type: {resource type: [param codes]}} for Patient, Encounter,
  RelatedPerson, Practitioner and Device.

Usage: `python scripts/build_search_parameters.py [--package-dir DIR]` (default: `npm pack` into
`<repo>/.cache/r4/` and extract there).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "r4"
OUT = REPO / "fhir_server" / "conformance" / "data"
PACKAGE = "hl7.fhir.r4.examples@4.0.1"
COMPARTMENTS = ("Patient", "Encounter", "RelatedPerson", "Practitioner", "Device")
_KEYS = (
    "url",
    "code",
    "base",
    "type",
    "expression",
    "target",
    "modifier",
    "comparator",
    "description",
)


def fetch_package() -> Path:
    """`npm pack` the R4 package into the cache and extract it; returns the `package/` folder."""
    package_dir = CACHE / "package"
    if package_dir.is_dir():
        return package_dir
    CACHE.mkdir(parents=True, exist_ok=True)
    name = (
        subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"],
            cwd=CACHE,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    with tarfile.open(CACHE / name) as tar:
        tar.extractall(CACHE, filter="data")
    return package_dir


def compact(sp: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: sp[k] for k in _KEYS if sp.get(k) not in (None, [], "")}
    out["multipleOr"] = sp.get("multipleOr", True)
    out["multipleAnd"] = sp.get("multipleAnd", True)
    if sp.get("chain"):
        out["chain"] = sp["chain"]
    if sp.get("component"):
        out["component"] = [
            {"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]
        ]
    return out


def search_parameters(package_dir: Path) -> list[dict[str, Any]]:
    raw = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in package_dir.glob("SearchParameter-*.json")
    ]
    # The spec's sample parameters ("example", "example-reference") shadow core ones: leave them out.
    params = [compact(sp) for sp in raw if sp.get("base") and not sp["id"].startswith("example")]
    return sorted(params, key=lambda p: p["url"])


def compartments(package_dir: Path) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for path in sorted(package_dir.glob("CompartmentDefinition-*.json")):
        cd = json.loads(path.read_text(encoding="utf-8"))
        if cd.get("code") not in COMPARTMENTS or cd.get("id") == "example":
            continue
        out[cd["code"]] = {
            r["code"]: sorted(r["param"]) for r in cd.get("resource", []) if r.get("param")
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package-dir", type=Path, default=None)
    args = parser.parse_args()
    package_dir = args.package_dir or fetch_package()
    params = search_parameters(package_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    data = json.dumps(params, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    with gzip.GzipFile(OUT / "r4-search-parameters.json.gz", "wb", mtime=0) as fh:
        fh.write(data.encode("utf-8"))
    comps = compartments(package_dir)
    (OUT / "r4-compartments.json").write_text(
        json.dumps(comps, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{len(params)} search parameters, {len(comps)} compartments → {OUT}")


if __name__ == "__main__":
    main()
