"""No committed JSON of the guide carries an unresolved FSH alias (issue 4, gap 1).

A quoted alias in FSH (`system = "$ric"`) is a string literal, not the alias: SUSHI then writes the
text `$ric` where `urn:oid:2.16.156.10011.1.3` was meant, and profiles fix a system no instance uses.
Strings beginning with `$` are legitimate only as FHIRPath environment variables (`$this`, `$index`,
`$total`) in FHIRPath-valued elements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
ROOTS = ("profiles", "terminology")
FHIRPATH_KEYS = frozenset({"path", "expression", "condition"})
FHIRPATH_VARIABLE = re.compile(r"^\$(this|index|total)\b")


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


def _files() -> list[Path]:
    return sorted(p for root in ROOTS for p in (REPO / root).rglob("*.json"))


def dollar_strings(resource: Any) -> list[tuple[str, str]]:
    """(key, value) of every string starting with `$` that is not a FHIRPath variable in place."""
    return [
        (key, value)
        for key, value in _strings(resource)
        if value.startswith("$") and not (key in FHIRPATH_KEYS and FHIRPATH_VARIABLE.match(value))
    ]


def test_the_check_finds_a_quoted_alias() -> None:
    bad = {"element": [{"path": "$this"}, {"fixedUri": "$ric"}, {"expression": "$cert"}]}
    assert dollar_strings(bad) == [("fixedUri", "$ric"), ("expression", "$cert")]


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_unresolved_alias(path: Path) -> None:
    assert dollar_strings(json.loads(path.read_text(encoding="utf-8"))) == []


def test_identifier_slices_fix_the_interface_systems() -> None:
    """The resident and practitioner profiles fix the systems INTERFACE.md names."""
    sds = REPO / "profiles" / "structuredefinitions"
    fixed = {
        e["id"]: e["fixedUri"]
        for name in ("jiayi-patient", "jiayi-related-person", "jiayi-practitioner")
        for e in json.loads((sds / f"StructureDefinition-{name}.json").read_text("utf-8"))[
            "differential"
        ]["element"]
        if "fixedUri" in e
    }
    assert fixed["Patient.identifier:residentId.system"] == "urn:oid:2.16.156.10011.1.3"
    assert fixed["Patient.identifier:residentIdHl7China.system"] == (
        "urn:oid:2.16.840.1.113883.2.23.1.19.1"
    )
    assert fixed["Patient.identifier:healthRecordNumber.system"] == "urn:oid:2.16.156.10011.1.2"
    assert fixed["Practitioner.qualification:practiceCertificate.identifier.system"] == (
        "https://jiayi.health/fhir/sid/practice-certificate"
    )
    assert "urn:oid:2.16.156.10011.1.3" in {
        v for k, v in fixed.items() if k.startswith("RelatedPerson.")
    }
