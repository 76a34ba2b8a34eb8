"""Search over HTTP: searchset Bundles, links, paging, POST _search, system and compartment search
(R4 search.html).  Matching rules per parameter type are covered in tests/storage/test_search_sql.py."""

from __future__ import annotations

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}


def _put(client: TestClient, resource: dict) -> dict:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def _seed(client: TestClient) -> None:
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "zs",
            "name": [{"family": "张", "given": ["三"]}],
            "gender": "male",
            "birthDate": "1944-05-01",
            "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110105194405010014"}],
        },
    )
    _put(
        client,
        {
            "resourceType": "Patient",
            "id": "ls",
            "name": [{"family": "李", "given": ["四"]}],
            "gender": "female",
            "birthDate": "1986-02-03",
        },
    )
    for i in range(5):
        _put(
            client,
            {
                "resourceType": "Observation",
                "id": f"bp{i}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                "subject": {"reference": "Patient/zs"},
                "effectiveDateTime": f"2026-0{i + 1}-15",
                "valueQuantity": {
                    "value": 130 + i,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        )
    _put(
        client,
        {
            "resourceType": "Observation",
            "id": "w1",
            "status": "final",
            "code": {"text": "weight"},
            "subject": {"reference": "Patient/ls"},
        },
    )


def _ids(bundle: dict, mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def test_type_search_bundle_shape(client: TestClient) -> None:
    _seed(client)
    r = client.get("/fhir/Patient", params={"name": "zhangsan"})
    assert r.status_code == 200
    bundle = r.json()
    assert bundle["type"] == "searchset"
    assert _ids(bundle) == ["zs"]
    assert bundle["entry"][0]["fullUrl"] == "http://testserver/fhir/Patient/zs"
    assert bundle["link"][0]["relation"] == "self" and "name=zhangsan" in bundle["link"][0]["url"]
    assert _ids(
        client.get(
            "/fhir/Patient", params={"identifier": "urn:oid:2.16.156.10011.1.3|110105194405010014"}
        ).json()
    ) == ["zs"]
    assert _ids(client.get("/fhir/Patient", params={"birthdate": "lt1950"}).json()) == ["zs"]


def test_post_search_form_encoded(client: TestClient) -> None:
    _seed(client)
    r = client.post(
        "/fhir/Patient/_search",
        content="gender=female",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and _ids(r.json()) == ["ls"]


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_post_search_at_every_level(client: TestClient) -> None:
    """POST [base]/_search, [type]/_search and [compartment]/[type]/_search: the body's
    parameters join the URL's; the self link shows them; other bodies are 415."""
    _seed(client)
    system = client.post(
        "/fhir/_search", content="_type=Patient,Observation&_id=zs,w1", headers=FORM
    )
    assert system.status_code == 200, system.text
    assert sorted(_ids(system.json())) == ["w1", "zs"]
    assert "_type=Patient%2CObservation" in system.json()["link"][0]["url"]
    typed = client.post(
        "/fhir/Observation/_search?subject=Patient/zs", content="value-quantity=gt133", headers=FORM
    )
    assert sorted(_ids(typed.json())) == ["bp4"]
    compartment = client.post(
        "/fhir/Patient/zs/Observation/_search", content="date=ge2026-04", headers=FORM
    )
    assert compartment.status_code == 200, compartment.text
    assert sorted(_ids(compartment.json())) == ["bp3", "bp4"]
    link = compartment.json()["link"][0]["url"]
    assert (
        link.startswith("http://testserver/fhir/Patient/zs/Observation?")
        and "date=ge2026-04" in link
    )
    assert (
        client.post("/fhir/Patient/ls/Observation/_search", content="", headers=FORM).json()[
            "entry"
        ][0]["resource"]["id"]
        == "w1"
    )
    wrong = client.post("/fhir/_search", json={"resourceType": "Parameters"})
    assert wrong.status_code == 415
    assert client.get("/fhir/_search").status_code == 405


def test_paging_with_next_links_and_total(client: TestClient) -> None:
    _seed(client)
    page = client.get(
        "/fhir/Observation",
        params={"subject": "Patient/zs", "_count": "2", "_sort": "date", "_total": "accurate"},
    ).json()
    assert page["total"] == 5
    seen = _ids(page)
    while nxt := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        page = client.get(nxt.replace("http://testserver", "")).json()
        seen += _ids(page)
    assert seen == ["bp0", "bp1", "bp2", "bp3", "bp4"]


def test_include_revinclude_and_summary_count(client: TestClient) -> None:
    _seed(client)
    bundle = client.get(
        "/fhir/Observation", params={"_id": "w1", "_include": "Observation:subject"}
    ).json()
    assert _ids(bundle) == ["w1"] and _ids(bundle, "include") == ["ls"]
    rev = client.get(
        "/fhir/Patient", params={"_id": "zs", "_revinclude": "Observation:subject"}
    ).json()
    assert sorted(_ids(rev, "include")) == ["bp0", "bp1", "bp2", "bp3", "bp4"]
    count = client.get("/fhir/Observation", params={"_summary": "count"}).json()
    assert count["total"] == 6 and "entry" not in count
    # more matches than a page: still the count of all, and no next page to follow
    paged = client.get("/fhir/Observation", params={"_summary": "count", "_count": "2"}).json()
    assert paged["total"] == 6 and "entry" not in paged
    assert [link["relation"] for link in paged["link"]] == ["self"]
    assert paged["link"][0]["url"].count("_summary=count") == 1


def test_system_search_and_compartment(client: TestClient) -> None:
    _seed(client)
    system = client.get("/fhir", params={"_type": "Patient,Observation", "_id": "zs,w1"}).json()
    assert sorted(_ids(system)) == ["w1", "zs"]
    compartment = client.get("/fhir/Patient/ls/Observation").json()
    assert _ids(compartment) == ["w1"]
    assert client.get("/fhir/Patient/ls/Unicorn").status_code == 404


def test_unknown_parameters_lenient_and_strict(client: TestClient) -> None:
    _seed(client)
    lenient = client.get("/fhir/Patient", params={"foo": "bar", "gender": "male"}).json()
    assert _ids(lenient) == ["zs"]
    assert any(e["search"]["mode"] == "outcome" for e in lenient["entry"])
    assert "foo" not in lenient["link"][0]["url"]
    strict = client.get(
        "/fhir/Patient", params={"foo": "bar"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400
    assert "foo" in strict.text


def test_deleted_resources_never_match(client: TestClient) -> None:
    _seed(client)
    client.delete("/fhir/Patient/ls")
    assert _ids(client.get("/fhir/Patient", params={"gender": "female"}).json()) == []


def test_capability_statement_lists_search(client: TestClient) -> None:
    cs = client.get("/fhir/metadata").json()
    patient = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Patient")
    names = {p["name"] for p in patient["searchParam"]}
    assert {"name", "identifier", "birthdate", "gender", "age", "key-population"} <= names
    assert all(p["documentation"] for p in patient["searchParam"])
    assert "Patient:general-practitioner" in patient["searchInclude"]
    assert "Observation:subject" in patient["searchRevInclude"]
    location = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Location")
    assert {"near": "special"}.items() <= {
        p["name"]: p["type"] for p in location["searchParam"]
    }.items()
    codes = {i["code"] for i in patient["interaction"]}
    assert {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history-instance",
        "history-type",
        "create",
        "search-type",
    } <= codes
    assert {i["code"] for i in cs["rest"][0]["interaction"]} >= {
        "transaction",
        "batch",
        "search-system",
        "history-system",
    }


def test_explain_is_for_administrators(database_url: str) -> None:
    """`_explain=true` under SMART: an administrator gets the plan (a Parameters), anyone else
    a 403 naming `_explain`; without it the same search returns results."""
    from tests.support.access_world import make_world

    for world in make_world(database_url):
        query = {"_explain": "true", "status": "final"}
        admin = world.client.get("/fhir/Observation", params=query, headers=world.admin())
        assert admin.status_code == 200, admin.text
        assert admin.json()["resourceType"] == "Parameters" and admin.json()["parameter"]
        doctor = world.client.get("/fhir/Observation", params=query, headers=world.doctor())
        assert doctor.status_code == 403
        assert doctor.json()["issue"][0]["expression"] == ["_explain"]
        plain = world.client.get(
            "/fhir/Observation", params={"status": "final"}, headers=world.doctor()
        )
        assert plain.status_code == 200 and plain.json()["resourceType"] == "Bundle"


def test_in_and_not_in_use_the_guides_terminology(client: TestClient) -> None:
    """`:in`/`:not-in` against a ValueSet of the guide that is not stored on the server: its
    ICD-10 categories take the national edition's codes below them (I10 → I10.x00)."""
    icd = "http://hl7.org/fhir/sid/icd-10"
    for cid, code in (("htn", "I10.x00"), ("dm", "E11.900"), ("hhd", "I11.9")):
        _put(
            client,
            {
                "resourceType": "Condition",
                "id": cid,
                "subject": {"reference": "Patient/zs"},
                "code": {"coding": [{"system": icd, "code": code}]},
            },
        )
    vs = "https://jiayi.health/fhir/ValueSet/icd-10-hypertension"
    inside = client.get("/fhir/Condition", params={"code:in": vs})
    assert inside.status_code == 200 and sorted(_ids(inside.json())) == ["hhd", "htn"]
    outside = client.get("/fhir/Condition", params={"code:not-in": vs})
    assert _ids(outside.json()) == ["dm"]
    unknown = client.get(
        "/fhir/Condition",
        params={"code:in": "https://nowhere.example/ValueSet/x"},
        headers={"Prefer": "handling=strict"},
    )
    assert unknown.status_code == 400


def test_contained_resources_over_http(client: TestClient) -> None:
    """`_contained=true` finds containers by what they contain; `_containedType=contained`
    returns the contained resource itself, its fullUrl the container's with `#local`."""
    _put(
        client,
        {
            "resourceType": "MedicationRequest",
            "id": "mr",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/zs"},
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "m",
                    "code": {"text": "硝苯地平", "coding": [{"system": "urn:x", "code": "nif"}]},
                }
            ],
            "medicationReference": {"reference": "#m"},
        },
    )
    assert _ids(client.get("/fhir/Medication", params={"code": "nif"}).json()) == []
    containers = client.get("/fhir/Medication", params={"code": "nif", "_contained": "true"})
    assert _ids(containers.json()) == ["mr"]
    inner = client.get(
        "/fhir/Medication",
        params={"code": "urn:x|nif", "_contained": "true", "_containedType": "contained"},
    ).json()
    (entry,) = inner["entry"]
    assert entry["resource"]["resourceType"] == "Medication" and entry["resource"]["id"] == "m"
    assert entry["fullUrl"] == "http://testserver/fhir/MedicationRequest/mr#m"
    assert "_containedType=contained" in inner["link"][0]["url"]
