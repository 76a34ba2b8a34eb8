"""The official FHIR R4 (4.0.1) package `hl7.fhir.r4.examples` for tests.

Spec: http://hl7.org/fhir/R4/downloads.html (the examples and definitions as an npm package).
The package is fetched once with `npm pack` into `<repo>/.cache/r4/` (git-ignored; `.ci/run` fetches
it before the tests); a test that needs it is skipped with a one-line reason when npm is unavailable
or the fetch fails — except in CI mode (`JIAYI_REQUIRE_PG=1`), where it fails: the proof that every
official example round-trips must not vanish silently.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any, NoReturn

import orjson
import pytest

PACKAGE = "hl7.fhir.r4.examples@4.0.1"
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "r4"

# Core definition resources: the package's own conformance content, not examples (unless their id
# says they are one).
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

# Official examples that really break the base R4 rules (file name → why); a conformant server refuses
# them with 422.
KNOWN_INVALID_EXAMPLES = {
    "Questionnaire-qs1.json": "32 nested items lack the mandatory linkId (Questionnaire.item.linkId 1..1)",
}
# Official examples that break an R4 invariant (beyond the base-structure ones above).
INVALID_BY_INVARIANT = {
    "Bundle-dataelements.json": "bdl-7: entries share a fullUrl without differing meta.versionId "
    "(e.g. de-Quantity.value three times) in a collection Bundle",
}
#: Everything the server's full validation refuses on write.
REFUSED_EXAMPLES = {**KNOWN_INVALID_EXAMPLES, **INVALID_BY_INVARIANT}


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("JIAYI_REQUIRE_PG") == "1":
        pytest.fail(f"JIAYI_REQUIRE_PG=1 (CI) but {reason}")
    pytest.skip(reason)


@functools.lru_cache(maxsize=1)
def r4_package_dir() -> Path:
    """The unpacked package directory, fetched with `npm pack` on first use."""
    package_dir = CACHE / "package"
    if (package_dir / "package.json").is_file():
        return package_dir
    npm = shutil.which("npm")
    if npm is None:
        _unavailable(f"npm is not installed: cannot fetch {PACKAGE}")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [npm, "pack", PACKAGE, "--silent"],
            cwd=CACHE,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        _unavailable(f"cannot fetch {PACKAGE} with npm: {type(exc).__name__}")
    tarball = CACHE / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(CACHE, filter="data")
    tarball.unlink()
    return package_dir


def is_example(resource: dict[str, Any]) -> bool:
    """Whether a package resource is an example rather than a core definition."""
    return resource.get("resourceType") not in DEFINITIONAL or "example" in resource.get("id", "")


@functools.lru_cache(maxsize=1)
def _examples() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(r4_package_dir().glob("*.json")):
        if path.name == "package.json":
            continue
        resource = orjson.loads(path.read_bytes())
        if isinstance(resource, dict) and "resourceType" in resource and is_example(resource):
            found.append((path.name, resource))
    return tuple(found)


def official_examples() -> list[tuple[str, dict[str, Any]]]:
    """(file name, resource) of every official example resource in the package."""
    return list(_examples())
