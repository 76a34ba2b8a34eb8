"""The guide's profiles, extensions, search parameters and examples (issue 4 "Profiles and extensions").

Every example is valid against the full validation pipeline (`validation.pipeline.build_validator`:
structure, base invariants and bindings, the profiles it claims with their invariants, the guide's
extensions and codes, ID numbers) and claims a profile of the guide; every profile has an example (the
service-package profiles are instantiated by profiles/packages/); every FHIRPath invariant of the guide
holds on the examples and the validator reports it, at the element it is declared on, for what it is
written for (GB 11643 check digit, 1–3 year term, 4–12 week long-term prescription); the search
parameters extract the values their names promise.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate as _evaluate
from fhirpathpy.models import models
from stdnum.cn import ric

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.validation.pipeline import Validator, build_validator

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
BASE = "https://jiayi.health/fhir/StructureDefinition/"


def _load(folder: str) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((PROFILES / folder).glob("*.json"))
    ]


EXAMPLES = _load("examples")
DEFINITIONS = _load("questionnaires") + _load("measures") + _load("namingsystems")
SDS = {sd["url"]: sd for sd in _load("structuredefinitions") + _load("extensions")}
SEARCH = {sp["id"]: sp for sp in _load("searchparameters")}
BY_ID = {(r["resourceType"], r["id"]): r for r in EXAMPLES}


_VALIDATOR: list[Validator] = []


def full_validator() -> Validator:
    """The pipeline the server runs on every write, built once for this module."""
    if not _VALIDATOR:
        _VALIDATOR.append(build_validator(R4Definitions.load()))
    return _VALIDATOR[0]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return full_validator()


def evaluate(node: Any, expression: str) -> list[Any]:
    return list(_evaluate(node, expression, {}, models["r4"]))


def _claimed(resource: dict[str, Any]) -> list[str]:
    return list(resource.get("meta", {}).get("profile", []))


@pytest.mark.parametrize(
    "resource", EXAMPLES + DEFINITIONS, ids=lambda r: f"{r['resourceType']}/{r['id']}"
)
def test_example_is_valid_r4_and_claims_a_guide_profile(
    resource: dict[str, Any], validator: Validator
) -> None:
    assert [i for i in validator.validate(resource) if i.is_error] == []
    if resource["resourceType"] in {"NamingSystem"}:
        return
    claimed = _claimed(resource)
    if resource["id"] == "example-cardiology-clinic":
        return  # a hospital clinic, plain HealthcareService (the profile is for public notices)
    assert claimed and all(url in SDS for url in claimed)


def test_every_profile_has_an_example() -> None:
    claimed = {url for r in EXAMPLES + DEFINITIONS for url in _claimed(r)}
    profiles = {url for url, sd in SDS.items() if sd["type"] != "Extension"}
    # PlanDefinition/ActivityDefinition profiles: the 12 packages and 156 items of profiles/packages/.
    by_packages = {BASE + "jiayi-service-package", BASE + "jiayi-service-item"}
    assert profiles - claimed == by_packages


@pytest.mark.parametrize("sd", list(SDS.values()), ids=lambda sd: sd["id"])
def test_definitions_have_rationale(sd: dict[str, Any]) -> None:
    assert sd["url"] == BASE + sd["id"]
    assert sd["fhirVersion"] == "4.0.1"
    assert len(sd.get("description", "")) > 40
    for element in sd["differential"]["element"]:
        for constraint in element.get("constraint", []):
            assert (
                constraint["human"]
                and constraint["expression"]
                and constraint["severity"] in {"error", "warning"}
            )


def test_data_model_extension_urls() -> None:
    for sid in (
        "division-code",
        "sinking-from",
        "contract-care-team",
        "contract-family",
        "contract-termination-reason",
    ):
        assert BASE + sid in SDS


# --- invariants ---------------------------------------------------------------------------------


def _constraints(url: str) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    sd = SDS[url]
    for element in sd["differential"]["element"]:
        for constraint in element.get("constraint", []):
            yield element, constraint, sd["type"]


def _violations(resource: dict[str, Any]) -> list[str]:
    """Keys of the guide invariants the full validator reports as errors on `resource`."""
    return [
        i.message_id.removeprefix("JY-INV-")
        for i in full_validator().validate(resource)
        if i.is_error and i.message_id and i.message_id.startswith("JY-INV-jy-")
    ]


def _where(resource: dict[str, Any], key: str) -> list[str]:
    return [
        i.expression[0]
        for i in full_validator().validate(resource)
        if i.message_id == f"JY-INV-{key}"
    ]


@pytest.mark.parametrize(
    "resource", EXAMPLES + DEFINITIONS, ids=lambda r: f"{r['resourceType']}/{r['id']}"
)
def test_examples_meet_the_invariants(resource: dict[str, Any]) -> None:
    assert _violations(resource) == []


def test_invariants_are_exercised() -> None:
    keys = {
        c["key"]
        for r in EXAMPLES + DEFINITIONS
        for url in _claimed(r)
        for _, c, _ in _constraints(url)
    }
    for key in (
        "jy-gb11643",
        "jy-contract-term",
        "jy-long-term-supply",
        "jy-long-term-stable",
        "jy-careplan-contract",
    ):
        assert key in keys


def test_id_number_check_digit() -> None:
    patient = copy.deepcopy(BY_ID[("Patient", "example-chen-guoqiang")])
    number = patient["identifier"][0]["value"]
    assert ric.is_valid(number)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    patient["identifier"][0]["value"] = wrong
    assert "jy-gb11643" in _violations(patient)
    assert _where(patient, "jy-gb11643") == ["Patient.identifier[0]"]
    x_number = "11010519491231002X"  # the standard's own example, check digit X
    patient["identifier"][0]["value"] = x_number
    assert "jy-gb11643" not in _violations(patient)


@pytest.mark.parametrize(
    ("start", "end", "status", "ok"),
    [
        ("2026-01-05", "2027-01-04", "executed", True),
        ("2026-01-05", "2029-01-04", "executed", True),
        ("2026-01-05", "2026-12-31", "executed", False),
        ("2026-01-05", "2029-01-06", "executed", False),
        ("2026-01-05", "2026-03-01", "terminated", True),
    ],
)
def test_contract_term(start: str, end: str, status: str, ok: bool) -> None:
    contract = copy.deepcopy(BY_ID[("Contract", "example-family-contract")])
    contract["applies"] = {"start": start, "end": end}
    contract["status"] = status
    if status == "terminated":
        contract["extension"].append(
            {
                "url": BASE + "contract-termination-reason",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "https://jiayi.health/fhir/CodeSystem/contract-termination-reason",
                            "code": "moved-out",
                        }
                    ]
                },
            }
        )
    assert ("jy-contract-term" not in _violations(contract)) is ok
    assert _where(contract, "jy-contract-term") == ([] if ok else ["Contract.applies"])


@pytest.mark.parametrize(
    ("value", "unit", "ok"),
    [
        (4, "wk", True),
        (12, "wk", True),
        (13, "wk", False),
        (3, "wk", False),
        (84, "d", True),
        (90, "d", False),
    ],
)
def test_long_term_prescription_supply(value: int, unit: str, ok: bool) -> None:
    rx = copy.deepcopy(BY_ID[("MedicationRequest", "example-long-term-rx")])
    rx["dispenseRequest"]["expectedSupplyDuration"] = {
        "value": value,
        "system": "http://unitsofmeasure.org",
        "code": unit,
    }
    assert ("jy-long-term-supply" not in _violations(rx)) is ok
    expected = [] if ok else ["MedicationRequest.dispenseRequest.expectedSupplyDuration"]
    assert _where(rx, "jy-long-term-supply") == expected


def test_long_term_prescription_needs_a_stable_condition() -> None:
    rx = copy.deepcopy(BY_ID[("MedicationRequest", "example-long-term-rx")])
    for ext in rx["extension"]:
        ext["valueBoolean"] = False
    assert "jy-long-term-stable" in _violations(rx)


# --- search parameters ---------------------------------------------------------------------------

SEARCH_CASES = [
    ("contract-care-team", ("Contract", "example-family-contract"), "CareTeam/example-team-huang"),
    ("contract-family", ("Contract", "example-family-contract"), "Group/example-chen-family"),
    (
        "careplan-contract",
        ("CarePlan", "example-careplan-chen"),
        "Contract/example-family-contract",
    ),
    ("patient-division", ("Patient", "example-chen-guoqiang"), "440113"),
    ("communication-push-kind", ("Communication", "example-push-bailu"), "personalised"),
    ("communication-topic", ("Communication", "example-push-bailu"), "chronic-disease"),
]


@pytest.mark.parametrize(("sp_id", "key", "expected"), SEARCH_CASES)
def test_search_parameter_extracts(sp_id: str, key: tuple[str, str], expected: str) -> None:
    sp = SEARCH[sp_id]
    assert sp["url"] == f"https://jiayi.health/fhir/SearchParameter/{sp_id}"
    assert key[0] in sp["base"]
    expression = sp["expression"].replace(".where(resolve() is Contract)", "")
    values = json.dumps(evaluate(BY_ID[key], expression), ensure_ascii=False)
    assert expected in values


def test_fee_standard_fsh_copy_matches_the_json() -> None:
    """fee-standard.fsh (SUSHI-only) and the JSON written by build_service_packages.py agree on slices."""
    sd = SDS[BASE + "fee-standard"]
    slices = {e["sliceName"] for e in sd["differential"]["element"] if "sliceName" in e}
    fsh = (PROFILES / "fsh" / "input" / "fsh" / "fee-standard.fsh").read_text(encoding="utf-8")
    for name in slices:
        assert f" {name} " in fsh or f" {name}\n" in fsh or f"[{name}]" in fsh


def test_a_terminated_contract_example_names_its_reason() -> None:
    """docs/DATA-MODEL.md: terminated = ended, the reason from contract-termination-reason in the
    extension of the same name, the date in applies.end."""
    contract = BY_ID[("Contract", "example-terminated-contract")]
    assert contract["status"] == "terminated" and contract["applies"]["end"]
    reasons = [
        e["valueCodeableConcept"]["coding"][0]
        for e in contract["extension"]
        if e["url"] == BASE + "contract-termination-reason"
    ]
    assert reasons == [
        {
            "system": "https://jiayi.health/fhir/CodeSystem/contract-termination-reason",
            "code": "moved-out",
            "display": "迁出服务区域",
        }
    ]
    assert _violations(contract) == []
    without = copy.deepcopy(contract)
    without["extension"] = [
        e for e in without["extension"] if e["url"] != BASE + "contract-termination-reason"
    ]
    assert "jy-contract-terminated" in _violations(without)
