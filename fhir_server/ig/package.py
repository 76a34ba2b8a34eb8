"""The guide as an NPM-style FHIR package (`jiayi.health.fhir`), per the FHIR NPM package specification.

Spec: https://confluence.hl7.org/display/FHIR/NPM+Package+Specification.  The tarball holds
`package/package.json`, `package/.index.json` and one `<Type>-<id>.json` per conformance resource;
example instances (`profiles/examples/`) go to `package/example/` with their own `.index.json`.
Every JSON resource under `profiles/` and `terminology/` is included; files that are not resources
(e.g. `terminology/key-population-rules.json`) are not.  Every StructureDefinition is packaged with
its differential and a snapshot: the committed one (`scripts/build_snapshots.py`), or, for one that
has none yet, a snapshot generated over the base definitions the validator holds.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_server.conformance.packages import ig_dir

PACKAGE_NAME = "jiayi.health.fhir"
PACKAGE_VERSION = "0.1.0"
CANONICAL = "https://jiayi.health/fhir"
FHIR_VERSION = "4.0.1"
EXAMPLE_FOLDER = "examples"
INDEX_FIELDS = ("id", "url", "version", "kind", "type", "supplements")


@dataclass(frozen=True)
class IgResource:
    """One resource of the guide and where it came from (`profiles/extensions/…`)."""

    resource: dict[str, Any]
    source: str

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def filename(self) -> str:
        return f"{self.resource_type}-{self.id}.json"

    @property
    def is_example(self) -> bool:
        return self.source.split("/")[:2] == ["profiles", EXAMPLE_FOLDER]


def collect_resources(roots: Iterable[str] = ("profiles", "terminology")) -> list[IgResource]:
    """Every FHIR resource of the guide, in a stable order (folder, then path)."""
    found: list[IgResource] = []
    for root in roots:
        base = ig_dir(root)
        for path in sorted(p for p in base.rglob("*.json") if p.is_file()):
            data = json.loads(path.read_text(encoding="utf-8"))
            if (
                isinstance(data, dict)
                and isinstance(data.get("resourceType"), str)
                and "id" in data
            ):
                source = f"{root}/{path.relative_to(base).as_posix()}"
                found.append(IgResource(data, source))
    return found


def with_snapshots(resources: list[IgResource]) -> list[IgResource]:
    """`resources` with a snapshot on every StructureDefinition that lacks one."""
    from fhir_server.validation.library import load_r4_validation

    from .snapshots import SnapshotBuilder

    sds = [r.resource for r in resources if r.resource_type == "StructureDefinition"]
    if all(sd.get("snapshot", {}).get("element") for sd in sds):
        return resources
    builder = SnapshotBuilder(load_r4_validation()["structures"], sds)
    out = []
    for item in resources:
        res = item.resource
        if item.resource_type == "StructureDefinition" and not res.get("snapshot", {}).get(
            "element"
        ):
            item = IgResource(builder.with_snapshot(res), item.source)
        out.append(item)
    return out


def package_manifest() -> dict[str, Any]:
    """`package/package.json`."""
    return {
        "name": PACKAGE_NAME,
        "version": PACKAGE_VERSION,
        "canonical": CANONICAL,
        "url": CANONICAL,
        "title": "家医 Jiayi: family-doctor contract services (Guangdong)",
        "description": "Profiles, extensions, terminology, service packages, operations, search "
        "parameters and examples for China's family-doctor contract services "
        "(国卫办基层发〔2025〕21号; 广东省家庭医生“签约有感”行动方案（2026—2027年）).",
        "fhirVersions": [FHIR_VERSION],
        "dependencies": {"hl7.fhir.r4.core": FHIR_VERSION},
        "type": "fhir.ig",
        "author": "Jiayi",
        "license": "Apache-2.0",
        "jurisdiction": "urn:iso:std:iso:3166#CN",
    }


def index_entry(item: IgResource) -> dict[str, Any]:
    entry: dict[str, Any] = {"filename": item.filename, "resourceType": item.resource_type}
    for field in INDEX_FIELDS:
        value = item.resource.get(field)
        if isinstance(value, str):
            entry[field] = value
    return entry


def package_files(resources: list[IgResource]) -> dict[str, bytes]:
    """Archive path → content of every file of the package."""
    files: dict[str, bytes] = {}
    indexes: dict[str, list[dict[str, Any]]] = {"package": [], "package/example": []}
    for item in resources:
        folder = "package/example" if item.is_example else "package"
        path = f"{folder}/{item.filename}"
        if path in files:
            raise ValueError(f"two resources would be written as {path} (second: {item.source})")
        files[path] = _dump(item.resource)
        indexes[folder].append(index_entry(item))
    files["package/package.json"] = _dump(package_manifest())
    for folder, entries in indexes.items():
        files[f"{folder}/.index.json"] = _dump({"index-version": 1, "files": entries})
    return files


def write_tgz(files: dict[str, bytes], target: Path) -> Path:
    """A gzipped tar with deterministic member order and metadata."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return target


def _dump(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
