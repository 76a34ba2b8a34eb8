"""Search on SQLite and PostgreSQL: the same table of queries and expected ids on both.

Spec: http://hl7.org/fhir/R4/search.html — string (#string, :exact, :contains, Chinese/pinyin),
token (#token, :text, :not), date (#date, every prefix), number (#number), quantity (#quantity),
reference (#reference, :Type, :identifier, absolute), uri (#uri, :above, :below), :missing,
_id/_tag/_profile/_security/_lastUpdated, chaining (#chaining), _has (#has), _sort, _count with
keyset paging, _total, _include/_revinclude (+ :iterate); deleted and superseded versions never match.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.registry import SearchRegistry, r4_registry
from fhir_server.storage.sql import (
    SqlDatabase,
    search_tables,  # noqa: F401 (tables on the shared metadata)
)
from tests.support.search_db import search
from tests.support.search_db import write as _write

ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
KP = "https://jiayi.health/fhir/CodeSystem/key-population"
UCUM = "http://unitsofmeasure.org"

RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"tag": [{"system": KP, "code": "hypertension"}], "profile": ["http://x.org/prof"]},
        "identifier": [{"system": ID_SYSTEM, "value": "110101198005030014"}],
        "active": True,
        "name": [{"family": "张", "given": ["三"]}],
        "gender": "male",
        "birthDate": "1980-05-03",
        "telecom": [{"system": "phone", "value": "13800000000"}],
        "generalPractitioner": [{"reference": "Practitioner/dr1"}],
        "managingOrganization": {"reference": "http://other.org/fhir/Organization/ext1"},
    },
    {
        "resourceType": "Patient",
        "id": "p2",
        "meta": {"security": [{"system": "http://sec", "code": "R"}]},
        "name": [{"family": "Müller", "given": ["Hans"]}],
        "gender": "male",  # superseded by version 2 below
        "birthDate": "1990",
    },
    {
        "resourceType": "Patient",
        "id": "p3",
        "name": [{"family": "李", "given": ["伟"]}],
        "gender": "other",
        "address": [{"text": "Ｓｈｅｎｚｈｅｎ Road"}],
    },
    {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Smith"}]},
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": "Patient/p1"},
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "1234", "display": "Blood pressure"}]
        },
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "performer": [{"reference": "Practitioner/dr1"}],
        "effectiveDateTime": "2024-03-01T10:00:00+08:00",
        "valueQuantity": {"value": 5.4, "system": UCUM, "code": "mg", "unit": "mg"},
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "5678"}], "text": "Heart rate"},
        "subject": {"reference": "Patient/p2"},
        "performer": [{"identifier": {"system": "http://staff", "value": "S-9"}}],
        "effectivePeriod": {"start": "2024-01-01", "end": "2024-06-30"},
        "valueQuantity": {"value": 120, "system": UCUM, "code": "/min", "unit": "beats/min"},
    },
    {
        "resourceType": "Observation",
        "id": "o3",
        "status": "final",
        "code": {"text": "gone"},
        "subject": {"reference": "Patient/p1"},
    },
    {
        "resourceType": "RiskAssessment",
        "id": "ra1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "prediction": [{"probabilityDecimal": 0.3}],
    },
    {
        "resourceType": "ValueSet",
        "id": "vs1",
        "status": "active",
        "url": "http://example.org/fhir/ValueSet/abc",
    },
]

CASES: list[tuple[str | None, list[tuple[str, str]], list[str]]] = [
    # token
    ("Patient", [("gender", "male")], ["p1"]),
    ("Patient", [("gender", "male,female")], ["p1", "p2"]),
    ("Patient", [("gender:not", "male")], ["p2", "p3"]),
    ("Patient", [("identifier", f"{ID_SYSTEM}|110101198005030014")], ["p1"]),
    ("Patient", [("identifier", f"{ID_SYSTEM}|")], ["p1"]),
    ("Patient", [("identifier", "|110101198005030014")], []),
    ("Patient", [("identifier", "110101198005030014")], ["p1"]),
    ("Patient", [("telecom", "phone|13800000000")], ["p1"]),
    ("Patient", [("active", "true")], ["p1"]),
    ("Observation", [("code", "http://loinc.org|1234")], ["o1"]),
    ("Observation", [("code", "1234")], ["o1"]),
    ("Observation", [("code", "http://snomed.info/sct|1234")], []),
    ("Observation", [("code:text", "blood")], ["o1"]),
    ("Observation", [("code:text", "RATE")], ["o2"]),
    ("Observation", [("status", "final")], ["o1", "o2"]),
    ("Patient", [("_id", "p1,p3")], ["p1", "p3"]),
    ("Patient", [("_tag", f"{KP}|hypertension")], ["p1"]),
    ("Patient", [("_security", "http://sec|R")], ["p2"]),
    ("Patient", [("_profile", "http://x.org/prof")], ["p1"]),
    # string
    ("Patient", [("name", "zhang")], ["p1"]),
    ("Patient", [("name", "zs")], ["p1"]),
    ("Patient", [("name", "zhangsan")], ["p1"]),
    ("Patient", [("name", "zhang san")], ["p1"]),
    ("Patient", [("name", "Zhāng Sān")], ["p1"]),
    ("Patient", [("name", "张")], ["p1"]),
    ("Patient", [("name", "张三")], ["p1"]),
    ("Patient", [("name", "li")], ["p3"]),
    ("Patient", [("name", "muller")], ["p2"]),
    ("Patient", [("name", "MÜLLER")], ["p2"]),
    ("Patient", [("name", "ｈａｎｓ")], ["p2"]),
    ("Patient", [("name:exact", "Müller")], ["p2"]),
    ("Patient", [("name:exact", "muller")], []),
    ("Patient", [("name:contains", "ull")], ["p2"]),
    ("Patient", [("name", "ull")], []),
    ("Patient", [("family", "zh")], ["p1"]),
    ("Patient", [("address", "shenzhen")], ["p3"]),
    ("Patient", [("name", "zhang"), ("name", "hans")], []),
    # date
    ("Patient", [("birthdate", "1980")], ["p1"]),
    ("Patient", [("birthdate", "1980-05")], ["p1"]),
    ("Patient", [("birthdate", "1980-05-03")], ["p1"]),
    ("Patient", [("birthdate", "1980-05-03T00:00:00Z")], []),
    ("Patient", [("birthdate", "ne1980")], ["p2"]),
    ("Patient", [("birthdate", "lt1985")], ["p1"]),
    ("Patient", [("birthdate", "gt1985")], ["p2"]),
    ("Patient", [("birthdate", "ge1990")], ["p2"]),
    ("Patient", [("birthdate", "le1990")], ["p1", "p2"]),
    ("Patient", [("birthdate", "sa1980")], ["p2"]),
    ("Patient", [("birthdate", "eb1990")], ["p1"]),
    ("Patient", [("birthdate", "ap1980-05-03")], ["p1"]),
    ("Observation", [("date", "2024-03-01")], ["o1"]),
    ("Observation", [("date", "2024")], ["o1", "o2"]),
    ("Observation", [("date", "ge2024-06-01")], ["o2"]),
    ("Observation", [("date", "lt2024-02")], ["o2"]),
    ("Observation", [("date", "sa2024-02")], ["o1"]),
    ("Observation", [("date", "ge2024-01-01"), ("date", "le2024-12-31")], ["o1", "o2"]),
    ("Patient", [("_lastUpdated", "2024-01-01")], ["p1", "p3"]),
    ("Patient", [("_lastUpdated", "gt2024-01-01")], ["p2"]),
    # number
    ("RiskAssessment", [("probability", "0.3")], ["ra1"]),
    ("RiskAssessment", [("probability", "gt0.2")], ["ra1"]),
    ("RiskAssessment", [("probability", "lt0.2")], []),
    ("RiskAssessment", [("probability", "0.31")], []),
    ("RiskAssessment", [("probability", "ap0.32")], ["ra1"]),
    # quantity
    ("Observation", [("value-quantity", "5.4")], ["o1"]),
    ("Observation", [("value-quantity", f"5.4|{UCUM}|mg")], ["o1"]),
    ("Observation", [("value-quantity", "5.4||mg")], ["o1"]),
    ("Observation", [("value-quantity", f"5.4|{UCUM}|g")], []),
    ("Observation", [("value-quantity", "gt100")], ["o2"]),
    ("Observation", [("value-quantity", f"lt200|{UCUM}|/min")], ["o2"]),
    ("Observation", [("value-quantity", "120||beats/min")], ["o2"]),
    # reference
    ("Observation", [("subject", "Patient/p1")], ["o1"]),
    ("Observation", [("subject", "p1")], ["o1"]),
    ("Observation", [("subject:Patient", "p1")], ["o1"]),
    ("Observation", [("patient", "p2")], ["o2"]),
    ("Observation", [("subject", "Patient/p9")], []),
    ("Observation", [("subject", "http://localhost/fhir/Patient/p1")], ["o1"]),
    ("Observation", [("performer:identifier", "http://staff|S-9")], ["o2"]),
    ("Patient", [("organization", "http://other.org/fhir/Organization/ext1")], ["p1"]),
    ("Patient", [("general-practitioner", "Practitioner/dr1")], ["p1"]),
    # uri
    ("ValueSet", [("url", "http://example.org/fhir/ValueSet/abc")], ["vs1"]),
    ("ValueSet", [("url", "http://example.org")], []),
    ("ValueSet", [("url:below", "http://example.org/fhir")], ["vs1"]),
    ("ValueSet", [("url:above", "http://example.org/fhir/ValueSet/abc/v2")], ["vs1"]),
    # :missing
    ("Patient", [("birthdate:missing", "true")], ["p3"]),
    ("Patient", [("birthdate:missing", "false")], ["p1", "p2"]),
    ("Observation", [("value-quantity:missing", "true")], []),
    # chains and _has
    ("Observation", [("subject:Patient.name", "zhang")], ["o1"]),
    ("Observation", [("subject.name", "muller")], ["o2"]),
    ("Observation", [("encounter.subject:Patient.gender", "male")], ["o1"]),
    ("Patient", [("_has:Observation:subject:code", "5678")], ["p2"]),
    ("Practitioner", [("_has:Observation:performer:code", "1234")], ["dr1"]),
    ("Encounter", [("_has:Observation:encounter:subject:Patient.name", "zs")], ["e1"]),
    ("Patient", [("_has:Encounter:subject:_has:Observation:encounter:code", "1234")], ["p1"]),
    # system level (no type): common parameters only
    (None, [("_id", "p1,o1")], ["o1", "p1"]),
]


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    return r4_registry()


@pytest.fixture
def db(database_url: str, registry: SearchRegistry) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url, registry=registry, base_url="http://localhost/fhir")
    day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    for res in RESOURCES:
        _write(database, res, 1, day)
    _write(database, {**RESOURCES[1], "gender": "female"}, 2, datetime(2024, 2, 1, tzinfo=UTC))
    _write(database, RESOURCES[7], 2, day, deleted=True)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("rtype", "query", "expected"),
    CASES,
    ids=[f"{t}?{'&'.join(f'{k}={v}' for k, v in q)}" for t, q, _ in CASES],
)
def test_search_matches(
    db: SqlDatabase,
    registry: SearchRegistry,
    rtype: str | None,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    result = search(db, registry, rtype, query, page_size=100)
    assert sorted(m.id for m in result.matches) == expected
    assert all(not m.deleted and m.content for m in result.matches)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("_sort", "birthdate")], ["p1", "p2", "p3"]),
        ([("_sort", "-birthdate")], ["p2", "p1", "p3"]),
        ([("_sort", "family")], ["p3", "p2", "p1"]),  # li, muller, zhang (pinyin order)
        ([("_sort", "-_id")], ["p3", "p2", "p1"]),
        ([("_sort", "gender,-birthdate")], ["p2", "p1", "p3"]),
    ],
)
def test_sort(
    db: SqlDatabase, registry: SearchRegistry, query: list[tuple[str, str]], expected: list[str]
) -> None:
    assert [m.id for m in search(db, registry, "Patient", query).matches] == expected


def test_keyset_paging_survives_inserts(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("_sort", "family"), ("_count", "1"), ("_total", "accurate")]
    first = search(db, registry, "Patient", query)
    assert [m.id for m in first.matches] == ["p3"] and first.total == 3 and first.next_cursor
    _write(
        db,
        {"resourceType": "Patient", "id": "p0", "name": [{"family": "Adams"}]},
        1,
        datetime(2024, 3, 1, tzinfo=UTC),
    )
    second = search(db, registry, "Patient", [*query, ("_cursor", first.next_cursor)])
    third = search(db, registry, "Patient", [*query, ("_cursor", second.next_cursor or "")])
    assert [m.id for m in second.matches] == ["p2"]
    assert [m.id for m in third.matches] == ["p1"] and third.next_cursor is None
    with pytest.raises(FhirError):
        search(db, registry, "Patient", [("_sort", "name"), ("_cursor", first.next_cursor)])


def test_total_modes(db: SqlDatabase, registry: SearchRegistry) -> None:
    assert search(db, registry, "Patient", [("_total", "none")]).total is None
    assert search(db, registry, "Patient", [("_count", "1"), ("_total", "accurate")]).total == 3
    counted = search(db, registry, "Patient", [("_summary", "count")])
    assert counted.total == 3 and counted.matches == []


@pytest.mark.parametrize(
    ("rtype", "query", "expected"),
    [
        ("Observation", [("_id", "o1"), ("_include", "Observation:subject")], ["Patient/p1"]),
        (
            "Observation",
            [("_id", "o1"), ("_include", "Observation:performer:Practitioner")],
            ["Practitioner/dr1"],
        ),
        (
            "Observation",
            [("_id", "o1"), ("_include", "Observation:*")],
            ["Encounter/e1", "Patient/p1", "Practitioner/dr1"],
        ),
        ("Patient", [("_id", "p1"), ("_revinclude", "Observation:subject")], ["Observation/o1"]),
        (
            "Observation",
            [
                ("_id", "o1"),
                ("_include", "Observation:subject"),
                ("_include:iterate", "Patient:general-practitioner"),
            ],
            ["Patient/p1", "Practitioner/dr1"],
        ),
        (
            "Patient",
            [
                ("_id", "p1"),
                ("_revinclude", "RiskAssessment:subject"),
                ("_revinclude", "Encounter:subject"),
            ],
            ["Encounter/e1", "RiskAssessment/ra1"],
        ),
    ],
)
def test_includes(
    db: SqlDatabase,
    registry: SearchRegistry,
    rtype: str,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    result = search(db, registry, rtype, query)
    assert sorted(f"{r.resource_type}/{r.id}" for r in result.includes) == expected


def test_unknown_parameter_reported_or_refused(db: SqlDatabase, registry: SearchRegistry) -> None:
    lenient = search(db, registry, "Patient", [("gender", "male"), ("nonsense", "1")])
    assert [m.id for m in lenient.matches] == ["p1"]
    assert lenient.self_link_params == [("gender", "male")]
    assert lenient.issues and "nonsense" in lenient.issues[0].diagnostics
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", [("nonsense", "1")], strict=True)
    assert err.value.status == 400


def test_reindex_after_delete_leaves_no_rows(db: SqlDatabase) -> None:
    from sqlalchemy import func, select

    with db.unit_of_work(write=False) as uow:
        for table in search_tables.INDEX_TABLES.values():
            n = uow.connection.execute(
                select(func.count()).select_from(table).where(table.c.res_id == "o3")
            ).scalar_one()
            assert n == 0


@pytest.mark.parametrize(
    ("rtype", "compartment", "query", "expected"),
    [
        ("Observation", ("Patient", "p1"), [], ["o1"]),
        ("Observation", ("Patient", "p2"), [("code", "1234")], []),
        ("Encounter", ("Patient", "p1"), [], ["e1"]),
        ("Observation", ("Practitioner", "dr1"), [], ["o1"]),
    ],
)
def test_compartment_search(
    db: SqlDatabase,
    registry: SearchRegistry,
    rtype: str,
    compartment: tuple[str, str],
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    from fhir_server.search.registry import load_compartments

    codes = load_compartments()[compartment[0]][rtype]
    result = search(db, registry, rtype, query, compartment=(*compartment, codes))
    assert sorted(m.id for m in result.matches) == expected
