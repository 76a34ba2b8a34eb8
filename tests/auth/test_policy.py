"""AccessPolicy (scopes ∩ role ceiling, default deny) and Patient-compartment membership.

Spec: SMART App Launch 2.x "Scopes and Launch Context"; FHIR R4 CompartmentDefinition-patient.
A matrix over scopes × contexts × interactions × resource types asserts that patient-context
grants never reach outside the patient's compartment.
"""

from __future__ import annotations

import itertools

import pytest

from fhir_server.auth.compartments import PatientCompartment
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
    assert decision.allows(lab, compartment) and not decision.allows(OBS_P1, compartment)


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
    contracted = {"p1"}

    def related(_relationship: str, resource: dict) -> bool:
        return bool(compartment.patients(resource) & contracted)

    assert decision.allows(OBS_P1, compartment, related)
    assert not decision.allows(OBS_P2, compartment, related)


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
        if decision.allows(resource, compartment, lambda _r, _res: True) and scope.startswith(
            "patient/"
        ):
            assert compartment.contains(resource, "p1"), (scope, interaction, resource)


def test_gate(compartment: PatientCompartment) -> None:
    from fhir_server.auth.gate import AccessGate
    from fhir_server.core.errors import FhirError

    gate = AccessGate.for_principal(resident("patient/*.rs"), compartment)
    with pytest.raises(FhirError) as denied:
        gate.require("create", "Observation")
    assert denied.value.status == 403
    decision = gate.require("read", "Observation")
    gate.check_resource(decision, OBS_P1)
    with pytest.raises(FhirError) as hidden:
        gate.check_resource(decision, OBS_P2)
    assert hidden.value.status == 404
    assert gate.filter(decision, [OBS_P1, OBS_P2, OBS_ABS]) == [OBS_P1, OBS_ABS]
    (restriction,) = gate.search_restriction(decision, "Observation") or ()
    assert restriction.patient == "p1" and ("subject", "Patient/p1") in restriction.compartment
    admin = AccessGate.for_principal(staff("user/*.cruds", "admin"), compartment)
    assert (
        admin.search_restriction(admin.require("search-type", "Observation"), "Observation") is None
    )
