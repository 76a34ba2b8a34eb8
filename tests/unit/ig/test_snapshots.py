"""Snapshots of the guide's StructureDefinitions (issue 4: "differential + snapshot").

The committed StructureDefinitions carry both; the snapshot is what `fhir_server.ig.snapshots`
generates from the differential over the official R4 definitions (so a stale snapshot fails here:
run `python scripts/build_snapshots.py`); the packaged ones (`jiayi ig build`) carry both; the
generator fixes the `url` of extensions as the HL7 snapshot generator does (R4 profiling.html
#slicing: extension slices are discriminated by `url`) and unfolds a constrained contentReference
into a backbone (eld-5).
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.ig.package import IgResource, collect_resources, with_snapshots
from fhir_server.ig.snapshots import SnapshotBuilder, load_base_definitions
from fhir_server.validation.library import load_r4_validation
from fhir_server.validation.pipeline import Validator, build_validator
from fhir_server.validation.snapshot import generate_snapshot
from tests.support.r4_package import r4_package_dir

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))

from build_snapshots import sd_files  # noqa: E402

SD_FILES = sd_files(REPO / "profiles")
SDS = [json.loads(p.read_text(encoding="utf-8")) for p in SD_FILES]
CORE = "http://hl7.org/fhir/StructureDefinition/"


@pytest.fixture(scope="module")
def builder() -> SnapshotBuilder:
    return SnapshotBuilder(load_base_definitions(r4_package_dir()), SDS)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return build_validator(R4Definitions.load())


@pytest.mark.parametrize("sd", SDS, ids=lambda sd: sd["id"])
def test_committed_definition_has_differential_and_current_snapshot(
    sd: dict[str, Any], builder: SnapshotBuilder
) -> None:
    assert sd["differential"]["element"], "no differential"
    assert sd.get("snapshot", {}).get("element"), "no snapshot: run scripts/build_snapshots.py"
    assert sd["snapshot"]["element"] == builder.snapshot(sd["url"]), (
        "stale snapshot: run scripts/build_snapshots.py"
    )


@pytest.mark.parametrize("sd", SDS, ids=lambda sd: sd["id"])
def test_snapshot_is_a_valid_structure_definition(sd: dict[str, Any], validator: Validator) -> None:
    assert [i for i in validator.validate(sd) if i.is_error] == []
    snapshot = sd["snapshot"]["element"]
    assert snapshot[0]["path"] == sd["type"]
    ids = [e["id"] for e in snapshot]
    assert len(ids) == len(set(ids))
    assert {e["id"] for e in sd["differential"]["element"]} <= set(ids)


@pytest.mark.parametrize("sd", SDS, ids=lambda sd: sd["id"])
def test_extension_urls_are_fixed(sd: dict[str, Any]) -> None:
    elements = {e["id"]: e for e in sd["snapshot"]["element"]}
    if sd["type"] == "Extension":
        assert elements["Extension.url"]["fixedUri"] == sd["url"]
    for eid, e in elements.items():
        types = e.get("type", [])
        last = eid.rsplit(".", 1)[-1]
        if ":" in last and last.split(":")[0] in ("extension", "modifierExtension"):
            profiles = [p for t in types for p in t.get("profile", [])]
            if len(profiles) == 1:
                assert elements[f"{eid}.url"]["fixedUri"] == profiles[0], eid
            else:  # a complex extension's own sub-extension: its url is its slice name
                assert elements[f"{eid}.url"]["fixedUri"] == last.split(":", 1)[1], eid


def test_packaged_definitions_have_both(tmp_path: Path) -> None:
    from fhir_server.ig.cli import build_ig

    result = build_ig(tmp_path)
    with tarfile.open(result.tgz) as tar:
        sds = [
            json.loads(tar.extractfile(m).read())  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name.startswith("package/StructureDefinition-")
        ]
    assert len(sds) == len(SDS)
    for sd in sds:
        assert sd["differential"]["element"] and sd["snapshot"]["element"], sd["id"]


def test_packaging_fills_a_missing_snapshot() -> None:
    item = next(i for i in collect_resources() if i.id == "division-code")
    bare = {k: v for k, v in item.resource.items() if k != "snapshot"}
    (filled,) = with_snapshots([IgResource(bare, item.source)])
    elements = {e["id"]: e for e in filled.resource["snapshot"]["element"]}
    assert elements["Extension.url"]["fixedUri"] == bare["url"]
    assert elements["Extension.value[x]"]["min"] == 1


# --- the generator, on small definitions -------------------------------------------------------

BASE = load_r4_validation()["structures"]


def _resolve(url: str) -> dict[str, Any] | None:
    return BASE.get(url)


def _profile(rtype: str, *diff: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": "https://example.org/StructureDefinition/p",
        "type": rtype,
        "baseDefinition": CORE + rtype,
        "derivation": "constraint",
        "differential": {"element": list(diff)},
    }


@pytest.mark.parametrize(
    ("profile_urls", "expanded"),
    [
        (["https://example.org/StructureDefinition/ext"], True),  # one profile: url fixed
        ([], False),  # no profile: nothing to fix, nothing expanded
    ],
)
def test_extension_slice_gets_its_url(profile_urls: list[str], expanded: bool) -> None:
    slice_type: dict[str, Any] = {"code": "Extension"}
    if profile_urls:
        slice_type["profile"] = profile_urls
    sd = _profile(
        "Patient",
        {
            "id": "Patient.extension",
            "path": "Patient.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        },
        {
            "id": "Patient.extension:ext",
            "path": "Patient.extension",
            "sliceName": "ext",
            "type": [slice_type],
        },
    )
    elements = {e["id"]: e for e in generate_snapshot(sd, _resolve)}
    assert ("Patient.extension:ext.url" in elements) is expanded
    if expanded:
        assert elements["Patient.extension:ext.url"]["fixedUri"] == profile_urls[0]
        assert "Patient.extension:ext.value[x]" in elements
        assert "Patient.extension.url" not in elements  # the unsliced element stays folded


def test_extension_definition_url_is_its_canonical() -> None:
    sd = _profile("Extension", {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1})
    elements = {e["id"]: e for e in generate_snapshot(sd, _resolve)}
    assert elements["Extension.url"]["fixedUri"] == sd["url"]


def test_constrained_content_reference_is_unfolded() -> None:
    sd = _profile(
        "Consent",
        {"id": "Consent.provision.provision.type", "path": "Consent.provision.provision.type"},
    )
    elements = {e["id"]: e for e in generate_snapshot(sd, _resolve)}
    nested = elements["Consent.provision.provision"]
    assert "contentReference" not in nested
    assert nested["type"] == [{"code": "BackboneElement"}]
    assert "Consent.provision.provision.actor.reference" in elements
