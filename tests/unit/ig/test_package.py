"""`jiayi ig build`: the FHIR NPM package lists every resource of profiles/ and terminology/, its
indexes are consistent, and the HTML summary has a page per resource with working relative links
(issue 4 "Publishing"; https://confluence.hl7.org/display/FHIR/NPM+Package+Specification)."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fhir_server.cli import app as main_app
from fhir_server.conformance.ig import load_ig_resources
from fhir_server.ig.cli import BuildResult, build_ig
from fhir_server.ig.html import page_name
from fhir_server.ig.package import collect_resources

META = {"package.json", ".index.json"}


def _is_resource(name: str) -> bool:
    return name.rsplit("/", 1)[-1] not in META


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_ig(tmp_path_factory.mktemp("ig"))


@pytest.fixture(scope="module")
def members(built: BuildResult) -> dict[str, bytes]:
    with tarfile.open(built.tgz) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_manifest(members: dict[str, bytes]) -> None:
    manifest = json.loads(members["package/package.json"])
    assert manifest["name"] == "jiayi.health.fhir"
    assert manifest["fhirVersions"] == ["4.0.1"]
    assert manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}
    assert manifest["canonical"] == "https://jiayi.health/fhir"
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])


def test_every_resource_is_in_the_package(members: dict[str, bytes]) -> None:
    packaged = {
        (r["resourceType"], r["id"], r.get("url"))
        for name, body in members.items()
        if _is_resource(name)
        for r in [json.loads(body)]
    }
    expected = {(i.resource_type, i.id, i.resource.get("url")) for i in collect_resources()}
    assert packaged == expected
    # Everything the server seeds is published (the seeder may leave the examples out).
    assert {(r["resourceType"], r["id"], r.get("url")) for r in load_ig_resources()} <= packaged
    kinds = {t for t, _, _ in packaged}
    assert {
        "StructureDefinition",
        "CodeSystem",
        "ValueSet",
        "SearchParameter",
        "PlanDefinition",
    } <= kinds
    assert ("OperationDefinition" in kinds) == any(
        r["resourceType"] == "OperationDefinition" for r in load_ig_resources()
    )


@pytest.mark.parametrize("folder", ["package", "package/example"])
def test_index_is_consistent(members: dict[str, bytes], folder: str) -> None:
    index = json.loads(members[f"{folder}/.index.json"])
    assert index["index-version"] == 1
    listed = {e["filename"] for e in index["files"]}
    present = {
        n.rsplit("/", 1)[1] for n in members if n.rsplit("/", 1)[0] == folder and _is_resource(n)
    }
    assert listed == present
    for entry in index["files"]:
        resource = json.loads(members[f"{folder}/{entry['filename']}"])
        assert entry["resourceType"] == resource["resourceType"]
        assert entry["id"] == resource["id"]
        assert entry.get("url") == resource.get("url")


def test_examples_go_to_the_example_folder(members: dict[str, bytes]) -> None:
    examples = [n for n in members if n.startswith("package/example/") and _is_resource(n)]
    assert examples
    assert "package/example/Patient-example-chen-guoqiang.json" in members
    assert not any(n.startswith("package/Patient-") for n in members)


def test_a_page_per_resource(built: BuildResult) -> None:
    site = built.site
    assert (site / "index.html").is_file()
    assert (site / "style.css").is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    for item in collect_resources():
        assert (site / page_name(item)).is_file(), item.source
        assert f'href="{page_name(item)}"' in index
    profile = (site / "StructureDefinition-jiayi-contract.html").read_text(encoding="utf-8")
    assert "jy-contract-term" in profile and "签约服务周期为1至3年" in profile
    assert 'href="StructureDefinition-contract-care-team.html"' in profile


def test_links_resolve(built: BuildResult) -> None:
    site = built.site
    pages = list(site.glob("*.html"))
    assert len(pages) == built.pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r'href="([^"#]*)"', text):
            assert not target.startswith(("http:", "https:", "//")), (page.name, target)
            assert (site / target).is_file(), (page.name, target)


def test_cli(tmp_path: Path) -> None:
    """`jiayi ig build` through the main command (the `ig` group is mounted in fhir_server/cli.py)."""
    result = CliRunner().invoke(main_app, ["ig", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    tgz = tmp_path / "jiayi.health.fhir-0.1.0.tgz"
    assert tgz.is_file()
    assert (tmp_path / "site" / "index.html").is_file()
    with tarfile.open(tgz) as tar:
        assert "package/package.json" in tar.getnames()
    assert "resources" in result.output
    help_text = CliRunner().invoke(main_app, ["--help"]).output
    assert "ig" in help_text.split()
    assert CliRunner().invoke(main_app, ["ig", "--help"]).exit_code == 0
