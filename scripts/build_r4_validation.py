"""Compile what the profile validator needs from the official FHIR R4 (4.0.1) package.

Spec: http://hl7.org/fhir/R4/structuredefinition.html (snapshots), http://hl7.org/fhir/R4/
elementdefinition.html (constraints, bindings, slicing, fixed/pattern), http://hl7.org/fhir/R4/
valueset.html (compose), http://hl7.org/fhir/R4/conformance-rules.html#constraints (invariants).
Source: the npm package `hl7.fhir.r4.examples@4.0.1`, fetched like `scripts/build_r4_definitions.py`.

Output `fhir_server/validation/data/r4-validation.json.gz` (read by `validation/library.py`):

* `structures`: canonical URL → stripped StructureDefinition (`url`, `type`, `kind`, `derivation`,
  `baseDefinition`, `snapshot.element` with only the keys validation reads) for every core
  StructureDefinition: the base resources and datatypes (base of the guide's snapshots) and the 441
  core constraint profiles and extensions (vitalsigns, shareablevalueset …) that resources may claim.
* `constraints`: element path → `[key, severity, expression, human]` of every base invariant except
  `ele-1` and `ext-1`, which `validation/structure.py` checks natively on every element.
* `valuesets`: ValueSet URL → sorted `"system|code"` list, for every ValueSet of a required binding
  in the base specification that expands locally (enumerated concepts or whole CodeSystems of the
  package with `content = complete`, no filters).  Others are absent and their bindings unchecked.

Run: `python scripts/build_r4_validation.py [--package-dir DIR]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_r4_definitions import fetch_package  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "fhir_server" / "validation" / "data" / "r4-validation.json.gz"
NATIVE = frozenset({"ele-1", "ext-1"})  # checked natively by validation/structure.py
_KEEP = ("id", "path", "sliceName", "min", "max", "contentReference", "slicing")


def _strip_element(element: dict[str, Any]) -> dict[str, Any]:
    out = {k: element[k] for k in _KEEP if k in element}
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            out[key] = value
    types = []
    for t in element.get("type", []):
        item = {"code": t["code"]}
        for k in ("profile", "targetProfile"):
            if t.get(k):
                item[k] = t[k]
        types.append(item)
    if types:
        out["type"] = types
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        out["binding"] = {"strength": binding["strength"], "valueSet": binding["valueSet"]}
    constraints = [
        {k: c[k] for k in ("key", "severity", "expression", "human") if k in c}
        for c in element.get("constraint", [])
        if c.get("key") not in NATIVE and c.get("expression")
    ]
    if constraints:
        out["constraint"] = constraints
    return out


def _strip_sd(sd: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": sd["url"],
        "type": sd["type"],
        "kind": sd["kind"],
        "abstract": sd.get("abstract", False),
        "derivation": sd.get("derivation", "specialization"),
        "baseDefinition": sd.get("baseDefinition"),
        "snapshot": {"element": [_strip_element(e) for e in sd["snapshot"]["element"]]},
    }


def _resources(package_dir: Path, prefix: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted(package_dir.glob(f"{prefix}-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("resourceType") == prefix:
            out.append(data)
    return out


def _expand(
    vs: dict[str, Any], codesystems: dict[str, dict[str, Any]], valuesets: dict[str, Any]
) -> set[str] | None:
    """`system|code` members of a ValueSet, or None when it cannot be expanded locally."""
    compose = vs.get("compose") or {}
    if compose.get("exclude"):
        return None
    members: set[str] = set()
    for inc in compose.get("include", []):
        if inc.get("filter"):
            return None
        sub: set[str] | None = None
        for ref in inc.get("valueSet", []):
            nested = valuesets.get(ref.split("|")[0])
            got = _expand(nested, codesystems, valuesets) if nested else None
            if got is None:
                return None
            sub = got if sub is None else sub & got
        system = inc.get("system")
        if system is None:
            members |= sub or set()
            continue
        if inc.get("concept"):
            codes = {f"{system}|{c['code']}" for c in inc["concept"]}
        else:
            cs = codesystems.get(system)
            if cs is None or cs.get("content") != "complete":
                return None
            codes = {f"{system}|{code}" for code in _all_codes(cs.get("concept", []))}
        members |= codes if sub is None else codes & sub
    return members


def _all_codes(concepts: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in concepts:
        out.append(c["code"])
        out.extend(_all_codes(c.get("concept", [])))
    return out


def compile_validation(package_dir: Path) -> dict[str, Any]:
    sds = [
        sd
        for sd in _resources(package_dir, "StructureDefinition")
        if sd.get("kind") != "logical" and sd.get("snapshot")
    ]
    structures = {sd["url"]: _strip_sd(sd) for sd in sds}
    constraints: dict[str, list[list[str]]] = {}
    required: set[str] = set()
    for sd in sds:
        for element in sd["snapshot"]["element"]:
            binding = element.get("binding") or {}
            if binding.get("strength") == "required" and binding.get("valueSet"):
                required.add(binding["valueSet"].split("|")[0])
            if sd.get("derivation") == "constraint":
                continue
            for c in element.get("constraint", []):
                if c.get("key") in NATIVE or not c.get("expression"):
                    continue
                if c.get("source", sd["url"]) != sd["url"]:
                    continue  # inherited (e.g. dom-* on every resource): listed once at its source
                item = [c["key"], c["severity"], c["expression"], c.get("human", "")]
                constraints.setdefault(element["path"], []).append(item)
    codesystems = {cs["url"]: cs for cs in _resources(package_dir, "CodeSystem")}
    valuesets = {vs["url"]: vs for vs in _resources(package_dir, "ValueSet")}
    expansions = {}
    for url in sorted(required):
        vs = valuesets.get(url)
        members = _expand(vs, codesystems, valuesets) if vs else None
        if members:
            expansions[url] = sorted(members)
    return {
        "fhirVersion": "4.0.1",
        "structures": structures,
        "constraints": constraints,
        "valuesets": expansions,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    document = compile_validation(args.package_dir or fetch_package())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    with gzip.GzipFile(args.out, "wb", compresslevel=9, mtime=0) as fh:
        fh.write(raw)
    print(
        f"{len(document['structures'])} structures, {len(document['constraints'])} constrained "
        f"paths, {len(document['valuesets'])} expanded value sets -> {args.out.name} "
        f"({args.out.stat().st_size // 1024} KiB)"
    )


if __name__ == "__main__":
    main()
