"""Residents' Consents honoured by the gate (issue 5, gap 3), per principal kind, on both
databases: read, search (with exact totals), include, history and batch entries; only the listed
types or resources are hidden; expired or inactive Consents change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.access_world import World, bundle_ids, make_world

RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
PRIVACY = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def consent(cid: str, provision: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": "active",
        "scope": PRIVACY,
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/a"},
        "policyRule": OPTIN,
        "provision": provision,
        **extra,
    }


ROLE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
    ]
}
OPTIN = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]
}


def actor(ref: str) -> list[dict[str, Any]]:
    return [{"role": ROLE, "reference": {"reference": ref}}]


def classes(*types: str) -> list[dict[str, str]]:
    return [{"system": RESOURCE_TYPES, "code": t} for t in types]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    for w in make_world(database_url):
        for resource in (
            {"resourceType": "Practitioner", "id": "adm"},
            {
                "resourceType": "PractitionerRole",
                "id": "r-adm",
                "practitioner": {"reference": "Practitioner/adm"},
                "organization": {"reference": "Organization/chc"},
            },
        ):
            w.repo.update(resource["resourceType"], resource["id"], resource)
        yield w


def _store(world: World, resource: dict[str, Any]) -> None:
    world.repo.update("Consent", resource["id"], resource)


def _search(world: World, url: str, headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = world.client.get(url, params={"_total": "accurate", **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _institution_admin(world: World) -> dict[str, str]:
    return world.headers(
        "user/*.rs", kind="user", role="institution-admin", fhir_user="Practitioner/adm"
    )


def _system(world: World, organization: str | None) -> dict[str, str]:
    return world.headers(
        "system/*.rs", kind="system", subject="svc", client_id="svc", organization=organization
    )


def test_refusing_an_institution_hides_only_the_listed_types(world: World) -> None:
    doctor = world.doctor()
    assert world.client.get("/fhir/Observation/oa", headers=doctor).status_code == 200
    _store(
        world,
        consent(
            "no-chc-obs",
            {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "actor": actor("Organization/chc"),
                        "class": classes("Observation"),
                    }
                ],
            },
        ),
    )
    client = world.client
    assert client.get("/fhir/Observation/oa", headers=doctor).status_code == 404
    assert client.get("/fhir/Observation/oa/_history/1", headers=doctor).status_code == 404
    body = _search(world, "/fhir/Observation", doctor)
    assert bundle_ids(body) == [] and body["total"] == 0
    # the other types of the record stay visible
    assert client.get("/fhir/Patient/a", headers=doctor).status_code == 200
    assert client.get("/fhir/Encounter/ea", headers=doctor).status_code == 200
    included = _search(world, "/fhir/Patient", doctor, _revinclude="Observation:subject")
    assert bundle_ids(included) == ["a"] and included["total"] == 1
    history = client.get("/fhir/Observation/_history", headers=doctor).json()
    assert history.get("entry", []) == []
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Observation/oa"}},
            {"request": {"method": "GET", "url": "Encounter/ea"}},
            {"request": {"method": "GET", "url": "Observation?subject=Patient/a"}},
        ],
    }
    entries = client.post("/fhir", json=batch, headers=doctor).json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["404", "200", "200"]
    assert entries[2]["resource"].get("entry", []) == []
    # writes are refused the same way (the Observation is outside reach)
    update = {**world.repo.read("Observation", "oa").content, "status": "amended"}  # type: ignore[dict-item]
    assert client.put("/fhir/Observation/oa", json=update, headers=doctor).status_code == 404
    # the resident's own access is untouched; the Consent itself stays readable
    assert client.get("/fhir/Observation/oa", headers=world.resident()).status_code == 200
    assert client.get("/fhir/Consent/no-chc-obs", headers=doctor).status_code == 200


def test_denying_single_resources_keeps_totals_exact(world: World) -> None:
    _store(
        world,
        consent(
            "hide-oa2",
            {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "actor": actor("Practitioner/d1"),
                        "data": [
                            {"meaning": "instance", "reference": {"reference": "Observation/oa2"}}
                        ],
                    }
                ],
            },
        ),
    )
    doctor = world.doctor()
    body = _search(world, "/fhir/Observation", doctor, _count="1")
    assert body["total"] == 2
    pages, url = [], "/fhir/Observation?_count=1"
    while url:
        page = world.client.get(url, headers=doctor).json()
        pages += bundle_ids(page)
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
    assert pages == ["oa", "oa3"]
    assert world.client.get("/fhir/Observation/oa2", headers=doctor).status_code == 404


def test_base_deny_with_an_exception_for_the_care_team(world: World) -> None:
    _store(
        world,
        consent(
            "team-only",
            {"type": "deny", "provision": [{"type": "permit", "actor": actor("CareTeam/t1")}]},
        ),
    )
    assert bundle_ids(_search(world, "/fhir/Observation", world.doctor())) == ["oa", "oa2", "oa3"]
    admin = _institution_admin(world)
    assert world.client.get("/fhir/Patient/a", headers=admin).status_code == 404
    assert _search(world, "/fhir/Observation", admin)["total"] == 0


def test_purpose_of_use(world: World) -> None:
    _store(
        world,
        consent(
            "no-operations",
            {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "purpose": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                "code": "HOPERAT",
                            }
                        ],
                    }
                ],
            },
        ),
    )
    assert world.client.get("/fhir/Patient/a", headers=world.doctor()).status_code == 200
    assert world.client.get("/fhir/Patient/a", headers=_institution_admin(world)).status_code == 404


def test_back_end_clients_bound_to_an_organization(world: World) -> None:
    _store(
        world,
        consent(
            "no-hospital",
            {
                "type": "permit",
                "provision": [{"type": "deny", "actor": actor("Organization/hosp")}],
            },
        ),
    )
    bound, unbound = _system(world, "hosp"), _system(world, None)
    assert world.client.get("/fhir/Patient/a", headers=bound).status_code == 404
    assert world.client.get("/fhir/Patient/b", headers=bound).status_code == 200
    assert bundle_ids(_search(world, "/fhir/Observation", bound)) == ["ob", "ob2", "ob3", "secret"]
    assert world.client.get("/fhir/Patient/a", headers=unbound).status_code == 200
    everything = _search(world, "/fhir/Observation", unbound)
    assert everything["total"] == 7


def test_a_practitioner_in_patient_context_is_bound_too(world: World) -> None:
    _store(
        world,
        consent(
            "no-d1",
            {"type": "permit", "provision": [{"type": "deny", "actor": actor("Practitioner/d1")}]},
        ),
    )
    launched = world.headers(
        "launch/patient patient/*.rs",
        kind="user",
        role="doctor",
        fhir_user="Practitioner/d1",
        patient="a",
    )
    assert world.client.get("/fhir/Patient/a", headers=launched).status_code == 404
    assert world.client.get("/fhir/Patient/a", headers=world.resident()).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"status": "inactive"},
        {"status": "rejected"},
        {"provision_period": {"start": "2001-01-01", "end": "2002-01-01"}},  # expired
        {"provision_period": {"start": "2098-01-01"}},  # not yet in force
        {
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "research",
                    }
                ]
            }
        },  # does not govern access
    ],
)
def test_consents_not_in_force_change_nothing(world: World, change: dict[str, Any]) -> None:
    change = dict(change)  # parametrize shares the dict across backends
    provision: dict[str, Any] = {"type": "deny", "actor": actor("Organization/chc")}
    if "provision_period" in change:
        provision["period"] = change.pop("provision_period")
    _store(world, consent("c", provision, **change))
    assert world.client.get("/fhir/Patient/a", headers=world.doctor()).status_code == 200


def test_a_coded_deny_hides_only_the_resources_carrying_the_code(world: World) -> None:
    """`provision.code` is judged on each resource (R4: "if this code is found in an instance"):
    only `oa3` (LOINC 8462-4) is hidden from the centre, in search, totals, read and history."""
    _store(
        world,
        consent(
            "no-diastolic",
            {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "actor": actor("Organization/chc"),
                        "code": [{"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}],
                    }
                ],
            },
        ),
    )
    doctor = world.doctor()
    body = _search(world, "/fhir/Observation", doctor)
    assert bundle_ids(body) == ["oa", "oa2"] and body["total"] == 2
    assert world.client.get("/fhir/Observation/oa3", headers=doctor).status_code == 404
    assert world.client.get("/fhir/Observation/oa3/_history/1", headers=doctor).status_code == 404
    assert world.client.get("/fhir/Observation/oa2", headers=doctor).status_code == 200
    assert world.client.get("/fhir/Observation/oa3", headers=world.resident()).status_code == 200


def test_a_push_channel_opt_out_hides_nothing_from_readers(world: World) -> None:
    """The guide's SMS opt-out (`jiayi-push-channel-consent`: a nested deny carrying only the
    `consent-channel` extension) concerns pushes; the doctor still sees the whole record."""
    sms_only = {
        "type": "permit",
        "provision": [
            {
                "type": "deny",
                "extension": [
                    {
                        "url": "https://jiayi.health/fhir/StructureDefinition/consent-channel",
                        "valueCode": "sms",
                    }
                ],
            }
        ],
    }
    _store(world, consent("sms-opt-out", sms_only))
    body = _search(world, "/fhir/Observation", world.doctor())
    assert bundle_ids(body) == ["oa", "oa2", "oa3"] and body["total"] == 3
    assert world.client.get("/fhir/Patient/a", headers=world.doctor()).status_code == 200
