"""Search, contained resources and the server registry's additions — on SQLite and PostgreSQL
with the same expected results.

- `_contained` (false | true | both) and `_containedType` (container | contained): contained
  resources are indexed with their container and replaced or removed with it
  (http://hl7.org/fhir/R4/search.html#contained).
- `near` is exact wherever it is used (chains, `_has`, an explicit `_sort`): a point inside the
  bounding box but outside the circle never matches (http://hl7.org/fhir/R4/location.html#positional).
- `:missing` on a composite parameter (http://hl7.org/fhir/R4/search.html#missing).
- `_total=estimate` (http://hl7.org/fhir/R4/search.html#total).
- The R4 errata the server fixes (`r4-search-parameter-errata.json`) and the computed Patient
  `age` (http://hl7.org/fhir/R4/patient.html, number prefixes of search.html#number).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.computed import standard_computed
from fhir_server.search.registry import (
    SearchRegistry,
    apply_errata,
    load_errata,
    r4_registry,
    server_registry,
)
from fhir_server.storage.ports import StoredResource
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.search import SearchResult
from tests.support.search_db import search
from tests.support.search_db import write as _write

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TODAY = date(2026, 1, 1)
CENTRE = (23.1291, 113.2644)  # Guangzhou


def _medication(mid: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {"coding": [{"system": RX, "code": code}]},
    }


def _request(rid: str, contained: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/old"},
        "contained": contained,
        "medicationReference": {"reference": f"#{contained[0]['id']}"} if contained else None,
    }


def _corner() -> tuple[float, float]:
    """A point inside the bounding box of a 10 km circle around CENTRE but ~12.7 km away."""
    dlat = 10 / 111.0 * 0.9
    dlon = 10 / (111.0 * math.cos(math.radians(CENTRE[0]))) * 0.9
    return CENTRE[0] + dlat, CENTRE[1] + dlon


def _location(lid: str, lat: float, lon: float, name: str) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": lid,
        "name": name,
        "position": {"latitude": lat, "longitude": lon},
    }


def _encounter(eid: str, location: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "location": [{"location": {"reference": f"Location/{location}"}}],
    }


RESOURCES: list[dict[str, Any]] = [
    _medication("m3", "111"),
    _request("mr1", [_medication("med1", "111")]),
    _request("mr2", [_medication("med1", "222")]),
    _location("in", CENTRE[0] + 0.02, CENTRE[1], "甲"),  # ~2.2 km north
    _location("corner", *_corner(), "乙"),
    _location("far", 22.5431, 114.0579, "丙"),  # Shenzhen
    _encounter("e-in", "in"),
    _encounter("e-corner", "corner"),
    {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 150, "system": UCUM, "code": "mm[Hg]"},
            }
        ],
    },
    {
        "resourceType": "Observation",
        "id": "plain",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
        "valueQuantity": {"value": 60, "system": UCUM, "code": "kg"},
    },
    {"resourceType": "DocumentReference", "id": "d0", "status": "superseded", "content": []},
    {
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "content": [],
        "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/d0"}}],
    },
    {"resourceType": "Patient", "id": "old", "birthDate": "1960-01-01"},  # 66 on TODAY
    {
        "resourceType": "Patient",
        "id": "young",
        "birthDate": "1961-01-02",
        "multipleBirthInteger": 2,
    },
    {"resourceType": "Patient", "id": "gone", "birthDate": "1950-06-01", "deceasedBoolean": True},
    {
        "resourceType": "Patient",
        "id": "single",
        "birthDate": "2020-06-01",
        "multipleBirthBoolean": False,
    },
]


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    """The server's registry (R4 with errata, the guide), `age` computed on a fixed day."""
    reg = server_registry()
    for param in standard_computed(lambda: TODAY):
        reg.add_computed(param)
    return reg


@pytest.fixture
def db(database_url: str, registry: SearchRegistry) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url, registry=registry, base_url="http://localhost/fhir")
    for res in RESOURCES:
        _write(database, res)
    yield database
    database.dispose()


def _ids(result: SearchResult) -> list[str]:
    return sorted(m.id for m in result.matches)


