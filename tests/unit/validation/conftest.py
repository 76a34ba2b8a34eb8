"""A validator built once for the validation unit tests, with a test profile added to the guide."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_resources
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.validation.pipeline import Validator, build_validator

CORE = "http://hl7.org/fhir/StructureDefinition/"
TEST_PROFILE = "https://jiayi.health/fhir/StructureDefinition/test-resident"
DELIVERY_MODE = "https://jiayi.health/fhir/StructureDefinition/delivery-mode"
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
RIC = "urn:oid:2.16.156.10011.1.3"


def _e(eid: str, **kw: Any) -> dict[str, Any]:
    path = ".".join(p.split(":")[0] for p in eid.split("."))
    last = eid.rsplit(".", 1)[-1]
    out: dict[str, Any] = {"id": eid, "path": path, **kw}
    if ":" in last:
        out["sliceName"] = last.split(":", 1)[1]
    return out


# A differential-only Patient profile exercising every check of the profile validator.
PROFILE: dict[str, Any] = {
    "resourceType": "StructureDefinition",
    "id": "test-resident",
    "url": TEST_PROFILE,
    "name": "TestResident",
    "status": "draft",
    "kind": "resource",
    "abstract": False,
    "type": "Patient",
    "baseDefinition": CORE + "Patient",
    "derivation": "constraint",
    "differential": {
        "element": [
            _e("Patient"),
            _e(
                "Patient.identifier",
                min=1,
                slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
            ),
            _e("Patient.identifier:ric", min=1, max="1"),
            _e("Patient.identifier:ric.system", min=1, fixedUri=RIC),
            _e("Patient.identifier:ric.value", min=1),
            _e(
                "Patient.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            ),
            _e(
                "Patient.extension:mode",
                min=0,
                max="1",
                type=[{"code": "Extension", "profile": [DELIVERY_MODE]}],
            ),
            _e("Patient.gender", min=1),
            _e(
                "Patient.maritalStatus.coding",
                slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"},
            ),
            _e("Patient.maritalStatus.coding:v3", min=0, max="1"),
            _e("Patient.maritalStatus.coding:v3.system", min=1, fixedUri=V3_MARITAL),
            _e(
                "Patient.contact.relationship",
                patternCodeableConcept={
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"}
                    ]
                },
            ),
            _e(
                "Patient.generalPractitioner",
                type=[{"code": "Reference", "targetProfile": [CORE + "Practitioner"]}],
            ),
            _e("Patient.telecom", max="1"),
            _e("Patient.communication", max="0"),
            _e(
                "Patient.contact",
                constraint=[
                    {
                        "key": "jy-test-1",
                        "severity": "error",
                        "human": "A contact needs a name",
                        "expression": "name.exists()",
                    }
                ],
            ),
            _e("Patient.deceased[x]", type=[{"code": "boolean"}]),
        ]
    },
}


@pytest.fixture(scope="session")
def defs() -> R4Definitions:
    return R4Definitions.load()


@pytest.fixture(scope="session")
def validator(defs: R4Definitions) -> Validator:
    return build_validator(defs, [*load_ig_resources(), PROFILE])
