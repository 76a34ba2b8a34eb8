"""AccessPolicy (scopes ∩ role ceiling, default deny) and Patient-compartment membership.

Spec: SMART App Launch 2.x "Scopes and Launch Context"; FHIR R4 CompartmentDefinition-patient.
A matrix over scopes × contexts × interactions × resource types asserts that patient-context
grants never reach outside the patient's compartment.
"""

from __future__ import annotations

import itertools

import pytest

from fhir_server.auth.compartments import PatientCompartment
from fhir_server.auth.matching import RestrictionMatcher
from fhir_server.auth.policy import AccessPolicy
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import parse_scopes
from fhir_server.search.registry import r4_registry


@pytest.fixture(scope="module")
def compartment() -> PatientCompartment:
    return PatientCompartment(r4_registry(), base_url="http://testserver/fhir")


def resident(scope: str, patient: str = "p1") -> Principal:
    return Principal(
        "li.hua", "app", "patient", parse_scopes(scope), "resident", f"Patient/{patient}", patient
    )


def staff(scope: str, role: str, patient: str | None = None) -> Principal:
    return Principal("u", "app", "user", parse_scopes(scope), role, "Practitioner/d1", patient)


def system(scope: str) -> Principal:
    return Principal("svc", "svc", "system", parse_scopes(scope))


