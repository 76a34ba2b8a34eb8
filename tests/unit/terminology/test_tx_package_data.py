"""The terminology the server holds without a database: the guide's `terminology/` and the R4 base
CodeSystems/ValueSets compiled by `scripts/build_r4_terminology.py`
(http://hl7.org/fhir/R4/terminologies-systems.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_server.conformance.ig import ig_dir, load_ig_resources
from fhir_server.terminology import TerminologyService, package_source
from fhir_server.terminology.sources import load_r4_terminology
from tests.support.r4_package import r4_package_dir

GUIDE = [r for r in load_ig_resources() if r["resourceType"] in ("CodeSystem", "ValueSet")]
GUIDE_VS = sorted(r["url"] for r in GUIDE if r["resourceType"] == "ValueSet")


def _count(concepts: list[dict[str, Any]]) -> int:
    return sum(1 + _count(c.get("concept", [])) for c in concepts)


@pytest.mark.parametrize("url", GUIDE_VS)
def test_every_guide_value_set_expands(url: str) -> None:
    tx = TerminologyService(package_source())
    expansion = tx.expand(url)
    assert expansion.total > 0 and len(expansion.entries) == expansion.total
    assert all(e.display for e in expansion.entries)


def test_all_codes_value_sets_hold_every_code() -> None:
    tx = TerminologyService(package_source())
    for cs in (r for r in GUIDE if r["resourceType"] == "CodeSystem" and "valueSet" in r):
        assert tx.expand(cs["valueSet"]).total == _count(cs["concept"]), cs["id"]


@pytest.mark.parametrize(
    ("url", "codes"),
    [
        (
            "http://hl7.org/fhir/ValueSet/administrative-gender",
            ["male", "female", "other", "unknown"],
        ),
        (
            "http://hl7.org/fhir/ValueSet/observation-status",
            [
                "registered",
                "preliminary",
                "final",
                "amended",
                "corrected",
                "cancelled",
                "entered-in-error",
                "unknown",
            ],
        ),
    ],
)
def test_r4_base_value_sets(url: str, codes: list[str]) -> None:
    assert [e.code for e in TerminologyService(package_source()).expand(url).entries] == codes


def test_every_compiled_r4_value_set_expands() -> None:
    tx = TerminologyService(package_source())
    value_sets = [r for r in load_r4_terminology() if r["resourceType"] == "ValueSet"]
    assert len(value_sets) > 1000
    for vs in value_sets:
        tx.entries(vs["url"])


def test_compiled_code_systems_match_the_official_package() -> None:
    package = r4_package_dir()
    compiled = {r["url"]: r for r in load_r4_terminology() if r["resourceType"] == "CodeSystem"}
    for name in ("CodeSystem-administrative-gender.json", "CodeSystem-v3-MaritalStatus.json"):
        official = json.loads((package / name).read_text(encoding="utf-8"))
        ours = compiled[official["url"]]
        assert _count(ours["concept"]) == _count(official["concept"])
    assert len(compiled) > 1000


def test_guide_concept_maps_are_listed_in_the_readme() -> None:
    readme = (ig_dir("terminology") / "README.md").read_text(encoding="utf-8")
    for path in sorted(ig_dir("terminology").glob("ConceptMap-*.json")):
        assert f"`{path.name}`" in readme
