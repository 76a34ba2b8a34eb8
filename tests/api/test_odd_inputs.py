"""Odd input over every interaction: the documented 4xx with an OperationOutcome, never a 5xx.

One table (method, URL, headers, body → status, and the `expression` the outcome must point at,
where there is an element to point at) run against a server holding `Patient/p1` in two versions,
on both databases.  After the run nothing but the table's own successful writes changed.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
PATCH = {"Content-Type": "application/json-patch+json"}
HUGE = "99999999999999999999999"  # more than a BIGINT holds
INT64_PLUS_ONE = str(2**63)


def _tx(*entries: dict[str, Any], kind: str = "transaction") -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)})


def _deep(levels: int) -> bytes:
    ext: dict[str, Any] = {"url": "http://example.org/x", "valueString": "v"}
    for _ in range(levels):
        ext = {"url": "http://example.org/x", "extension": [ext]}
    return orjson.dumps({"resourceType": "Patient", "extension": [ext]})


# (method, url, headers, body, status, expression or None)
CASES: list[tuple[str, str, dict[str, str], bytes | None, int, str | None]] = [
    # vread / history: versions and cursors beyond a BIGINT, odd numbers, odd instants
    ("GET", f"/fhir/Patient/p1/_history/{HUGE}", {}, None, 404, None),
    ("GET", f"/fhir/Patient/p1/_history/{INT64_PLUS_ONE}", {}, None, 404, None),
    ("GET", "/fhir/Patient/p1/_history/0", {}, None, 404, None),
    ("GET", "/fhir/Patient/p1/_history/-1", {}, None, 404, None),
    ("GET", "/fhir/Patient/p1/_history/1.5", {}, None, 404, None),
    ("GET", f"/fhir/_history?_page={HUGE}", {}, None, 400, "_page"),
    ("GET", f"/fhir/Patient/_history?_page={INT64_PLUS_ONE}", {}, None, 400, "_page"),
    ("GET", "/fhir/Patient/p1/_history?_page=-5", {}, None, 400, "_page"),
    ("GET", f"/fhir/Patient/p1/_history?_page={2**63 - 1}", {}, None, 200, None),
    ("GET", "/fhir/_history?_count=%C2%B2", {}, None, 400, "_count"),  # "²" is a digit to Python
    ("GET", f"/fhir/_history?_count={HUGE}", {}, None, 200, None),  # capped at the page maximum
    ("GET", "/fhir/_history?_since=0001-01-01T00:00:00%2B14:00", {}, None, 200, None),
    ("GET", "/fhir/_history?_since=9999-12-31T23:59:59-14:00", {}, None, 200, None),
    ("GET", "/fhir/_history?_at=9999-12-31", {}, None, 200, None),
    ("GET", "/fhir/_history?_at=0001", {}, None, 200, None),
    ("GET", "/fhir/_history?_since=2026-02-30", {}, None, 400, "_since"),
    ("GET", "/fhir/_history?_since=0000-01-01", {}, None, 400, "_since"),
    ("GET", "/fhir/_history?_since=2026-01-01T00:00:00%2B15:00", {}, None, 400, "_since"),
    ("GET", "/fhir/_history?_since=2026-01-01&_at=yesterday", {}, None, 400, "_at"),
    # conditional read headers
    (
        "GET",
        "/fhir/Patient/p1",
        {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00"},
        None,
        200,
        None,
    ),
    (
        "GET",
        "/fhir/Patient/p1",
        {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59"},
        None,
        304,
        None,
    ),
    (
        "GET",
        "/fhir/Patient/p1",
        {"If-Modified-Since": "Mon, 01 Jan 0001 00:00:00 +1400"},
        None,
        200,
        None,
    ),
    ("GET", "/fhir/Patient/p1", {"If-Modified-Since": "not a date"}, None, 200, None),
    ("GET", "/fhir/Patient/p1", {"If-None-Match": 'W/"x"'}, None, 200, None),
    # ids, types, paths, parameters
    ("GET", "/fhir/Patient/" + "x" * 65, {}, None, 400, "id"),
    ("GET", "/fhir/Patient/%C3%A4", {}, None, 400, "id"),
    ("DELETE", "/fhir/Patient/a%20b", {}, None, 400, "id"),
    ("GET", "/fhir/patient/p1", {}, None, 404, None),
    ("GET", "/fhir/Patient/p1?_summary=maybe", {}, None, 400, "_summary"),
    ("GET", "/fhir/Patient/p1?_format=xml", {}, None, 406, "_format"),
    ("GET", "/fhir/Patient/p1?_format=yaml", {}, None, 400, "_format"),
    ("GET", "/fhir/Patient/p1", {"Accept": "application/fhir+xml"}, None, 406, "Accept"),
    ("GET", "/fhir/Patient?name=a%00b", {}, None, 400, "name"),
    ("GET", "/fhir/_history?_since=%00", {}, None, 400, "_since"),
    ("GET", "/fhir/Patient/p1/_history/1/extra", {}, None, 404, None),
    ("PATCH", "/fhir/metadata", {}, None, 405, None),
    # writes: versions in If-Match, bodies that parse but cannot be stored
    (
        "PUT",
        "/fhir/Patient/p1",
        {**FHIR, "If-Match": f'W/"{HUGE}"'},
        b'{"resourceType":"Patient","id":"p1"}',
        412,
        None,
    ),
    (
        "PUT",
        "/fhir/Patient/p1",
        {**FHIR, "If-Match": 'W/""'},
        b'{"resourceType":"Patient","id":"p1"}',
        400,
        "If-Match",
    ),
    ("DELETE", "/fhir/Patient/p1", {"If-Match": 'W/"1"'}, None, 412, None),
    ("POST", "/fhir/Patient", FHIR, _deep(120), 400, None),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","name":[{"family":"a\\u0000b"}]}',
        400,
        "Patient.name[0].family",
    ),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","name":[{"family":"\\ud800"}]}',
        400,
        None,
    ),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","multipleBirthInteger":99999999999999999999999}',
        400,
        "Patient.multipleBirthInteger",
    ),
    (
        "POST",
        "/fhir/Patient",
        FHIR,
        b'{"resourceType":"Patient","multipleBirthInteger":1e400}',
        400,
        None,
    ),
    (
        "POST",
        "/fhir/Observation",
        FHIR,
        b'{"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":"2026-01-01T00:00:00+25:00"}',
        400,
        "Observation.issued",
    ),
    (
        "POST",
        "/fhir/Patient",
        {"Content-Type": ";;;"},
        b'{"resourceType":"Patient"}',
        415,
        "Content-Type",
    ),
    ("PUT", "/fhir/Patient/p1", FHIR, b"\xff\xfe", 400, None),
    # patch
    ("PATCH", "/fhir/Patient/p1", PATCH, b'[{"op":"nope","path":"/x"}]', 400, None),
    ("PATCH", "/fhir/Patient/p1", PATCH, b'{"op":"add"}', 400, None),
    ("PATCH", "/fhir/Patient/p1", PATCH, b'[{"op":"replace","path":"/id","value":5}]', 422, None),
    (
        "PATCH",
        "/fhir/Patient/p1",
        PATCH,
        b'[{"op":"move","from":"/nope","path":"/gender"}]',
        422,
        None,
    ),
    (
        "PATCH",
        "/fhir/Patient/p1",
        PATCH,
        b'[{"op":"add","path":"/birthDate","value":"1e5"}]',
        400,
        "Patient.birthDate",
    ),
    ("PATCH", "/fhir/Patient/nobody", PATCH, b"[]", 404, None),
    # Bundles
    (
        "POST",
        "/fhir",
        FHIR,
        _tx({"request": {"method": "GET", "url": f"Patient/p1/_history/{HUGE}"}}),
        404,
        "Bundle.entry[0]",
    ),
    (
        "POST",
        "/fhir",
        FHIR,
        _tx({"request": {"method": "GET", "url": "_history?_since=0001-01-01T00:00:00%2B14:00"}}),
        200,
        None,
    ),
    (
        "POST",
        "/fhir",
        FHIR,
        _tx(
            {
                "request": {"method": "POST", "url": "http://[::1"},
                "resource": {"resourceType": "Patient"},
            }
        ),
        400,
        "Bundle.entry[0].request.url",
    ),
    (
        "POST",
        "/fhir",
        FHIR,
        _tx(
            {
                "request": {"method": "PATCH", "url": "Patient/p1"},
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": 5,
                },
            }
        ),
        400,
        "Bundle.entry[0].resource.data",
    ),
    (
        "POST",
        "/fhir",
        FHIR,
        _tx(
            {
                "request": {"method": "PATCH", "url": "Patient/p1"},
                "resource": {"resourceType": "Binary", "data": "!!"},
            }
        ),
        400,
        "Bundle.entry[0].resource.data",
    ),
    ("POST", "/fhir", FHIR, _tx(1), 400, "Bundle.entry[0].request"),  # type: ignore[arg-type]
    (
        "POST",
        "/fhir",
        FHIR,
        _tx({"request": {"method": "TRACE", "url": "Patient"}}),
        400,
        "Bundle.entry[0].request",
    ),
    (
        "POST",
        "/fhir",
        FHIR,
        b'{"resourceType":"Bundle","type":"transaction","entry":{}}',
        400,
        "Bundle.entry",
    ),
    ("POST", "/fhir", FHIR, b'{"resourceType":"Bundle","type":"collection"}', 400, "Bundle.type"),
    ("POST", "/fhir", FHIR, b'{"resourceType":"Patient"}', 400, "Bundle"),
]


def _expressions(body: dict[str, Any]) -> list[str]:
    return [x for issue in body.get("issue", []) for x in issue.get("expression", [])]


def test_odd_inputs_get_4xx_outcomes_never_5xx(client: TestClient) -> None:
    client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"}, headers=FHIR)
    client.put(
        "/fhir/Patient/p1",
        json={"resourceType": "Patient", "id": "p1", "gender": "female"},
        headers=FHIR,
    )
    failures = []
    for method, url, headers, body, status, expression in CASES:
        r = client.request(method, url, headers=headers, content=body)
        where = f"{method} {url} {headers} {body[:80] if body else ''!r}"
        if r.status_code != status:
            failures.append(f"{where}: {r.status_code} (expected {status}) {r.text[:200]}")
            continue
        if status >= 400:
            outcome = r.json()
            if outcome.get("resourceType") != "OperationOutcome":
                failures.append(f"{where}: {status} without an OperationOutcome")
            elif expression and not any(x.startswith(expression) for x in _expressions(outcome)):
                failures.append(f"{where}: expression {_expressions(outcome)}, wanted {expression}")
        assert "x-request-id" in r.headers
    assert not failures, "\n".join(failures)
    # Only the table's one successful write path could have changed p1: none of it did.
    current = client.get("/fhir/Patient/p1").json()
    assert current["meta"]["versionId"] == "2" and current["gender"] == "female"
    assert client.get("/fhir/Patient/_history").json()["total"] == 2
