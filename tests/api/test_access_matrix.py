"""The access matrix over HTTP (issue 5, gap 9), on both databases:

{patient, user, system} principals × {SMART v1, v2, v2 with query restrictions} scopes × roles
(resident, doctor, doctor in a patient context, institution admin, back-end service) ×
{read, vread, search, history at three levels, create, update, patch, delete, conditional
update/delete, batch, transaction, include, revinclude, chain, _has, _total, paging, compartment
search, operations} × Patient / Observation / Encounter.

For every response: no 500; no forbidden id as an entry, full URL, paging cursor or diagnostic;
`_total` equal to what paging actually delivers; foreign reads 404 (or 403 where the type is not
granted), never 200 or 410; and afterwards the foreign records are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.access_world import (
    DOCTOR,
    FOREIGN_IDS,
    RESIDENT,
    World,
    bundle_ids,
    ids_in_text,
    make_world,
)

SYSTOLIC = "http://loinc.org|8480-6"
ALL_IDS = FOREIGN_IDS | {"a", "oa", "oa2", "oa3", "ea", "mine-gone", "c1"}


@dataclass(frozen=True)
class Case:
    name: str
    scope: str
    principal: dict[str, Any]
    forbidden: frozenset[str]
    writes: bool = False  # may write its own Observations
    reaches_b: bool = False  # may legitimately see resident b (back-end services)


CASES = [
    Case("resident-v1", "patient/*.read patient/*.write", RESIDENT, frozenset(FOREIGN_IDS), True),
    Case("resident-v2", "patient/*.cruds", RESIDENT, frozenset(FOREIGN_IDS), True),
    Case("resident-v2-restricted", f"patient/Observation.rs?code={SYSTOLIC} patient/Patient.rs",
         RESIDENT, frozenset(FOREIGN_IDS | {"oa3", "ea"})),
    Case("doctor-v1", "user/*.read user/*.write", DOCTOR, frozenset(FOREIGN_IDS), True),
    Case("doctor-v2", "user/*.cruds", DOCTOR, frozenset(FOREIGN_IDS), True),
    Case("doctor-v2-restricted", f"user/Observation.rs?code={SYSTOLIC} user/Patient.rs", DOCTOR,
         frozenset(FOREIGN_IDS | {"oa3", "ea"})),
    Case("doctor-in-patient-context", "launch/patient patient/*.rs", {**DOCTOR, "patient": "a"},
         frozenset(FOREIGN_IDS)),
    Case("institution-admin", "user/*.rs",
         {"kind": "user", "role": "institution-admin", "fhir_user": "Practitioner/adm"},
         frozenset(FOREIGN_IDS)),
    Case("system-v1", "system/*.read", {"kind": "system", "subject": "svc", "client_id": "svc"},
         frozenset(), reaches_b=True),
    Case("system-v2", "system/Observation.rs system/Patient.rs system/Encounter.rs",
         {"kind": "system", "subject": "svc", "client_id": "svc"}, frozenset(), reaches_b=True),
    Case("system-v2-restricted", f"system/Observation.rs?code={SYSTOLIC}",
         {"kind": "system", "subject": "svc", "client_id": "svc"},
         frozenset({"oa3", "secret", "a", "b", "ea", "eb", "c1", "c-old"}), reaches_b=True),
]  # fmt: skip


@dataclass
class Probe:
    client: TestClient
    headers: dict[str, str]
    case: Case
    problems: list[str] = field(default_factory=list)

    def call(self, method: str, url: str, named: frozenset[str] = frozenset(), **kw: Any) -> Any:
        """One request; `named`: ids the request itself names (they may be echoed back)."""
        headers = {**self.headers, **kw.pop("headers", {})}
        r = self.client.request(method, url, headers=headers, **kw)
        where = f"{method} {url}"
        if r.status_code >= 500:
            self.problems.append(f"{where}: {r.status_code} {r.text[:200]}")
        body = r.json() if r.content and "json" in r.headers.get("content-type", "") else {}
        named = named | {part for part in url.split("?")[0].split("/") if part}
        leaked = ids_in_text(body, self.case.forbidden, named)
        if leaked:
            self.problems.append(f"{where}: shows {sorted(leaked)}")
        for header in ("location", "content-location"):
            if any(f"/{i}" in r.headers.get(header, "") for i in self.case.forbidden):
                self.problems.append(f"{where}: {header} names a forbidden resource")
        return r, body

    def hidden(self, method: str, url: str, rid: str, **kw: Any) -> None:
        """A request on forbidden `rid`: 404 (or 403 when the type is not granted), answered
        exactly as the same request on an id that never existed."""
        r, body = self.call(method, url, **kw)
        if r.status_code not in (403, 404):
            self.problems.append(f"{method} {url}: {r.status_code}, expected 404/403")
            return
        r2, body2 = self.call(method, url.replace(f"/{rid}", "/never-existed"), **kw)
        if (r.status_code, _issues(body, rid)) != (r2.status_code, _issues(body2, "never-existed")):
            self.problems.append(f"{method} {url}: answered unlike a missing resource")

    def same(self, url: str, name: str, hit: str, miss: str) -> None:
        """No oracle: a parameter that tests a forbidden resource answers the same whether the
        hidden value matches (`hit`) or not (`miss`)."""
        answers = []
        for value in (hit, miss):
            r, body = self.call("GET", url, params={name: value, "_total": "accurate"})
            answers.append((r.status_code, body.get("total"), bundle_ids(body)))
        if answers[0] != answers[1]:
            self.problems.append(f"GET {url}?{name}: {hit} → {answers[0]}, {miss} → {answers[1]}")

    def search(self, url: str, exact: bool = True, **params: str) -> None:
        """A search: no leak on any page, and `_total` equal to what the pages deliver (unless
        not `exact`: a search over every type also finds the AuditEvents that the audit writer
        adds, concurrently, about the caller's own requests while the test pages)."""
        query = {"_total": "accurate", "_count": "2", **params}
        r, body = self.call("GET", url, params=query)
        if r.status_code == 403:
            return
        if r.status_code != 200:
            self.problems.append(f"GET {url} {params}: {r.status_code} {r.text[:200]}")
            return
        total, seen, pages = body.get("total"), [], 0
        while True:
            seen += [
                e["resource"]["id"]
                for e in body.get("entry", [])
                if e.get("search", {}).get("mode") == "match"
            ]
            nxt = [link["url"] for link in body.get("link", []) if link["relation"] == "next"]
            pages += 1
            if not nxt or pages > 50:
                break
            _, body = self.call("GET", nxt[0].replace("http://testserver", ""))
        if exact and total is not None and total != len(seen):
            self.problems.append(f"GET {url} {params}: total {total} but {len(seen)} delivered")


def _issues(body: dict[str, Any], rid: str) -> list[tuple[str, str]]:
    return [
        (i.get("code", ""), str(i.get("diagnostics", "")).replace(rid, "ID"))
        for i in body.get("issue", [])
    ]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    for w in make_world(database_url):
        for resource in (
            {"resourceType": "Practitioner", "id": "adm"},
            {"resourceType": "PractitionerRole", "id": "r-adm",
             "practitioner": {"reference": "Practitioner/adm"},
             "organization": {"reference": "Organization/chc"}},
        ):  # fmt: skip
            w.repo.update(resource["resourceType"], resource["id"], resource)
        yield w


def _observation(subject: str, rid: str | None = None) -> dict[str, Any]:
    body = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": f"Patient/{subject}"},
    }
    return {**body, "id": rid} if rid else body


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matrix(world: World, case: Case) -> None:
    fields = {"subject": "u", "client_id": "app", **case.principal}
    p = Probe(world.client, world.headers(case.scope, **fields), case)
    foreign_obs = [] if case.reaches_b else ["ob", "ob2", "secret", "gone"]
    foreign_obs += [
        rid for rid in ("oa3", "secret") if rid in case.forbidden and rid not in foreign_obs
    ]

    # read, vread, instance history
    for rid in foreign_obs:
        p.hidden("GET", f"/fhir/Observation/{rid}", rid)
        p.hidden("GET", f"/fhir/Observation/{rid}/_history/1", rid)
        p.hidden("GET", f"/fhir/Observation/{rid}/_history", rid)
    if not case.reaches_b and "b" in case.forbidden:
        p.hidden("GET", "/fhir/Patient/b", "b")
        p.hidden("GET", "/fhir/Encounter/eb", "eb")
        p.hidden("GET", "/fhir/Patient/b/$key-populations", "b")
    # searches, totals and paging
    p.search("/fhir/Observation")
    p.search("/fhir/Patient")
    p.search("/fhir/Encounter")
    p.search("/fhir", _type="Observation,Patient")
    p.search("/fhir", exact=False, _count="25")  # pages past the audit trail of the test
    p.search("/fhir/Patient/b/Observation")
    p.search("/fhir/Observation", code=SYSTOLIC)
    # includes, chains, _has
    p.search("/fhir/Observation", _include="Observation:performer")
    p.search("/fhir/Observation", _include="Observation:subject")
    p.search("/fhir/Patient", _revinclude="Observation:focus")
    p.search("/fhir/Patient", _revinclude="Observation:subject")
    p.search("/fhir/Observation", **{"performer:Patient.birthdate": "1980-01-01"})
    p.search("/fhir/Observation", **{"subject:Patient.name": "林"})
    p.search("/fhir/Patient", **{"_has:Observation:focus:code": "75325-1"})
    p.search("/fhir/Patient", **{"_has:Encounter:subject:status": "finished"})
    if "b" in case.forbidden:  # hit or miss on b's data must look the same
        p.same("/fhir/Observation", "performer:Patient.birthdate", "1980-01-01", "1979-01-01")
        p.same("/fhir/Patient", "_has:Observation:focus:code", "75325-1", "00000-0")
        p.same("/fhir/Patient", "_has:Observation:performer:subject", "Patient/b", "Patient/x")
        p.same(
            "/fhir/Observation", "_sort", "subject:Patient.birthdate", "-subject:Patient.birthdate"
        )
    # history at type and system level
    for url in ("/fhir/Observation/_history", "/fhir/_history"):
        p.call("GET", url, params={"_count": "500"})
    # writes on foreign records: never succeed
    json_patch = {"Content-Type": "application/json-patch+json"}
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    if not case.reaches_b:
        p.hidden("PATCH", "/fhir/Observation/ob", "ob", json=patch, headers=json_patch)
        p.hidden("DELETE", "/fhir/Observation/ob3", "ob3")
        r, _ = p.call("PUT", "/fhir/Observation/ob", json=_observation("b", "ob"))
        if r.status_code < 400:
            p.problems.append(f"PUT Observation/ob: {r.status_code}")
        r, _ = p.call("POST", "/fhir/Observation", json=_observation("b"))
        if r.status_code < 400:
            p.problems.append(f"POST Observation for b: {r.status_code}")
        r, _ = p.call("PUT", "/fhir/Observation", params={"_id": "ob2"}, json=_observation("b"))
        if r.status_code < 400 and r.status_code != 201:
            p.problems.append(f"conditional PUT on ob2: {r.status_code}")
        p.call("DELETE", "/fhir/Observation", params={"_id": "ob2"})
        batch = {"resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": "Observation/ob"}},
            {"request": {"method": "GET", "url": "Patient/b"}},
            {"request": {"method": "DELETE", "url": "Observation/ob3"}},
            {"request": {"method": "POST", "url": "Observation"}, "resource": _observation("b")},
        ]}  # fmt: skip
        r, body = p.call("POST", "/fhir", json=batch, named=frozenset({"b", "ob", "ob3"}))
        statuses = [e["response"]["status"][:3] for e in body.get("entry", [])]
        if any(s.startswith("2") for s in statuses):
            p.problems.append(f"batch on foreign records: {statuses}")
        transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "PUT", "url": "Observation/ob"}, "resource": _observation("b", "ob")},
        ]}  # fmt: skip
        r, _ = p.call("POST", "/fhir", json=transaction, named=frozenset({"ob", "b"}))
        if r.status_code < 400:
            p.problems.append(f"transaction on a foreign record: {r.status_code}")
    # operations
    r, _ = p.call("POST", "/fhir/$reindex", json={"resourceType": "Parameters"})
    if r.status_code != 403:
        p.problems.append(f"$reindex: {r.status_code}")
    # the caller's own writes work where the scopes allow them, and only there
    own = world.repo.read("Observation", "oa2").content
    r, _ = p.call("PUT", "/fhir/Observation/oa2", json={**own, "status": "amended"})
    if case.writes and r.status_code != 200:
        p.problems.append(f"own update: {r.status_code} {r.text[:200]}")
    if not case.writes and r.status_code < 400:
        p.problems.append(f"update without a write scope: {r.status_code}")

    # nothing foreign changed
    for rid in ("ob", "ob2", "ob3"):
        stored = world.repo.current_or_none("Observation", rid)
        if stored is None or stored.deleted or stored.version_id != 1:
            p.problems.append(f"Observation/{rid} was changed: {stored}")
    assert not p.problems, "\n".join([case.name, *p.problems])


def test_the_world_is_what_the_matrix_assumes(world: World) -> None:
    """Guards the matrix against a silently empty world: the administrator sees everything."""
    admin = world.admin()
    every = world.client.get("/fhir/Observation", params={"_count": "100"}, headers=admin).json()
    assert bundle_ids(every) == ["oa", "oa2", "oa3", "ob", "ob2", "ob3", "secret"]
    assert world.client.get("/fhir/Observation/gone", headers=admin).status_code == 410
