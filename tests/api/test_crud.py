"""create, read, vread, update, update-as-create, delete (R4 http.html#create … #delete)."""

from __future__ import annotations

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient", "name": [{"family": "张", "given": ["三"]}], "gender": "male"}


def create(client: TestClient, body: dict = PATIENT) -> dict:
    r = client.post(f"/fhir/{body['resourceType']}", json=body, headers=FHIR)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_assigns_id_version_and_headers(client: TestClient) -> None:
    r = client.post("/fhir/Patient", json={**PATIENT, "id": "ignored"}, headers=FHIR)
    assert r.status_code == 201
    body = r.json()
    assert body["id"] != "ignored"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert r.headers["ETag"] == 'W/"1"'
    assert r.headers["Location"] == f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert body["name"] == PATIENT["name"]


def test_read_and_vread(client: TestClient) -> None:
    p = create(client)
    r = client.get(f"/fhir/Patient/{p['id']}")
    assert r.status_code == 200 and r.json() == p
    assert r.headers["ETag"] == 'W/"1"' and "Last-Modified" in r.headers
    upd = client.put(f"/fhir/Patient/{p['id']}", json={**p, "gender": "female"}, headers=FHIR)
    assert upd.status_code == 200 and upd.json()["meta"]["versionId"] == "2"
    v1 = client.get(f"/fhir/Patient/{p['id']}/_history/1")
    assert v1.status_code == 200 and v1.json()["gender"] == "male"
    assert client.get(f"/fhir/Patient/{p['id']}/_history/2").json()["gender"] == "female"
    assert client.get(f"/fhir/Patient/{p['id']}/_history/3").status_code == 404
    assert client.get(f"/fhir/Patient/{p['id']}/_history/x").status_code == 404


def test_server_owns_meta_version_and_last_updated(client: TestClient) -> None:
    p = create(
        client,
        {
            **PATIENT,
            "meta": {
                "versionId": "99",
                "lastUpdated": "2000-01-01T00:00:00Z",
                "tag": [{"code": "t"}],
            },
        },
    )
    assert p["meta"]["versionId"] == "1"
    assert p["meta"]["lastUpdated"] != "2000-01-01T00:00:00Z"
    assert p["meta"]["tag"] == [{"code": "t"}]


def test_update_as_create_with_client_id(client: TestClient) -> None:
    r = client.put("/fhir/Patient/my-id.1", json={**PATIENT, "id": "my-id.1"}, headers=FHIR)
    assert r.status_code == 201
    assert r.headers["Location"].endswith("/Patient/my-id.1/_history/1")
    assert client.get("/fhir/Patient/my-id.1").status_code == 200


def test_unknown_resource_is_404_and_bad_id_is_400(client: TestClient) -> None:
    r = client.get("/fhir/Patient/nope")
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient/" + "x" * 65).status_code == 400
    bad = client.put("/fhir/Patient/a_b", json={**PATIENT, "id": "a_b"}, headers=FHIR)
    assert bad.status_code == 400


def test_delete_then_gone_then_history_and_recreate(client: TestClient) -> None:
    p = create(client)
    r = client.delete(f"/fhir/Patient/{p['id']}")
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"2"'
    gone = client.get(f"/fhir/Patient/{p['id']}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert client.delete(f"/fhir/Patient/{p['id']}").status_code == 204
    assert client.get(f"/fhir/Patient/{p['id']}/_history/2").status_code == 410
    hist = client.get(f"/fhir/Patient/{p['id']}/_history").json()
    assert [e["request"]["method"] for e in hist["entry"]] == ["DELETE", "POST"]
    assert "resource" not in hist["entry"][0]
    again = client.put(f"/fhir/Patient/{p['id']}", json={**PATIENT, "id": p["id"]}, headers=FHIR)
    assert again.status_code == 201 and again.json()["meta"]["versionId"] == "3"
    assert client.delete("/fhir/Patient/never-was").status_code == 404


def test_prefer_return(client: TestClient) -> None:
    minimal = client.post(
        "/fhir/Patient", json=PATIENT, headers={**FHIR, "Prefer": "return=minimal"}
    )
    assert minimal.status_code == 201 and minimal.content == b"" and "Location" in minimal.headers
    oo = client.post(
        "/fhir/Patient", json=PATIENT, headers={**FHIR, "Prefer": "return=OperationOutcome"}
    )
    assert oo.status_code == 201 and oo.json()["resourceType"] == "OperationOutcome"
    rep = client.post(
        "/fhir/Patient", json=PATIENT, headers={**FHIR, "Prefer": "return=representation"}
    )
    assert rep.json()["resourceType"] == "Patient"


def test_pretty_and_format(client: TestClient) -> None:
    p = create(client)
    pretty = client.get(f"/fhir/Patient/{p['id']}?_pretty=true")
    assert b"\n  " in pretty.content
    assert client.get(f"/fhir/Patient/{p['id']}?_format=json").status_code == 200
    assert client.get(f"/fhir/Patient/{p['id']}?_format=application/fhir+json").status_code == 200
    assert client.get(f"/fhir/Patient/{p['id']}?_format=xml").status_code == 406


def test_summary_and_elements_on_read(client: TestClient) -> None:
    p = create(
        client,
        {
            **PATIENT,
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
            },
            "photo": [{"contentType": "image/png", "data": "AAAA"}],
        },
    )
    summary = client.get(f"/fhir/Patient/{p['id']}?_summary=true").json()
    assert "photo" not in summary and "name" in summary and "text" not in summary
    assert any(t.get("code") == "SUBSETTED" for t in summary["meta"]["tag"])
    data = client.get(f"/fhir/Patient/{p['id']}?_summary=data").json()
    assert "text" not in data and "photo" in data
    text = client.get(f"/fhir/Patient/{p['id']}?_summary=text").json()
    assert "text" in text and "name" not in text
    elements = client.get(f"/fhir/Patient/{p['id']}?_elements=gender").json()
    assert elements["gender"] == "male" and "name" not in elements and elements["id"] == p["id"]
    assert client.get(f"/fhir/Patient/{p['id']}?_summary=bogus").status_code == 400


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True


def test_request_id_echoed_or_generated(client: TestClient) -> None:
    r = client.get("/fhir/metadata", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    generated = client.get("/fhir/metadata").headers["X-Request-Id"]
    assert len(generated) >= 16
    assert client.get("/fhir/Patient/nope").headers.get("X-Request-Id")


def test_head_gives_headers_without_body(client: TestClient) -> None:
    p = create(client)
    head = client.head(f"/fhir/Patient/{p['id']}")
    get = client.get(f"/fhir/Patient/{p['id']}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"] == 'W/"1"'
    assert head.headers["Last-Modified"] == get.headers["Last-Modified"]
    assert head.headers["X-Request-Id"]
    missing = client.head("/fhir/Patient/nobody")
    assert missing.status_code == 404 and missing.content == b""
    assert client.head(f"/fhir/Patient/{p['id']}/_history/1").status_code == 200
    assert client.head("/fhir/Patient?_count=1").status_code == 200


def test_summary_false_is_the_whole_resource(client: TestClient) -> None:
    body = {
        **PATIENT,
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">张三</div>',
        },
        "photo": [{"contentType": "image/png", "data": "iVBORw0KGgo="}],
    }
    p = create(client, body)
    full = client.get(f"/fhir/Patient/{p['id']}?_summary=false").json()
    assert full == client.get(f"/fhir/Patient/{p['id']}").json() == p
    summary = client.get(f"/fhir/Patient/{p['id']}?_summary=true").json()
    assert "photo" not in summary and "text" not in summary and summary["name"] == p["name"]
