"""The engine as the search `ConceptResolver` and as validation's member sets
(http://hl7.org/fhir/R4/search.html#token, terminologies.html#strength)."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.values import ConceptValue
from fhir_server.terminology import (
    ICD10,
    ChainSource,
    FetchSource,
    StaticSource,
    TerminologyService,
    package_source,
)
from fhir_server.terminology.adapters import concept_resolver, members

GB = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"
SNOMED_VS = {
    "resourceType": "ValueSet",
    "url": "urn:test:snomed-all",
    "compose": {"include": [{"system": "http://snomed.info/sct"}]},
}


@pytest.fixture
def tx() -> TerminologyService:
    return TerminologyService(ChainSource(StaticSource([SNOMED_VS]), package_source()))


def test_in_marks_icd10_codes_as_prefixes(tx: TerminologyService) -> None:
    resolve = concept_resolver(tx)
    got = resolve(ConceptValue("in", valueset="https://jiayi.health/fhir/ValueSet/icd-10-t2dm"))
    assert got.codes == {(ICD10, "E11")} and got.prefixes == {(ICD10, "E11")}


def test_in_falls_back_to_whole_systems(tx: TerminologyService) -> None:
    got = concept_resolver(tx)(ConceptValue("in", valueset="urn:test:snomed-all"))
    assert got.systems == {"http://snomed.info/sct"}


def test_unknown_value_set_is_400(tx: TerminologyService) -> None:
    with pytest.raises(FhirError) as exc:
        concept_resolver(tx)(ConceptValue("in", valueset="urn:nope"))
    assert exc.value.status == 400


@pytest.mark.parametrize(
    ("op", "code", "present", "absent"),
    [
        ("below", "440100", {(GB, "440100"), (GB, "440106")}, {(GB, "440000")}),
        ("above", "440106", {(GB, "440106"), (GB, "440100"), (GB, "440000")}, {(GB, "440300")}),
    ],
)
def test_hierarchy(tx: TerminologyService, op: str, code: str, present: set, absent: set) -> None:
    got = concept_resolver(tx)(ConceptValue(op, system=GB, code=code))
    assert present <= got.codes and not (absent & got.codes)


def test_icd10_below_and_above(tx: TerminologyService) -> None:
    resolve = concept_resolver(tx)
    assert resolve(ConceptValue("below", system=ICD10, code="I10")).prefixes == {(ICD10, "I10")}
    assert resolve(ConceptValue("above", system=ICD10, code="I10.x00")).above == {
        (ICD10, "I10.x00")
    }


def test_members(tx: TerminologyService) -> None:
    got = members(tx, "http://hl7.org/fhir/ValueSet/administrative-gender")
    assert got is not None and "http://hl7.org/fhir/administrative-gender|male" in got
    assert members(tx, "urn:test:snomed-all") is None
    assert members(tx, "urn:nope") is None


def test_fetch_source_feeds_the_engine() -> None:
    calls: list[tuple[str, str]] = []

    def fetch(resource_type: str, canonical: str) -> dict | None:
        calls.append((resource_type, canonical))
        return SNOMED_VS if canonical == "urn:test:snomed-all|2" else None

    tx = TerminologyService(ChainSource(FetchSource(fetch), package_source()))
    assert tx.value_set("urn:test:snomed-all", "2") is SNOMED_VS
    assert tx.is_in(
        "http://hl7.org/fhir/ValueSet/administrative-gender",
        "http://hl7.org/fhir/administrative-gender",
        "male",
    )
    assert ("ValueSet", "http://hl7.org/fhir/ValueSet/administrative-gender") in calls