CASES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    # contained: not searched by default; containers, both, or the contained resources themselves
    ("Medication", [("code", f"{RX}|111")], ["m3"]),
    ("Medication", [("code", f"{RX}|111"), ("_contained", "false")], ["m3"]),
    ("Medication", [("code", f"{RX}|111"), ("_contained", "true")], ["mr1"]),
    ("Medication", [("code", "222"), ("_contained", "true")], ["mr2"]),
    ("Medication", [("_contained", "true")], ["mr1", "mr2"]),
    ("Medication", [("code", f"{RX}|111"), ("_contained", "both")], ["m3", "mr1"]),
    (
        "Medication",
        [("code", f"{RX}|111"), ("_contained", "true"), ("_containedType", "contained")],
        ["MedicationRequest/mr1#med1"],
    ),
    (
        "Medication",
        [("code", "111"), ("_contained", "both"), ("_containedType", "contained")],
        ["MedicationRequest/mr1#med1", "m3"],
    ),
    ("Medication", [("code", "333"), ("_contained", "true")], []),
    # near: exact inside chains and with an explicit _sort (the box corner is out)
    ("Location", [("near", f"{CENTRE[0]}|{CENTRE[1]}|10|km")], ["in"]),
    ("Location", [("near", f"{CENTRE[0]}|{CENTRE[1]}|10|km"), ("_sort", "name")], ["in"]),
    ("Location", [("near", f"{CENTRE[0]}|{CENTRE[1]}|13|km"), ("_sort", "name")], ["corner", "in"]),
    ("Encounter", [("location.near", f"{CENTRE[0]}|{CENTRE[1]}|10|km")], ["e-in"]),
    ("Encounter", [("location.near", f"{CENTRE[0]}|{CENTRE[1]}|13|km")], ["e-corner", "e-in"]),
    (
        "Location",
        [("_has:Encounter:location:_id", "e-corner,e-in"), ("near", "23.1291|113.2644|10|km")],
        ["in"],
    ),
    # :missing on a composite parameter
    ("Observation", [("component-code-value-quantity:missing", "false")], ["bp"]),
    ("Observation", [("component-code-value-quantity:missing", "true")], ["plain"]),
    ("Observation", [("code-value-quantity:missing", "false")], ["plain"]),
    # errata: DocumentReference relationship (relatesto$relation), Patient birthOrderBoolean
    ("DocumentReference", [("relationship", "DocumentReference/d0$replaces")], ["d1"]),
    ("DocumentReference", [("relationship", "DocumentReference/d0$transforms")], []),
    ("DocumentReference", [("relatesto", "DocumentReference/d0")], ["d1"]),
    ("Patient", [("birthOrderBoolean", "true")], ["young"]),
    ("Patient", [("birthOrderBoolean", "false")], ["single"]),
    # computed age (whole years on TODAY; the deceased never match)
    ("Patient", [("age", "66")], ["old"]),
    ("Patient", [("age", "65")], []),
    ("Patient", [("age", "64")], ["young"]),
    ("Patient", [("age", "ge65")], ["old"]),
    ("Patient", [("age", "gt64")], ["old"]),
    ("Patient", [("age", "lt65")], ["single", "young"]),
    ("Patient", [("age", "le5")], ["single"]),
    ("Patient", [("age", "ne66")], ["single", "young"]),
    ("Patient", [("age", "ap65")], ["old", "young"]),
    ("Patient", [("age", "64,66")], ["old", "young"]),
]


@pytest.mark.parametrize(
    ("rtype", "query", "expected"),
    CASES,
    ids=[f"{t}?{'&'.join(f'{k}={v}' for k, v in q)}" for t, q, _ in CASES],
)
def test_matches(
    db: SqlDatabase,
    registry: SearchRegistry,
    rtype: str,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    result = search(db, registry, rtype, [*query, ("_total", "accurate")], page_size=100)
    assert _ids(result) == expected
    assert result.total == len(expected)


def test_contained_matches_carry_their_container(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("code", "111"), ("_contained", "true"), ("_containedType", "contained")]
    result = search(db, registry, "Medication", query)
    (match,) = result.matches
    assert match.content is not None and match.content["id"] == "med1"
    assert match.content["code"]["coding"][0]["code"] == "111"
    assert result.full_urls == {(match.resource_type, match.id): "MedicationRequest/mr1#med1"}
    assert ("_contained", "true") in result.self_link_params


def test_contained_rows_follow_their_container(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("code", "111"), ("_contained", "true")]
    _write(db, _request("mr1", [_medication("med1", "222")]), version=2)
    assert _ids(search(db, registry, "Medication", query)) == []
    assert _ids(search(db, registry, "Medication", [("code", "222"), ("_contained", "true")])) == [
        "mr1",
        "mr2",
    ]
    _write(db, _request("mr1", []), version=3)
    assert _ids(search(db, registry, "Medication", [("_contained", "true")])) == ["mr2"]
    _write(db, _request("mr2", [_medication("med1", "222")]), version=2, deleted=True)
    assert _ids(search(db, registry, "Medication", [("_contained", "true")])) == []
    typed = [("_contained", "true"), ("_containedType", "contained")]
    assert _ids(search(db, registry, "Medication", typed)) == []
    with db.unit_of_work(write=False) as uow:
        from sqlalchemy import func, select

        from fhir_server.storage.sql.search_tables import search_contained, search_token

        assert (
            uow.connection.execute(select(func.count()).select_from(search_contained)).scalar_one()
            == 0
        )
        left = uow.connection.execute(
            select(func.count()).select_from(search_token).where(search_token.c.res_id.like("%#%"))
        ).scalar_one()
        assert left == 0


def test_near_paging_is_by_distance(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("near", f"{CENTRE[0]}|{CENTRE[1]}|200|km"), ("_count", "1"), ("_total", "accurate")]
    ids, cursor, totals = [], None, []
    for _ in range(5):
        extra = [("_cursor", cursor)] if cursor else []
        page = search(db, registry, "Location", [*query, *extra])
        ids += [m.id for m in page.matches]
        totals.append(page.total)
        cursor = page.next_cursor
        if not cursor:
            break
    assert ids == ["in", "corner", "far"] and totals == [3, 3, 3]


def test_total_estimate(db: SqlDatabase, registry: SearchRegistry) -> None:
    result = search(db, registry, "Patient", [("_total", "estimate")])
    assert isinstance(result.total, int) and result.total >= 0
    if db.dialect == "sqlite":  # no planner estimate: the exact count
        assert result.total == 4
    assert _ids(result) == ["gone", "old", "single", "young"]
    assert search(db, registry, "Patient", [("_total", "none")]).total is None


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("age", "65.5"),
        ("age", "-1"),
        ("age:missing", "true"),
        ("_contained", "maybe"),
        ("_containedType", "x"),
    ],
)
def test_malformed_is_a_400_when_strict_and_ignored_otherwise(
    db: SqlDatabase, registry: SearchRegistry, name: str, raw: str
) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", [(name, raw)], strict=True)
    assert err.value.status == 400 and err.value.issues[0].expression == (name,)
    lenient = search(db, registry, "Patient", [(name, raw)], page_size=100)
    assert _ids(lenient) == ["gone", "old", "single", "young"]
    assert (name, raw) not in lenient.self_link_params and lenient.issues


