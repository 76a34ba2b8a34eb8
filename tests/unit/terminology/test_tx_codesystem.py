"""Compiled CodeSystems: hierarchy (nesting and properties), filters, subsumption, ICD-10 category
prefixes (http://hl7.org/fhir/R4/codesystem.html, valueset.html#filters, INTERFACE.md)."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.terminology import ICD10, CodeSystemIndex, ConceptFilter, SubsumesOutcome
from fhir_server.terminology.codesystem import icd10_category, icd10_nests

TREE = CodeSystemIndex(
    {
        "resourceType": "CodeSystem",
        "url": "urn:test:tree",
        "content": "complete",
        "caseSensitive": False,
        "property": [{"code": "level", "type": "code"}],
        "concept": [
            {
                "code": "A",
                "display": "甲",
                "property": [{"code": "notSelectable", "valueBoolean": True}],
                "concept": [
                    {
                        "code": "A1",
                        "display": "甲一",
                        "property": [{"code": "level", "valueCode": "2"}],
                    },
                    {
                        "code": "A2",
                        "display": "甲二",
                        "property": [{"code": "status", "valueCode": "retired"}],
                        "concept": [{"code": "A2x", "display": "甲二x"}],
                    },
                ],
            },
            {"code": "B", "display": "乙"},
            {"code": "C", "display": "丙", "property": [{"code": "parent", "valueCode": "B"}]},
        ],
    }
)
ICD = CodeSystemIndex(
    {
        "resourceType": "CodeSystem",
        "url": ICD10,
        "content": "fragment",
        "concept": [{"code": "I10", "display": "特发性（原发性）高血压"}, {"code": "E11"}],
    }
)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("I10", "I10"),
        ("I10.x00", "I10"),
        ("e11.900", "E11"),
        ("J44-1", "J44"),
        ("10", None),
        ("I1", None),
    ],
)
def test_icd10_category(code: str, category: str | None) -> None:
    assert icd10_category(code) == category


@pytest.mark.parametrize(
    ("general", "specific", "nests"),
    [
        ("I10", "I10.x00", True),
        ("E11.9", "E11.900", True),
        ("I10", "I10", False),
        ("I10", "I11.0", False),
    ],
)
def test_icd10_nests(general: str, specific: str, nests: bool) -> None:
    assert icd10_nests(general, specific) is nests


def test_hierarchy_from_nesting_and_parent_property() -> None:
    assert TREE.descendants("A") == ["A1", "A2", "A2x"]
    assert TREE.ancestors("A2x") == {"A2", "A"}
    assert TREE.parents["C"] == ["B"] and TREE.children["B"] == ["C"]
    assert TREE.get("a1") is not None  # caseSensitive false
    assert TREE.concepts["A"].abstract and TREE.concepts["A2"].inactive


@pytest.mark.parametrize(
    ("prop", "op", "value", "codes"),
    [
        ("concept", "is-a", "A", ["A", "A1", "A2", "A2x"]),
        ("concept", "descendent-of", "A", ["A1", "A2", "A2x"]),
        ("concept", "is-not-a", "A", ["B", "C"]),
        ("concept", "generalizes", "A2x", ["A", "A2", "A2x"]),
        ("concept", "in", "B,C", ["B", "C"]),
        ("concept", "not-in", "A,A1,A2,A2x", ["B", "C"]),
        ("code", "=", "B", ["B"]),
        ("code", "regex", "A[0-9]", ["A1", "A2"]),
        ("level", "=", "2", ["A1"]),
        ("level", "exists", "true", ["A1"]),
        ("parent", "=", "B", ["C"]),
        ("display", "regex", "甲二.*", ["A2", "A2x"]),
    ],
)
def test_filters(prop: str, op: str, value: str, codes: list[str]) -> None:
    found = TREE.filtered([ConceptFilter(prop, op, value)])
    assert sorted(c.code for c in found) == codes


def test_unknown_filter_operator_is_a_bad_request() -> None:
    with pytest.raises(FhirError) as exc:
        TREE.filtered([ConceptFilter("level", "near", "2")])
    assert exc.value.status == 400


@pytest.mark.parametrize(
    ("cs", "a", "b", "outcome"),
    [
        (TREE, "A", "A2x", SubsumesOutcome.SUBSUMES),
        (TREE, "A2x", "A", SubsumesOutcome.SUBSUMED_BY),
        (TREE, "A1", "a1", SubsumesOutcome.EQUIVALENT),
        (TREE, "A1", "B", SubsumesOutcome.NOT_SUBSUMED),
        (TREE, "B", "C", SubsumesOutcome.SUBSUMES),
        (ICD, "I10", "I10.x00", SubsumesOutcome.SUBSUMES),
        (ICD, "I10.x00", "I10", SubsumesOutcome.SUBSUMED_BY),
        (ICD, "I10.x00", "I10.x01", SubsumesOutcome.NOT_SUBSUMED),
        (ICD, "I10.x00", "E11", SubsumesOutcome.NOT_SUBSUMED),
    ],
)
def test_subsumes(cs: CodeSystemIndex, a: str, b: str, outcome: SubsumesOutcome) -> None:
    assert cs.subsumes(a, b) is outcome


def test_subsumes_unknown_code_is_400() -> None:
    with pytest.raises(FhirError) as exc:
        ICD.subsumes("I10", "X99")
    assert exc.value.status == 400


def test_icd10_resolve_by_category() -> None:
    concept, refined = ICD.resolve("I10.x00") or (None, None)
    assert concept is not None and concept.code == "I10" and refined is True
    assert ICD.resolve("I99.x00") is None
    assert ICD.matches("I10.x00", [ConceptFilter("concept", "is-a", "I10")])
    assert ICD.matches("I10.x00", [ConceptFilter("concept", "descendent-of", "I10")])
    assert not ICD.matches("I10", [ConceptFilter("concept", "descendent-of", "I10")])
