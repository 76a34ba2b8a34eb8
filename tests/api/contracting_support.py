"""Helpers of the contracting API tests (issue 6): an app with a frozen clock (2026-01-05) and the
guide seeded, providers, residents, and the calls of the workflow as standard FHIR requests.

Seeding the guide (452 definitions, each through the full write pipeline) costs seconds of CPU, so
it runs once per backend and test process; later tests get a byte-for-byte copy of that seeded
database (SQLite: the backup API; PostgreSQL: COPY of every table, sequences moved past the copied
ids), which is exactly the state `seed_definitions` leaves."""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from fhir_server.app import build_components, create_app
from fhir_server.conformance.seed import seed_definitions
from fhir_server.core.clock import FixedClock
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import BASE, make_settings

CS = "https://jiayi.health/fhir/CodeSystem/"
SD = "https://jiayi.health/fhir/StructureDefinition/"
PD = "https://jiayi.health/fhir/PlanDefinition/"
AD = "https://jiayi.health/fhir/ActivityDefinition/"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
TODAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


_SEEDED: dict[str, Any] = {}  # backend → SQLite template file or PostgreSQL table dumps


def _sqlite_path(database_url: str) -> str:
    return str(make_url(database_url).database)


def _copy_sqlite(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _pg_dump(database_url: str) -> list[tuple[str, bytes]]:
    engine = create_engine(database_url)
    try:
        names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
        out = []
        with engine.connect() as conn:
            cur = conn.connection.cursor()
            for name in names:
                with cur.copy(f'COPY "{name}" TO STDOUT') as copy:
                    data = b"".join(bytes(chunk) for chunk in copy)
                if data:
                    out.append((name, data))
        return out
    finally:
        engine.dispose()


def _pg_restore(database_url: str, dumps: list[tuple[str, bytes]]) -> None:
    """The dumped rows into the (empty) database, foreign keys unchecked while copying, then
    every serial/identity sequence moved past the largest copied value."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            cur = conn.connection.cursor()
            cur.execute("SET LOCAL session_replication_role = replica")
            for name, data in dumps:
                with cur.copy(f'COPY "{name}" FROM STDIN') as copy:
                    copy.write(data)
            cur.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() "
                "AND (column_default LIKE 'nextval%' OR is_identity = 'YES')"
            )
            for table, column in cur.fetchall():
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f'COALESCE((SELECT max("{column}") FROM "{table}"), 0) + 1, false)',
                    (f'"{table}"', column),
                )
    finally:
        engine.dispose()


def _seed_once(database_url: str, settings: Any) -> None:
    """The guide's definitions in the empty test database: seeded the first time per backend,
    copied from that first seeding afterwards."""
    backend = make_url(database_url).get_backend_name()
    cached = _SEEDED.get(backend)
    if cached is not None:
        if backend == "sqlite":
            _copy_sqlite(cached, _sqlite_path(database_url))
        else:
            _pg_restore(database_url, cached)
        return
    comps = build_components(settings)
    try:
        seed_definitions(FhirRepository(RequestContext(BASE, system_name="seed"), comps))
    finally:
        comps.database.dispose()
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="jiayi-seeded-")
        atexit.register(shutil.rmtree, folder, True)
        template = str(Path(folder) / "seeded.db")
        _copy_sqlite(_sqlite_path(database_url), template)
        _SEEDED[backend] = template
    else:
        _SEEDED[backend] = _pg_dump(database_url)


def make_api(database_url: str, at: datetime = TODAY) -> Iterator[TestClient]:
    settings = make_settings(database_url)
    _seed_once(database_url, settings)
    comps = dataclasses.replace(build_components(settings), clock=FixedClock(at))
    with TestClient(create_app(settings, components=comps)) as c:
        yield c


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    yield from make_api(database_url)


def put(c: TestClient, resource: dict[str, Any], status: tuple[int, ...] = (200, 201)) -> Any:
    r = c.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert r.status_code in status, r.text
    return r.json()


def get(c: TestClient, path: str, **params: Any) -> dict[str, Any]:
    r = c.get(f"/fhir/{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def ids(bundle: dict[str, Any], rtype: str | None = None) -> list[str]:
    return sorted(
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if rtype is None or e["resource"]["resourceType"] == rtype
    )


def provider(
    c: TestClient,
    suffix: str = "1",
    *,
    primary: bool = True,
    sinking_from: str | None = None,
    extra_roles: tuple[str, ...] = (),
) -> None:
    """An institution, a doctor with a role there, and a family-doctor team of that role."""
    kind = "primary" if primary else "hospital"
    put(
        c,
        {
            "resourceType": "Organization",
            "id": f"org{suffix}",
            "name": f"社区卫生服务中心{suffix}",
            "type": [{"coding": [{"system": CS + "institution-type", "code": kind}]}],
        },
    )
    put(
        c,
        {"resourceType": "Practitioner", "id": f"doc{suffix}", "name": [{"text": f"医生{suffix}"}]},
    )
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": f"role{suffix}",
        "active": True,
        "practitioner": {"reference": f"Practitioner/doc{suffix}"},
        "organization": {"reference": f"Organization/org{suffix}"},
    }
    if sinking_from:
        role["extension"] = [
            {"url": SD + "sinking-from", "valueReference": {"reference": sinking_from}}
        ]
    put(c, role)
    put(
        c,
        {
            "resourceType": "CareTeam",
            "id": f"team{suffix}",
            "status": "active",
            "category": [{"coding": [{"system": "http://loinc.org", "code": "LA28865-6"}]}],
            "managingOrganization": [{"reference": f"Organization/org{suffix}"}],
            "participant": [
                {"member": {"reference": f"PractitionerRole/{r}"}}
                for r in (f"role{suffix}", *extra_roles)
            ],
        },
    )


def condition(
    c: TestClient,
    pid: str,
    cid: str,
    code: str,
    *,
    clinical: str | None = "active",
    verification: str | None = None,
    **extra: Any,
) -> None:
    body: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": ICD10, "code": code}]},
        **extra,
    }
    if clinical:
        body["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    if verification:
        body["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": verification}]}
    put(c, body)


def patient(c: TestClient, pid: str, birth: str, gender: str = "female", *codes: str) -> None:
    put(c, {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender})
    for i, code in enumerate(codes):
        condition(c, pid, f"{pid}-c{i}", code)


def ref(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "valueReference": {"reference": value}}


def signing(
    c: TestClient, *params: dict[str, Any], status: int = 200, channel: str = "on-site"
) -> dict[str, Any]:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "consent", "valueBoolean": True},
            {"name": "channel", "valueCoding": {"system": CS + "signing-channel", "code": channel}},
            *params,
        ],
    }
    r = c.post("/fhir/Contract/$sign", json=body)
    assert r.status_code == status, r.text
    return r.json()


def operation(
    c: TestClient, path: str, *params: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    r = c.post(f"/fhir/{path}", json={"resourceType": "Parameters", "parameter": list(params)})
    assert r.status_code == status, r.text
    return r.json()


def by_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def activities(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """activity.detail by its first service-item code."""
    return {
        a["detail"]["code"]["coding"][0]["code"]: a["detail"]
        for a in plan.get("activity", [])
        if "detail" in a
    }


def events(plan: dict[str, Any], code: str) -> list[str]:
    return activities(plan)[code].get("scheduledTiming", {}).get("event", [])


def terms(contract: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Contract.term by funding-source code."""
    return {t["type"]["coding"][0]["code"]: t for t in contract.get("term", [])}


def items(term: dict[str, Any], member: str) -> dict[str, dict[str, Any]]:
    """The valuedItems of one member's asset, by the definition they charge."""
    [asset] = [a for a in term["asset"] if a["context"][0]["reference"]["reference"] == member]
    return {v["entityReference"]["reference"]: v for v in asset["valuedItem"]}


def totals(contract: dict[str, Any]) -> dict[str, float]:
    """The contract-level fee-standard totals by funding source."""
    out = {}
    for ext in contract.get("extension", []):
        if ext["url"] != SD + "fee-standard":
            continue
        parts = {p["url"]: p for p in ext["extension"]}
        source = parts["fundingSource"]["valueCodeableConcept"]["coding"][0]["code"]
        out[source] = parts["amount"]["valueMoney"]["value"]
    return out


def fulfilment(c: TestClient, path: str, on: str) -> tuple[float, dict[str, dict[str, int]]]:
    params = get(c, f"{path}/$fulfillment", date=on)["parameter"]
    acts = {
        p["part"][0]["valueCodeableConcept"]["coding"][0]["code"]: {
            q["name"]: q.get("valueInteger") for q in p["part"][1:]
        }
        for p in params
        if p["name"] == "activity"
    }
    return params[0]["valueDecimal"], acts


def encounter(c: TestClient, eid: str, pid: str, plan_id: str, day: str, code: str) -> None:
    put(
        c,
        {
            "resourceType": "Encounter",
            "id": eid,
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"},
            "basedOn": [{"reference": f"CarePlan/{plan_id}"}],
            "period": {"start": day},
            "type": [{"coding": [{"system": CS + "service-item", "code": code}]}],
        },
    )