def test_errata_replace_only_what_they_name() -> None:
    errata = load_errata()
    assert {e["url"] for e in errata} >= {
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relationship",
        "http://hl7.org/fhir/SearchParameter/patient-extensions-Patient-birthOrderBoolean",
    }
    fixed = apply_errata(
        [{"url": "u", "code": "a", "expression": "X.a"}, {"url": "w", "code": "b"}],
        [{"url": "u", "note": "why", "expression": "X.b"}],
    )
    assert fixed == [{"url": "u", "code": "a", "expression": "X.b"}, {"url": "w", "code": "b"}]
    plain = r4_registry().get("DocumentReference", "relationship")
    assert plain is not None and [c.expression for c in plain.component] == ["target", "code"]


def test_bulk_written_containers_are_searchable(db: SqlDatabase, registry: SearchRegistry) -> None:
    """`write_new_many` (COPY on PostgreSQL) indexes contained resources like `write`."""
    when = datetime(2024, 1, 1, tzinfo=UTC)
    contents = [
        {k: v for k, v in _request(f"bulk{i}", [_medication("med", f"9{i}")]).items() if v}
        for i in range(2)
    ]
    records = [StoredResource(c["resourceType"], c["id"], 1, when, False, c) for c in contents]
    with db.unit_of_work() as uow:
        uow.resources.write_new_many(records, [None, None])
        uow.commit()
    found = search(db, registry, "Medication", [("code", "91"), ("_contained", "true")])
    assert _ids(found) == ["bulk1"]
    typed = [("code", "90,91"), ("_contained", "true"), ("_containedType", "contained")]
    assert sorted(search(db, registry, "Medication", typed).full_urls.values()) == [
        "MedicationRequest/bulk0#med",
        "MedicationRequest/bulk1#med",
    ]


def test_postgresql_plans_each_search_with_its_values(db: SqlDatabase) -> None:
    """A prepared search statement must not fall back to a generic plan blind to the values
    (a common code scanned every token row of the type that way)."""
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL plan cache only")
    with db.unit_of_work(write=False) as uow:
        mode = uow.connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one()
        stats = uow.connection.exec_driver_sql(
            "SELECT stxname FROM pg_statistic_ext ORDER BY stxname"
        ).scalars()
        names = set(stats)
    assert mode == "force_custom_plan"
    # correlated value columns: estimates that see a common code as common (migration 0012)
    assert {"st_search_reference_value", "st_search_token_value"} <= names


def test_a_write_plans_generically_and_a_search_after_it_custom(db: SqlDatabase) -> None:
    """A write's statement keeps one generic plan for its transaction (`dialects.generic_plans`:
    its inserts do not depend on the values); a search later in the same transaction goes back
    to custom plans, and the next transaction starts with custom plans again."""
    when = datetime(2024, 1, 1, tzinfo=UTC)

    def mode(uow: Any) -> str | None:
        if db.dialect != "postgresql":
            return None
        return str(uow.connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

    generic, custom = (
        ("force_generic_plan", "force_custom_plan") if db.dialect == "postgresql" else (None, None)
    )
    with db.unit_of_work() as uow:
        assert mode(uow) == custom
        for i in range(7):  # past psycopg's prepare threshold: the generic plan is cached
            body = {"resourceType": "Patient", "id": f"plan{i}", "gender": "male"}
            uow.resources.write(StoredResource("Patient", f"plan{i}", 1, when, False, body), 0)
        assert mode(uow) == generic
        found = uow.resources.search(["Patient"], [("gender", "male"), ("_count", "50")])
        assert {m.id for m in found.matches} >= {f"plan{i}" for i in range(7)}
        assert mode(uow) == custom
        uow.resources.write(
            StoredResource("Patient", "plan7", 1, when, False, {"resourceType": "Patient"}), 0
        )
        assert mode(uow) == generic
        uow.commit()
    with db.unit_of_work(write=False) as uow:
        assert mode(uow) == custom
        assert uow.resources.exists("Patient", "plan7")
