"""ETag / If-Match optimistic locking, If-None-Match and If-Modified-Since (R4 http.html#concurrency)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}


def _patient(client: TestClient) -> dict:
    return client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "active": True}, headers=FHIR
    ).json()


def test_if_match_success_and_412(client: TestClient) -> None:
    p = _patient(client)
    ok = client.put(
        f"/fhir/Patient/{p['id']}",
        json={**p, "active": False},
        headers={**FHIR, "If-Match": 'W/"1"'},
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"2"'
    stale = client.put(
        f"/fhir/Patient/{p['id']}",
        json={**p, "active": True},
        headers={**FHIR, "If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["code"] == "conflict"
    assert client.get(f"/fhir/Patient/{p['id']}").json()["active"] is False
    assert (
        client.put(
            "/fhir/Patient/new1",
            json={"resourceType": "Patient", "id": "new1"},
            headers={**FHIR, "If-Match": 'W/"1"'},
        ).status_code
        == 412
    )


def test_if_match_on_delete_and_patch(client: TestClient) -> None:
    p = _patient(client)
    patch = [{"op": "replace", "path": "/active", "value": False}]
    jp = {"Content-Type": "application/json-patch+json"}
    assert (
        client.patch(
            f"/fhir/Patient/{p['id']}", json=patch, headers={**jp, "If-Match": 'W/"9"'}
        ).status_code
        == 412
    )
    assert (
        client.patch(
            f"/fhir/Patient/{p['id']}", json=patch, headers={**jp, "If-Match": 'W/"1"'}
        ).status_code
        == 200
    )
    assert (
        client.delete(f"/fhir/Patient/{p['id']}", headers={"If-Match": 'W/"1"'}).status_code == 412
    )
    assert (
        client.delete(f"/fhir/Patient/{p['id']}", headers={"If-Match": 'W/"2"'}).status_code == 200
    )


def test_if_none_match_gives_304(client: TestClient) -> None:
    p = _patient(client)
    r = client.get(f"/fhir/Patient/{p['id']}", headers={"If-None-Match": 'W/"1"'})
    assert r.status_code == 304 and r.content == b""
    assert (
        client.get(f"/fhir/Patient/{p['id']}", headers={"If-None-Match": 'W/"2"'}).status_code
        == 200
    )


def test_if_modified_since(client: TestClient) -> None:
    p = _patient(client)
    r = client.get(f"/fhir/Patient/{p['id']}")
    last = parsedate_to_datetime(r.headers["Last-Modified"])
    later = format_datetime(last + timedelta(seconds=5), usegmt=True)
    earlier = format_datetime(last - timedelta(seconds=5), usegmt=True)
    assert (
        client.get(f"/fhir/Patient/{p['id']}", headers={"If-Modified-Since": later}).status_code
        == 304
    )
    assert (
        client.get(f"/fhir/Patient/{p['id']}", headers={"If-Modified-Since": earlier}).status_code
        == 200
    )
