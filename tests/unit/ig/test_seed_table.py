"""docs/SEED-CONCEPTS.md is the current rendering of terminology/seed-concepts.json (issue 4: every
concept of both seeds has a home in the guide, readable as seed clause → profile/extension/code)."""

from __future__ import annotations

from fhir_server.conformance.ig import load_ig_data
from fhir_server.ig.seed_table import DOC, current, render, short


def test_the_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == current()


def test_every_concept_is_a_row() -> None:
    checklist = load_ig_data("terminology", "seed-concepts.json")
    text = render(checklist)
    for concept in [*checklist["concepts"], *checklist["not_modelled"]]:
        assert concept["concept"].replace("|", "\\|") in text


def test_short_names() -> None:
    base = "https://jiayi.health/fhir/"
    assert (
        short(base + "CodeSystem/publicity-day|chongyang") == "`CodeSystem/publicity-day#chongyang`"
    )
    assert (
        short(base + "StructureDefinition/jiayi-location") == "`StructureDefinition/jiayi-location`"
    )
    assert short("http://loinc.org|LA28865-6") == "`http://loinc.org#LA28865-6`"
