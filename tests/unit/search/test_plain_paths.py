"""The plain-path fast path (`search.plain_paths`) gives exactly the FHIRPath engine's index rows on
every official R4 example (all 145 resource types, every standard SearchParameter), not just on the
generator's resources (tests/generator/test_copy_load.py)."""

from __future__ import annotations

from fhir_server.search.extract import Extractor
from fhir_server.search.plain_paths import Undecided, plain_path, run_plain
from fhir_server.search.registry import server_registry
from tests.support.r4_package import official_examples


def test_rows_equal_the_engines_on_every_official_example() -> None:
    registry = server_registry()
    engine, fast = Extractor(registry, plain=False), Extractor(registry)
    examples = official_examples()
    assert len(examples) >= 729
    for name, resource in examples:
        assert fast.extract(resource) == engine.extract(resource), name


def test_plain_reading_hands_undecidable_data_to_the_engine() -> None:
    paths = plain_path("Patient.birthDate", "Patient")
    assert paths is not None
    with_extension = {"resourceType": "Patient", "_birthDate": {"extension": []}}
    try:
        run_plain(paths, with_extension, "Patient")
    except Undecided:
        pass
    else:  # a primitive with an underscore twin is the engine's to read
        raise AssertionError("expected Undecided")
    assert run_plain(paths, {"resourceType": "Patient", "birthDate": "1961-01-05"}, "Patient") == [
        ("date", "1961-01-05")
    ]
