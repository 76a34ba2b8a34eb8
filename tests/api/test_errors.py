"""Bad input: the documented status, a precise OperationOutcome, and nothing written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from tests.api.conftest import make_settings

FHIR = {"Content-Type": "application/fhir+json"}


def _count(client: TestClient) -> int:
    return client.get("/fhir/_history").json()["total"]


def _issue(r) -> dict:  # type: ignore[no-untyped-def]
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


CASES = [
    # (method, url, headers, raw body, status, issue code, expression)
    ("POST", "/fhir/Patient", FHIR, b"{not json", 400, "structure", None),
    ("POST", "/fhir/Patient", FHIR, b"[1,2]", 400, "structure", None),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Observation","status":"final","code":{"text":"x"}}',
        400,
        "invalid",
        "resourceType",
    ),
    ("POST", "/fhir/Patient", FHIR, b'{"name":[{"family":"x"}]}', 400, "structure", "resourceType"),
    (
        "POST",
        "/fhir/Patient",
        {"Content-Type": "text/plain"},
        b'{"resourceType":"Patient"}',
        415,
        "not-supported",
        "Content-Type",
    ),
    (
        "POST",
        "/fhir/Patient",
        {"Content-Type": "application/xml"},
        b"<Patient/>",
        415,
        "not-supported",
        "Content-Type",
    ),
    ("POST", "/fhir/Unicorn", FHIR, b'{"resourceType":"Unicorn"}', 404, "not-supported", None),
    (
        "PUT",
        "/fhir/Patient/a1",
        FHIR,
        b'{"resourceType":"Patient","id":"a2"}',
        400,
        "invalid",
        "id",
    ),
    ("PUT", "/fhir/Patient/a1", FHIR, b'{"resourceType":"Patient"}', 400, "invalid", "id"),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","foo":1}',
        400,
        "structure",
        "Patient.foo",
    ),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","birthDate":"1990-13-45"}',
        400,
        "structure",
        "Patient.birthDate",
    ),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","name":{"family":"x"}}',
        400,
        "structure",
        "Patient.name",
    ),
    (
        "POST",
        "/fhir/Observation",
        FHIR,
        b'{"resourceType":"Observation","code":{"text":"x"}}',
        422,
        "required",
        "Observation.status",
    ),
    ("DELETE", "/fhir/Patient", {}, b"", 400, "invalid", "criteria"),
    # an invalid search value: ignored with a warning by default, 400 under handling=strict
    (
        "GET",
        "/fhir/Patient?birthdate=notadate",
        {"Prefer": "handling=strict"},
        b"",
        400,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("method", "url", "headers", "body", "status", "code", "expression"), CASES
)
def test_bad_input(
    client: TestClient,
    method: str,
    url: str,
    headers: dict,
    body: bytes,
    status: int,
    code: str | None,
    expression: str | None,
) -> None:
    before = _count(client)
    r = client.request(method, url, content=body, headers=headers)
    assert r.status_code == status, r.text
    issue = _issue(r)
    if code:
        assert issue["code"] == code
    if expression:
        assert expression in issue.get("expression", []), issue
    assert _count(client) == before


def test_method_not_allowed(client: TestClient) -> None:
    r = client.post("/fhir/Patient/1", json={"resourceType": "Patient"}, headers=FHIR)
    assert r.status_code == 405
    assert _issue(r)["code"] == "not-supported"


def test_oversized_body_413_and_nothing_written(database_url: str) -> None:
    settings = make_settings(database_url, max_request_bytes=2048)
    with TestClient(create_app(settings, components=build_components(settings))) as client:
        big = {"resourceType": "Patient", "name": [{"text": "x" * 4096}]}
        r = client.post("/fhir/Patient", json=big, headers=FHIR)
        assert r.status_code == 413
        assert _issue(r)["code"] == "too-costly"
        assert _count(client) == 0
        assert (
            client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).status_code
            == 201
        )


def test_never_500_for_garbage(client: TestClient) -> None:
    for body in (b"", b"null", b"123", b'"str"', b'{"resourceType": 5}', b"\xff\xfe"):
        r = client.post("/fhir/Patient", content=body, headers=FHIR)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)


def test_unknown_path_404(client: TestClient) -> None:
    assert client.get("/fhir/Patient/1/_history/1/extra").status_code == 404


def test_oversized_chunked_body_413_and_nothing_written(database_url: str) -> None:
    settings = make_settings(database_url, max_request_bytes=2048)
    with TestClient(create_app(settings, components=build_components(settings))) as client:

        def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: the limit holds on the stream
            yield b'{"resourceType": "Patient", "name": [{"text": "'
            for _ in range(8):
                yield b"x" * 512
            yield b'"}]}'

        r = client.post("/fhir/Patient", content=chunks(), headers=FHIR)
        assert r.status_code == 413
        assert _issue(r)["code"] == "too-costly"
        assert _count(client) == 0