OBS_P1 = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}}
OBS_P2 = {"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/p2"}}
OBS_ABS = {
    "resourceType": "Observation",
    "id": "o3",
    "subject": {"reference": "http://testserver/fhir/Patient/p1"},
}
AUDIT_P1 = {
    "resourceType": "AuditEvent",
    "id": "a1",
    "entity": [{"what": {"reference": "Patient/p1"}}],
}
P1 = {"resourceType": "Patient", "id": "p1"}
P2 = {"resourceType": "Patient", "id": "p2"}
ENC_P2 = {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p2"}}
PRACT = {"resourceType": "Practitioner", "id": "d1"}


def test_compartment_membership(compartment: PatientCompartment) -> None:
    assert compartment.contains(OBS_P1, "p1") and compartment.contains(OBS_ABS, "p1")
    assert not compartment.contains(OBS_P2, "p1")
    assert compartment.contains(P1, "p1") and not compartment.contains(P2, "p1")
    assert compartment.contains(AUDIT_P1, "p1")
    assert not compartment.contains(PRACT, "p1")
    assert compartment.search_restriction("Observation", "p1") == [
        ("performer", "Patient/p1"), ("subject", "Patient/p1")
    ]  # fmt: skip
    assert compartment.search_restriction("Patient", "p1")[0] == ("_id", "p1")
    assert compartment.search_restriction("Practitioner", "p1") == []


def test_patient_scope_is_limited_to_the_compartment(compartment: PatientCompartment) -> None:
    decision = AccessPolicy(resident("patient/*.rs")).decide("read", "Observation")
    assert decision.allowed and decision.patients == {"p1"} and not decision.unrestricted
    assert decision.allows(OBS_P1, compartment)
    assert not decision.allows(OBS_P2, compartment)
    assert not AccessPolicy(resident("patient/*.rs")).decide("create", "Observation").allowed


def test_patient_scope_without_patient_grants_nothing() -> None:
    doctor = staff("patient/*.rs", "doctor", patient=None)
    assert not AccessPolicy(doctor).decide("read", "Observation").allowed


def test_v2_query_restrictions(compartment: PatientCompartment) -> None:
    scope = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    decision = AccessPolicy(resident(scope)).decide("search-type", "Observation")
    lab = {**OBS_P1, "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]}  # fmt: skip
    assert decision.grants[0].query
    matcher = RestrictionMatcher(compartment.registry, "http://testserver/fhir")
    assert decision.allows(lab, compartment, matcher=matcher)
    assert not decision.allows(OBS_P1, compartment, matcher=matcher)
    assert not decision.allows(lab, compartment)  # no matcher: a restricted grant admits nothing


@pytest.mark.parametrize(
    "terms, expected",
    [
        ([("clinical-status", "active")], True),  # parameter name ≠ element name (clinicalStatus)
        ([("clinical-status", "http://terminology.hl7.org/CodeSystem/condition-clinical|")], True),
        ([("clinical-status", "resolved")], False),
        ([("clinical-status:not", "resolved")], True),
        ([("code", "http://hl7.org/fhir/sid/icd-10|I10")], True),
        ([("code", "|I10")], False),
        ([("code", "I10"), ("clinical-status", "resolved")], False),  # AND
        ([("code", "E11,I10")], True),  # OR within one value
        ([("subject", "Patient/p1")], True),
        ([("subject:Patient", "p1")], True),
        ([("subject", "Patient/p2")], False),
        ([("onset-date", "2020")], False),  # dates are not decided in memory: never admits
        ([("no-such-param", "x")], False),
        ([("subject.name", "chen")], False),  # chains are not decided in memory
        ([("_id", "c1")], True),
    ],
)
def test_restriction_matcher(
    compartment: PatientCompartment, terms: list[tuple[str, str]], expected: bool
) -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2020-05-01",
    }
    matcher = RestrictionMatcher(compartment.registry, "http://testserver/fhir")
    assert matcher.holds(condition, terms) is expected


def test_audit_trail_is_for_auditors_and_the_resident_own(compartment: PatientCompartment) -> None:
    assert (
        AccessPolicy(staff("user/*.rs", "auditor")).decide("search-type", "AuditEvent").unrestricted
    )
    assert not AccessPolicy(staff("user/*.rs", "auditor")).decide("read", "Patient").allowed
    assert not AccessPolicy(staff("user/*.cruds", "doctor")).decide("read", "AuditEvent").allowed
    assert not AccessPolicy(staff("user/*.cruds", "admin")).decide("create", "AuditEvent").allowed
    mine = AccessPolicy(resident("user/AuditEvent.rs")).decide("search-type", "AuditEvent")
    assert mine.allowed and mine.allows(AUDIT_P1, compartment)
    assert not mine.allows(
        {**AUDIT_P1, "entity": [{"what": {"reference": "Patient/p2"}}]}, compartment
    )


def test_roles() -> None:
    assert not AccessPolicy(staff("user/*.rs", "commission")).decide("read", "Patient").allowed
    assert (
        AccessPolicy(staff("user/*.rs", "commission"))
        .decide("search-type", "MeasureReport")
        .unrestricted
    )
    doctor = AccessPolicy(staff("user/*.cruds", "doctor")).decide("update", "Observation")
    assert doctor.allowed and doctor.grants[0].relationship == "care-team"
    assert not AccessPolicy(staff("user/*.cruds", "nurse")).decide("delete", "Observation").allowed
    assert AccessPolicy(staff("user/*.cruds", "admin")).decide("delete", "Patient").unrestricted
    assert AccessPolicy(resident("patient/*.rs")).decide("read", "Practitioner").unrestricted
    assert not AccessPolicy(staff("user/*.cruds", "unknown-role")).decide("read", "Patient").allowed


def test_system_scopes_only_for_system_principals() -> None:
    assert AccessPolicy(system("system/Contract.r")).decide("read", "Contract").unrestricted
    assert not AccessPolicy(system("system/Contract.r")).decide("read", "Patient").allowed
    assert not AccessPolicy(system("user/*.cruds")).decide("read", "Contract").allowed
    assert not AccessPolicy(staff("system/*.cruds", "admin")).decide("read", "Contract").allowed


def test_care_team_relationship_is_resolved_by_the_gate(compartment: PatientCompartment) -> None:
    decision = AccessPolicy(staff("user/*.rs", "doctor")).decide("read", "Observation")
    assert not decision.allows(OBS_P1, compartment)  # no resolver: default deny

    def related(relationship: str) -> frozenset[str]:
        assert relationship == "care-team"
        return frozenset({"p1"})

    assert decision.allows(OBS_P1, compartment, related)
    assert not decision.allows(OBS_P2, compartment, related)
    assert not decision.allows(OBS_P1, compartment, lambda _rel: frozenset())


SCOPES = [
    "patient/*.read",
    "patient/*.cruds",
    "patient/Observation.rs",
    "patient/*.write",
    "user/*.cruds",
    "launch/patient",
]
INTERACTIONS = [
    "read",
    "vread",
    "search-type",
    "history-instance",
    "create",
    "update",
    "patch",
    "delete",
]
RESOURCES = [OBS_P1, OBS_P2, OBS_ABS, P1, P2, ENC_P2, AUDIT_P1]


def test_matrix_patient_context_never_leaks(compartment: PatientCompartment) -> None:
    """scopes × interactions × resources for a resident token in Patient/p1's context."""
    for scope, interaction, resource in itertools.product(SCOPES, INTERACTIONS, RESOURCES):
        decision = AccessPolicy(resident(scope)).decide(interaction, resource["resourceType"])
        if decision.allows(resource, compartment):
            assert compartment.contains(resource, "p1"), (scope, interaction, resource)
    for scope, interaction, resource in itertools.product(SCOPES, INTERACTIONS, RESOURCES):
        principal = staff(scope, "doctor", patient="p1")
        decision = AccessPolicy(principal).decide(interaction, resource["resourceType"])
        everyone = lambda _rel: frozenset({"p1", "p2"})  # noqa: E731
        if decision.allows(resource, compartment, everyone) and scope.startswith("patient/"):
            assert compartment.contains(resource, "p1"), (scope, interaction, resource)


def _control(principal: Principal, compartment: PatientCompartment, contracted: list[str]):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from fhir_server.services.access import AccessControl

    contract = {
        "resourceType": "Contract",
        "id": "k1",
        "status": "executed",
        "subject": [{"reference": f"Patient/{p}"} for p in contracted],
        "signer": [{"party": {"reference": "Practitioner/d1"}}],
    }

    def find(rtype: str, query: list[tuple[str, str]]) -> list[dict]:
        return [contract] if rtype == "Contract" and contracted else []

    matcher = RestrictionMatcher(compartment.registry, "http://testserver/fhir")
    return AccessControl(principal, compartment, find, matcher, lambda: datetime.now(UTC))


def test_gate_terms(compartment: PatientCompartment) -> None:
    """The gate's view of a type is search terms the engine pushes into SQL."""
    from fhir_server.core.errors import FhirError

    gate = _control(resident("patient/*.rs"), compartment, [])
    with pytest.raises(FhirError) as denied:
        gate.require("create", "Observation")
    assert denied.value.status == 403
    view = gate.visibility("search-type", "Observation")
    assert view.include == ((("performer", "Patient/p1"),), (("subject", "Patient/p1"),))
    assert gate.visibility("read", "Patient").include == (
        (("_id", "p1"),),
        (("link", "Patient/p1"),),
    )
    assert gate.visibility("read", "Practitioner").unrestricted
    assert gate.permits("read", OBS_P1) and not gate.permits("read", OBS_P2)
    assert not gate.permits("create", OBS_P1)
    doctor = _control(staff("user/*.cruds", "doctor"), compartment, ["p2", "p1"])
    assert doctor.visibility("read", "Observation").include == (
        (("performer", "Patient/p1,Patient/p2"),),
        (("subject", "Patient/p1,Patient/p2"),),
    )
    assert doctor.permits("update", ENC_P2) and not doctor.permits("read", AUDIT_P1)
    lonely = _control(staff("user/*.cruds", "doctor"), compartment, [])
    assert lonely.visibility("read", "Observation").include == ()
    v2 = _control(resident("patient/Observation.rs?category=vital-signs"), compartment, [])
    assert v2.visibility("read", "Observation").include == (
        (("performer", "Patient/p1"), ("category", "vital-signs")),
        (("subject", "Patient/p1"), ("category", "vital-signs")),
    )
    admin = _control(staff("user/*.cruds", "admin"), compartment, [])
    assert admin.visibility("search-type", "Observation").unrestricted
