"""Every interaction passes the access gate (issue 5): SMART scopes × context × role, on both
databases.  Reads outside the caller's reach are 404 (no leak), missing scopes 403, no token 401;
search results, includes, totals and history never show another resident's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import parse_scopes
from fhir_server.auth.store import AuthStore
from fhir_server.auth.tokens import SigningKeys, TokenService
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings

BASE = "http://testserver/fhir"
TEAM_EXT = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"

RESOURCES = [
    {"resourceType": "Patient", "id": "a", "name": [{"family": "陈"}]},
    {"resourceType": "Patient", "id": "b", "name": [{"family": "林"}]},
    {
        "resourceType": "Observation",
        "id": "oa",
        "status": "final",
        "code": {"text": "bp"},
        "subject": {"reference": "Patient/a"},
        "performer": [{"reference": "Patient/b"}],
    },
    {
        "resourceType": "Observation",
        "id": "ob",
        "status": "final",
        "code": {"text": "bp"},
        "subject": {"reference": "Patient/b"},
    },
    {"resourceType": "Practitioner", "id": "d1"},
    {"resourceType": "Organization", "id": "chc", "name": "Community health centre"},
    {
        "resourceType": "PractitionerRole",
        "id": "r1",
        "practitioner": {"reference": "Practitioner/d1"},
        "organization": {"reference": "Organization/chc"},
    },
    {
        "resourceType": "CareTeam",
        "id": "t1",
        "status": "active",
        "participant": [{"member": {"reference": "PractitionerRole/r1"}}],
    },
    {
        "resourceType": "Contract",
        "id": "c1",
        "status": "executed",
        "subject": [{"reference": "Patient/a"}],
        "authority": [{"reference": "Organization/chc"}],
        "extension": [{"url": TEAM_EXT, "valueReference": {"reference": "CareTeam/t1"}}],
    },
]


@pytest.fixture
def secured(database_url: str) -> Iterator[tuple[TestClient, TokenService]]:
    settings = Settings(database_url=database_url, base_url=BASE, auth="smart")
    components = build_components(settings)
    repo = FhirRepository(RequestContext(BASE, system_name="test-setup"), components)
    for resource in RESOURCES:
        repo.update(resource["resourceType"], resource["id"], resource)
    app = create_app(settings, components=components)
    store = AuthStore(components.database.engine)  # type: ignore[attr-defined]
    tokens = TokenService(SigningKeys.load_or_create(store), BASE, 900, store)
    with TestClient(app) as client:
        yield client, tokens


def _auth(tokens: TokenService, **kw: object) -> dict[str, str]:
    scopes = parse_scopes(str(kw.pop("scope")))
    token, _, _ = tokens.access_token(Principal(subject="u", client_id="app", scopes=scopes, **kw))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def _ids(bundle: dict) -> list[str]:
    return sorted(
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode") != "outcome"
    )


def test_no_token_is_401_and_metadata_is_public(secured: tuple[TestClient, TokenService]) -> None:
    client, _ = secured
    r = client.get("/fhir/Patient/a")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.get("/fhir/Patient/a", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    meta = client.get("/fhir/metadata").json()
    assert meta["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


def test_resident_sees_only_own_compartment(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    h = _auth(
        tokens,
        kind="patient",
        role="resident",
        fhir_user="Patient/a",
        patient="a",
        scope="launch/patient patient/*.rs",
    )
    assert client.get("/fhir/Patient/a", headers=h).status_code == 200
    assert client.get("/fhir/Patient/b", headers=h).status_code == 404
    assert client.get("/fhir/Observation/ob", headers=h).status_code == 404
    assert client.get("/fhir/Patient/b/_history", headers=h).status_code == 404
    search = client.get("/fhir/Observation", params={"_total": "accurate"}, headers=h).json()
    assert _ids(search) == ["oa"] and search["total"] == 1
    included = client.get(
        "/fhir/Observation", params={"_include": "Observation:performer"}, headers=h
    ).json()
    assert _ids(included) == ["oa"]  # Patient/b is not leaked through _include
    assert _ids(client.get("/fhir/Patient", headers=h).json()) == ["a"]
    write = client.post(
        "/fhir/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/a"},
        },
        headers=h,
    )
    assert write.status_code == 403  # scopes grant read/search only


def test_resident_writes_only_into_own_record(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    h = _auth(
        tokens,
        kind="patient",
        role="resident",
        fhir_user="Patient/a",
        patient="a",
        scope="patient/Observation.crus",
    )
    own = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/a"},
    }
    assert client.post("/fhir/Observation", json=own, headers=h).status_code == 201
    other = {**own, "subject": {"reference": "Patient/b"}}
    # Content outside the caller's reach is refused (403, nothing written); an existing foreign
    # resource is not found (404), so nothing is learnt about it.
    assert client.post("/fhir/Observation", json=other, headers=h).status_code == 403
    assert (
        client.put("/fhir/Observation/ob", json={**other, "id": "ob"}, headers=h).status_code == 404
    )


def test_doctor_sees_contracted_residents_only(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    h = _auth(tokens, kind="user", role="doctor", fhir_user="Practitioner/d1", scope="user/*.cruds")
    assert client.get("/fhir/Patient/a", headers=h).status_code == 200
    assert client.get("/fhir/Observation/oa", headers=h).status_code == 200
    assert client.get("/fhir/Patient/b", headers=h).status_code == 404
    assert _ids(client.get("/fhir/Patient", headers=h).json()) == ["a"]
    other_doctor = _auth(
        tokens, kind="user", role="doctor", fhir_user="Practitioner/zz", scope="user/*.cruds"
    )
    assert client.get("/fhir/Patient/a", headers=other_doctor).status_code == 404


def test_system_scopes_and_roles(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    backend = _auth(tokens, kind="system", scope="system/Contract.r")
    assert client.get("/fhir/Contract/c1", headers=backend).status_code == 200
    assert client.get("/fhir/Patient/a", headers=backend).status_code == 403
    commission = _auth(
        tokens, kind="user", role="commission", fhir_user="Practitioner/x", scope="user/*.rs"
    )
    assert client.get("/fhir/Patient/a", headers=commission).status_code == 403
    admin = _auth(
        tokens,
        kind="user",
        role="institution-admin",
        fhir_user="Practitioner/d1",
        scope="user/*.rs",
    )
    assert client.get("/fhir/Patient/a", headers=admin).status_code == 200
    assert client.get("/fhir/Patient/b", headers=admin).status_code == 404


def test_transaction_entries_pass_the_gate(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    h = _auth(
        tokens,
        kind="patient",
        role="resident",
        fhir_user="Patient/a",
        patient="a",
        scope="patient/*.cruds",
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": "Patient/a"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {"request": {"method": "GET", "url": "Observation/ob"}},
        ],
    }
    assert client.post("/fhir", json=bundle, headers=h).status_code == 404
    batch = {**bundle, "type": "batch"}
    entries = client.post("/fhir", json=batch, headers=h).json()["entry"]
    assert [e["response"]["status"][:3] for e in entries] == ["201", "404"]


def test_every_access_and_denial_is_audited(secured: tuple[TestClient, TokenService]) -> None:
    client, tokens = secured
    resident = _auth(
        tokens,
        kind="patient",
        role="resident",
        fhir_user="Patient/a",
        patient="a",
        scope="patient/*.rs",
    )
    doctor = _auth(
        tokens, kind="user", role="doctor", fhir_user="Practitioner/d1", scope="user/*.cruds"
    )
    auditor = _auth(
        tokens,
        kind="user",
        role="auditor",
        fhir_user="Practitioner/aud",
        scope="user/AuditEvent.rs",
    )
    assert client.get("/fhir/Patient/a", headers=doctor).status_code == 200
    assert (
        client.get("/fhir/Observation", params={"subject": "Patient/a"}, headers=doctor).status_code
        == 200
    )
    assert client.get("/fhir/Patient/a").status_code == 401
    assert client.get("/fhir/Patient/b", headers=resident).status_code == 404
    client.app.state.components.audit.close()  # flush the background writer  # type: ignore[attr-defined]
    events = client.get("/fhir/AuditEvent", params={"_count": "100"}, headers=auditor).json()[
        "entry"
    ]
    outcomes = {
        (e["resource"]["outcome"], e["resource"].get("subtype", [{}])[0].get("code"))
        for e in events
    }
    assert (
        ("0", "read") in outcomes and ("0", "search-type") in outcomes and ("4", "read") in outcomes
    )
    denied = [e["resource"] for e in events if e["resource"]["outcomeDesc"].startswith("HTTP 401")]
    assert denied and denied[0]["agent"][0]["who"] == {"display": "anonymous"}
    # The resident lists who accessed their record; auditors' own reads are not shown to them.
    mine = client.get("/fhir/AuditEvent", params={"patient": "Patient/a"}, headers=resident).json()
    who = {e["resource"]["agent"][0]["who"].get("reference") for e in mine["entry"]}
    assert "Practitioner/d1" in who
    assert client.get("/fhir/AuditEvent", headers=doctor).status_code == 403


def test_consent_refusing_an_institution_is_honoured(
    secured: tuple[TestClient, TokenService],
) -> None:
    client, tokens = secured
    doctor = _auth(
        tokens, kind="user", role="doctor", fhir_user="Practitioner/d1", scope="user/*.cruds"
    )
    assert client.get("/fhir/Observation/oa", headers=doctor).status_code == 200
    repo = client.app.state.components  # type: ignore[attr-defined]
    consent = {
        "resourceType": "Consent",
        "id": "no-chc",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/a"},
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "permit",
            "provision": [
                {
                    "type": "deny",
                    "actor": [
                        {
                            "role": {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                        "code": "IRCP",
                                    }
                                ]
                            },
                            "reference": {"reference": "Organization/chc"},
                        }
                    ],
                }
            ],
        },
    }
    FhirRepository(RequestContext(BASE, system_name="test-setup"), repo).update(
        "Consent", "no-chc", consent
    )
    assert client.get("/fhir/Observation/oa", headers=doctor).status_code == 404
    assert _ids(client.get("/fhir/Patient", headers=doctor).json()) == []
