"""Every official R4 example through the validation pipeline and a sample through `$validate`
(R4 resource-operation-validate.html): zero false errors.

The pipeline's walk over all 749 examples (exact issues of the invalid ones) is
`tests/unit/validation/test_official_examples_validate.py`; here a sample of examples and the invalid
ones go through `POST [type]/$validate` on both databases.  Examples that really break R4 rules are
listed with the rule they break (`tests/support/r4_package.py`).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.r4_package import KNOWN_INVALID_EXAMPLES, official_examples

FHIR = {"Content-Type": "application/fhir+json"}
SAMPLE = (
    "Patient-example.json",
    "Observation-blood-pressure.json",
    "Questionnaire-bb.json",
    "Questionnaire-zika-virus-exposure-assessment.json",
    "Contract-C-123.json",
    "CarePlan-example.json",
    "Condition-example.json",
    "MedicationRequest-medrx0301.json",
)


def test_sample_through_validate_operation(vclient: TestClient) -> None:
    by_name = dict(official_examples())
    for name in (*SAMPLE, *KNOWN_INVALID_EXAMPLES):
        resource = by_name[name]
        r = vclient.post(f"/fhir/{resource['resourceType']}/$validate", json=resource, headers=FHIR)
        assert r.status_code == 200, (name, r.text)
        severities = {i["severity"] for i in r.json()["issue"]}
        assert ("error" in severities) == (name in KNOWN_INVALID_EXAMPLES), (name, r.json())
