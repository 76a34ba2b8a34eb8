"""Every official R4 example passes the full validation pipeline: the validator refuses nothing right.

Spec: http://hl7.org/fhir/R4/downloads.html (the examples of the `hl7.fhir.r4.examples` package),
validated as http://hl7.org/fhir/R4/validation.html describes (structure, cardinality, values, base
invariants and bindings, the core profiles an example claims, the guide's code and identifier checks)
by `validation.pipeline.build_validator`, the pipeline the server runs on every write.  The examples
that really break R4 rules yield exactly the issues listed here and nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.validation.pipeline import Validator, build_validator
from tests.support.r4_package import REFUSED_EXAMPLES, official_examples

# The exact issues the invalid official examples must yield (see tests/support/r4_package.py):
# (issue code, last step of the expression) → count.
KNOWN_DEFECTS: dict[str, Counter[tuple[str, str]]] = {
    "Questionnaire-qs1.json": Counter({("required", "linkId"): 32}),
    "Bundle-dataelements.json": Counter({("invariant", "Bundle"): 1}),
}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return build_validator(R4Definitions.load())


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, dict[str, Any]]]:
    return official_examples()


def test_the_package_holds_the_official_examples(
    examples: list[tuple[str, dict[str, Any]]],
) -> None:
    assert len(examples) == 749
    assert set(KNOWN_DEFECTS) <= {name for name, _resource in examples}
    # 140 of the 146 types have a top-level example (Parameters only appears nested; the five
    # Substance* definition types of the "trial use" substance module have none in R4).
    assert len({e[1]["resourceType"] for e in examples}) == 140


def test_known_defects_are_the_known_invalid_examples() -> None:
    assert set(KNOWN_DEFECTS) == set(REFUSED_EXAMPLES)


#: The walk is split so that no single test runs for minutes and pytest-xdist spreads the shards.
SHARDS = 8


@pytest.fixture(scope="module")
def shards(examples: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """Examples dealt largest first to the lightest shard (the big definition Bundles dominate)."""
    sized = sorted(examples, key=lambda e: len(json.dumps(e[1])), reverse=True)
    out: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(SHARDS)]
    load = [0] * SHARDS
    for example in sized:
        i = load.index(min(load))
        out[i].append(example)
        load[i] += len(json.dumps(example[1]))
    assert sum(len(s) for s in out) == len(examples)
    return out


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_official_example_validates(
    validator: Validator, shards: list[list[tuple[str, dict[str, Any]]]], shard: int
) -> None:
    failures: dict[str, list[str]] = {}
    for name, resource in shards[shard]:
        issues = [i for i in validator.validate(resource) if i.is_error]
        if name in KNOWN_DEFECTS:
            found = Counter((i.code, i.expression[0].rsplit(".", 1)[-1]) for i in issues)
            assert found == KNOWN_DEFECTS[name], name
            continue
        if issues:
            failures[name] = [f"{i.code} {i.expression}: {i.diagnostics}" for i in issues[:3]]
    assert not failures, failures


def test_an_unknown_element_is_found_in_every_example(
    validator: Validator, examples: list[tuple[str, dict[str, Any]]]
) -> None:
    for name, resource in examples:
        if resource["resourceType"] == "Bundle":
            continue  # the big bundles are walked by the test above; keep this one fast
        issues = validator.validate({**resource, "unknownElement": True})
        expression = (f"{resource['resourceType']}.unknownElement",)
        assert ("structure", expression) in [(i.code, i.expression) for i in issues], name
