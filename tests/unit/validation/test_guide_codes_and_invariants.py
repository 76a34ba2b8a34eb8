"""The guide's own codes and invariants (issue 4, "Validation"; gap 7 of the audit).

* A code of one of the guide's CodeSystems that the CodeSystem does not define is an error wherever it
  occurs: in an element with no binding (`Flag.code`), under an extensible binding
  (`CarePlan.activity.detail.code`), in a nested Coding; an unknown guide CodeSystem is a warning.
* Every invariant the guide declares compiles with the FHIRPath engine and is declared on the element
  it constrains (the issue's expression points there, not at the resource root).
* An invariant that does not compile, raises, or yields no boolean is reported, never passed.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_resources
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.validation.invariants import Invariants
from fhir_server.validation.library import DefinitionLibrary, load_r4_validation
from fhir_server.validation.pipeline import Validator, build_validator

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
from build_snapshots import sd_files  # noqa: E402

CS = "https://jiayi.health/fhir/CodeSystem/"
SD = "https://jiayi.health/fhir/StructureDefinition/"
EXAMPLES = REPO / "profiles" / "examples"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def validator() -> Validator:
    return build_validator(R4Definitions.load())


def _flag(system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }


def _careplan_code(code: str) -> dict[str, Any]:
    plan = copy.deepcopy(_example("CarePlan-example-careplan-chen.json"))
    plan["activity"][0]["detail"]["code"] = {
        "coding": [{"system": CS + "service-item", "code": code}]
    }
    return plan


CODE_CASES = [
    # (label, resource, expected (severity, message id, expression) of guide-code findings)
    (
        "unbound Flag.code, unknown key population",
        _flag(CS + "key-population", "bogus"),
        [("error", "JY-CODE-UNKNOWN", "Flag.code.coding[0].code")],
    ),
    ("unbound Flag.code, known key population", _flag(CS + "key-population", "disabled"), []),
    (
        "a system under the guide's base the guide does not define",
        _flag(CS + "no-such-system", "x"),
        [("warning", "JY-CODE-SYSTEM-UNKNOWN", "Flag.code.coding[0].system")],
    ),
    ("another organisation's system is not ours to check", _flag("http://x.org/cs", "bogus"), []),
    (
        "extensible binding, unknown service item",
        _careplan_code("no-such-item"),
        [("error", "JY-CODE-UNKNOWN", "CarePlan.activity[0].detail.code.coding[0].code")],
    ),
]


@pytest.mark.parametrize(
    ("label", "resource", "expected"), CODE_CASES, ids=[c[0] for c in CODE_CASES]
)
def test_codes_of_the_guide_code_systems(
    validator: Validator, label: str, resource: dict[str, Any], expected: list[Any]
) -> None:
    found = [
        (i.severity, i.message_id, i.expression[0])
        for i in validator.validate(resource)
        if i.message_id in ("JY-CODE-UNKNOWN", "JY-CODE-SYSTEM-UNKNOWN")
    ]
    assert found == expected
    assert any(i.is_error for i in validator.validate(resource)) == any(
        e[0] == "error" for e in expected
    )


def test_known_service_item_on_a_care_plan_is_valid(validator: Validator) -> None:
    plan = _careplan_code("basic-public-health.health-record")
    assert [i for i in validator.validate(plan) if i.is_error] == []


# --- invariants --------------------------------------------------------------------------------


def _guide_constraints() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sd_files(REPO / "profiles"):
        sd = json.loads(path.read_text(encoding="utf-8"))
        for element in sd["differential"]["element"]:
            for c in element.get("constraint", []):
                found.append((sd["id"], element["id"], c))
    return found


GUIDE_CONSTRAINTS = _guide_constraints()


def test_the_guide_declares_invariants() -> None:
    keys = {c["key"] for _, _, c in GUIDE_CONSTRAINTS}
    assert {"jy-gb11643", "jy-contract-term", "jy-long-term-supply"} <= keys


@pytest.mark.parametrize(
    ("sd_id", "element", "constraint"),
    GUIDE_CONSTRAINTS,
    ids=[f"{s}:{c['key']}" for s, _, c in GUIDE_CONSTRAINTS],
)
def test_every_guide_invariant_compiles(
    sd_id: str, element: str, constraint: dict[str, Any]
) -> None:
    invariants = Invariants(DefinitionLibrary(load_r4_validation()))
    assert invariants.compiled(constraint["expression"]) is not None, invariants.compile_errors


@pytest.mark.parametrize(
    ("key", "element"),
    [
        ("jy-long-term-supply", "MedicationRequest.dispenseRequest.expectedSupplyDuration"),
        ("jy-contract-term", "Contract.applies"),
    ],
)
def test_invariants_sit_on_the_element_they_constrain(key: str, element: str) -> None:
    assert (element, key) in {(e, c["key"]) for _, e, c in GUIDE_CONSTRAINTS}


def test_failing_invariants_point_at_their_element(validator: Validator) -> None:
    rx = copy.deepcopy(_example("MedicationRequest-example-long-term-rx.json"))
    rx["dispenseRequest"]["expectedSupplyDuration"]["value"] = 20
    rx["dispenseRequest"]["expectedSupplyDuration"]["code"] = "wk"
    found = {(i.message_id, i.expression[0]) for i in validator.validate(rx) if i.is_error}
    assert found == {
        ("JY-INV-jy-long-term-supply", "MedicationRequest.dispenseRequest.expectedSupplyDuration")
    }
    contract = copy.deepcopy(_example("Contract-example-family-contract.json"))
    contract["applies"]["end"] = contract["applies"]["start"]
    found = {(i.message_id, i.expression[0]) for i in validator.validate(contract) if i.is_error}
    assert found == {("JY-INV-jy-contract-term", "Contract.applies")}


def _with_invariant(expression: str) -> tuple[Validator, dict[str, Any]]:
    profile = {
        "resourceType": "StructureDefinition",
        "id": "test-invariant",
        "url": SD + "test-invariant",
        "name": "TestInvariant",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "differential": {
            "element": [
                {
                    "id": "Patient.name",
                    "path": "Patient.name",
                    "constraint": [
                        {
                            "key": "test-1",
                            "severity": "error",
                            "human": "a test invariant",
                            "expression": expression,
                        }
                    ],
                }
            ]
        },
    }
    validator = build_validator(R4Definitions.load(), [*load_ig_resources(), profile])
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": [profile["url"]]},
        "name": [{"given": ["a", "b"]}],
    }
    return validator, patient


@pytest.mark.parametrize(
    ("label", "expression", "reported"),
    [
        ("holds", "given.exists()", None),
        ("fails", "family.exists()", "JY-INV-test-1"),
        ("does not compile", "given.exists() and", "JY-INV-EVAL"),
        ("unknown function", "given.nosuchfunction()", "JY-INV-EVAL"),
        ("raises at run time", "given.substring(0, 1) = 'a'", "JY-INV-EVAL"),
        ("yields no boolean", "given", "JY-INV-EVAL"),
    ],
)
def test_an_invariant_that_cannot_be_evaluated_is_reported(
    label: str, expression: str, reported: str | None
) -> None:
    validator, patient = _with_invariant(expression)
    found = [(i.message_id, i.expression[0]) for i in validator.validate(patient) if i.is_error]
    assert found == ([] if reported is None else [(reported, "Patient.name[0]")])


def _task(system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }


@pytest.mark.parametrize(
    ("cs_id", "known"),
    [
        ("primary-care-service", "shortage-drug-registration"),
        ("primary-care-service", "five-ones.weight-waist"),
        ("publicity-day", "chongyang"),
        ("community-setting", "school"),
        ("contract-audit", "no-contact"),
    ],
)
def test_seed_concept_codes_are_checked(validator: Validator, cs_id: str, known: str) -> None:
    """The code systems that give the homeless seed concepts a home are enforced like the others:
    their codes pass on an unbound element, an invented one is an error at the coding."""
    assert [i for i in validator.validate(_task(CS + cs_id, known)) if i.is_error] == []
    errors = [i for i in validator.validate(_task(CS + cs_id, "no-such-code")) if i.is_error]
    assert len(errors) == 1 and errors[0].expression[0].startswith("Task.code.coding[0]"), errors
