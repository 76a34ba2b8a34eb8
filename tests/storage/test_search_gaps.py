"""Search gaps of issue 3: `_has` as an ordered walk over common sources, `_total=accurate`
carried in the cursor — on SQLite and PostgreSQL with the same expected results.

Spec: http://hl7.org/fhir/R4/search.html (#has, #total, #count), http://hl7.org/fhir/R4/http.html#paging.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.params import Clause, HasHop, parse_search
from fhir_server.search.registry import SearchRegistry, server_registry
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql import search as search_module
from fhir_server.storage.sql.search import SearchResult, plan_walks
from tests.support.search_db import assert_ordered_walk, explain_at_scale, search, write_all
from tests.support.search_db import write as _write

ICD = "http://hl7.org/fhir/sid/icd-10"
V3_CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CARE_TEAM = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"


def _resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(12):
        out.append({"resourceType": "Patient", "id": f"p{i:02d}", "gender": "female"})
    out[0] |= {
        "meta": {
            "tag": [{"system": "http://ex.org/tags", "code": "t1"}],
            "security": [{"system": V3_CONF, "code": "R"}],
            "profile": ["http://ex.org/StructureDefinition/resident"],
            "source": "http://ex.org/source#1",
        },
        "text": {"status": "generated", "div": "<div>王芳，高血压随访对象</div>"},
    }
    out.append(
        {
            "resourceType": "List",
            "id": "L1",
            "status": "current",
            "mode": "working",
            "entry": [
                {"item": {"reference": "Patient/p04"}},
                {"item": {"reference": "Condition/c02"}},
            ],
        }
    )
    # every third patient has hypertension (I10), p01 twice; p05 a deleted-only I10 elsewhere
    for i in range(0, 12, 3):
        out.append(_cond(f"c{i:02d}", f"p{i:02d}", "I10"))
    out.append(_cond("c01a", "p01", "I10"))
    out.append(_cond("c01b", "p01", "I10"))
    out.append(_cond("c02", "p02", "E11"))
    out += _contained_world()
    # contracts: p01 left team t1 and signed with t2; p03 with t2; p00 with t1
    out += [
        _contract("k1", "p00", "executed", "t1"),
        _contract("k2", "p01", "terminated", "t1"),
        _contract("k3", "p01", "executed", "t2"),
        _contract("k4", "p03", "executed", "t2"),
    ]
    return out


CENTRE = (23.1291, 113.2644)


def _loc(lid: str, north_km: float) -> dict[str, Any]:
    pos = {"latitude": CENTRE[0] + north_km / 111.2, "longitude": CENTRE[1]}
    return {"resourceType": "Location", "id": lid, "name": lid, "position": pos}


def _contained_world() -> list[dict[str, Any]]:
    """An Organization a contained Medication names; Encounters holding their own Locations."""
    med = {
        "resourceType": "Medication",
        "id": "med1",
        "code": {"coding": [{"system": "http://ex.org/rx", "code": "111"}]},
        "manufacturer": {"reference": "Organization/o1"},
    }
    return [
        {"resourceType": "Organization", "id": "o1", "name": "药厂"},
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/p05"},
            "contained": [med],
            "medicationReference": {"reference": "#med1"},
        },
        {
            **_enc("e1"),
            "contained": [_loc("la", 2.0)],
            "location": [{"location": {"reference": "#la"}}],
        },
        {
            **_enc("e2"),
            "contained": [_loc("lb", 1.0)],
            "location": [{"location": {"reference": "#lb"}}],
        },
        _loc("lmid", 1.5),
        _loc("lfar", 50.0),
    ]


def _enc(eid: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    }


def _contract(kid: str, patient: str, status: str, team: str) -> dict[str, Any]:
    return {
        "resourceType": "Contract",
        "id": kid,
        "status": status,
        "subject": [{"reference": f"Patient/{patient}"}],
        "extension": [{"url": CARE_TEAM, "valueReference": {"reference": f"CareTeam/{team}"}}],
    }


def _cond(cid: str, patient: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": ICD, "code": code}]},
    }


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    return server_registry()  # R4 and the guide's (Contract care-team)


@pytest.fixture
def db(database_url: str, registry: SearchRegistry) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url, registry=registry, base_url="http://localhost/fhir")
    write_all(database, _resources())
    yield database
    database.dispose()


def walk(
    db: SqlDatabase, registry: SearchRegistry, rtype: str, query: list[tuple[str, str]], count: int
) -> tuple[list[str], list[SearchResult]]:
    ids: list[str] = []
    pages: list[SearchResult] = []
    cursor: str | None = None
    for _ in range(20):
        extra = [("_cursor", cursor)] if cursor else []
        page = search(db, registry, rtype, [*query, ("_count", str(count)), *extra])
        pages.append(page)
        ids += [m.id for m in page.matches]
        cursor = page.next_cursor
        if not cursor:
            break
    return ids, pages


HAS = [
    ([("_has:Condition:subject:code", f"{ICD}|I10")], ["p00", "p01", "p03", "p06", "p09"]),
    ([("_has:Condition:subject:code", f"{ICD}|E11")], ["p02"]),
    ([("_has:Condition:subject:code", f"{ICD}|I10"), ("gender", "male")], []),
    (
        [("_has:Condition:subject:code", f"{ICD}|I10,{ICD}|E11")],
        ["p00", "p01", "p02", "p03", "p06", "p09"],
    ),
]


@pytest.mark.parametrize(("query", "expected"), HAS)
@pytest.mark.parametrize("share", [0.0, 2.0], ids=["walk", "semi-join"])
def test_has_pages_alike_walked_or_joined(
    db: SqlDatabase,
    registry: SearchRegistry,
    monkeypatch: pytest.MonkeyPatch,
    share: float,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    """Both compilations of `_has` give the same matches, in id order, each once, over pages."""
    monkeypatch.setattr(search_module, "HAS_WALK_SHARE", share)
    ids, _ = walk(db, registry, "Patient", query, count=2)
    assert ids == expected


def test_walk_only_for_common_sources(db: SqlDatabase, registry: SearchRegistry) -> None:
    request = parse_search(
        registry, ["Patient"], [("_has:Condition:subject:code", f"{ICD}|I10"), ("gender", "female")]
    )
    with db.unit_of_work(write=False) as uow:
        # 6 of the 7 Conditions are I10: common at a share of 0.8, not at 0.9 of the window
        common = plan_walks(uow.connection, request, window=7, share=0.8)[0]
        rare = plan_walks(uow.connection, request, window=7, share=0.9)[0]
    hops = [c.path[0] for c in common.clauses if isinstance(c, Clause) and c.path]
    assert hops and all(isinstance(h, HasHop) and h.walk for h in hops)
    assert rare is request
    assert not any(isinstance(c, Clause) and c.path and c.path[0].walk for c in request.clauses)


def test_walk_plan_is_ordered_without_sorting_every_match(
    db: SqlDatabase, registry: SearchRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "HAS_WALK_SHARE", 0.0)
    plan = explain_at_scale(
        db, registry, "Patient", [("_has:Condition:subject:code", f"{ICD}|I10")]
    )
    assert_ordered_walk(db.dialect, plan)


@pytest.mark.parametrize("total", ["accurate", "estimate"])
def test_total_is_carried_by_the_cursor(
    db: SqlDatabase, registry: SearchRegistry, total: str
) -> None:
    """Later pages report the first page's total (no recount): a resource written between the
    pages does not change it, while a fresh search counts it."""
    query = [("gender", "female"), ("_total", total), ("_count", "5")]
    first = search(db, registry, "Patient", query, cursor_secret=b"k")
    assert first.total is not None and first.next_cursor
    if total == "accurate" or db.dialect == "sqlite":
        assert first.total == 12
    _write(db, {"resourceType": "Patient", "id": "p99", "gender": "female"})
    second = search(
        db, registry, "Patient", [*query, ("_cursor", first.next_cursor)], cursor_secret=b"k"
    )
    assert second.total == first.total and second.next_cursor
    third = search(
        db, registry, "Patient", [*query, ("_cursor", second.next_cursor)], cursor_secret=b"k"
    )
    assert third.total == first.total
    if total == "accurate":
        assert search(db, registry, "Patient", query).total == 13


def test_total_none_on_a_later_page(db: SqlDatabase, registry: SearchRegistry) -> None:
    first = search(db, registry, "Patient", [("_total", "accurate"), ("_count", "5")])
    assert first.total == 12 and first.next_cursor
    later = search(
        db,
        registry,
        "Patient",
        [("_total", "none"), ("_count", "5"), ("_cursor", first.next_cursor)],
    )
    assert later.total is None


NAMED = [
    ([("care-team", "CareTeam/t1")], ["p00"]),  # not p01: their t1 contract ended
    ([("care-team", "CareTeam/t2")], ["p01", "p03"]),
    ([("care-team", "CareTeam/t1,CareTeam/t2")], ["p00", "p01", "p03"]),
    ([], ["p00", "p01", "p03"]),
    ([("status", "terminated"), ("care-team", "CareTeam/t1")], ["p01"]),
    ([("status", "terminated"), ("care-team", "CareTeam/t2")], []),
]


@pytest.mark.parametrize(("inputs", "expected"), NAMED)
def test_named_query_contracted_residents(
    db: SqlDatabase,
    registry: SearchRegistry,
    inputs: list[tuple[str, str]],
    expected: list[str],
) -> None:
    query = [("_query", "contracted-residents"), *inputs]
    ids, pages = walk(db, registry, "Patient", query, count=1)
    assert ids == expected
    assert pages[0].self_link_params[:1] == [("_query", "contracted-residents")]
    assert set(inputs) <= set(pages[0].self_link_params)


def test_two_has_parameters_are_not_one_contract(db: SqlDatabase, registry: SearchRegistry) -> None:
    """What the named query adds: `_has` twice lets two Contracts meet one term each."""
    query = [
        ("_has:Contract:patient:care-team", "CareTeam/t1"),
        ("_has:Contract:patient:status", "executed"),
    ]
    assert [m.id for m in search(db, registry, "Patient", query).matches] == ["p00", "p01"]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    ("rtype", "query", "expression"),
    [
        ("Patient", [("_query", "no-such-query")], "_query"),
        ("Observation", [("_query", "contracted-residents")], "_query"),
        ("Patient", [("_query", "contracted-residents"), ("_query", "x")], "_query"),
        ("Patient", [("_query", "")], "_query"),
        (
            "Patient",
            [("_query", "contracted-residents"), ("status", "a"), ("status", "b")],
            "status",
        ),
    ],
)
def test_named_query_errors_are_400_even_lenient(
    db: SqlDatabase,
    registry: SearchRegistry,
    strict: bool,
    rtype: str,
    query: list[tuple[str, str]],
    expression: str,
) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, rtype, query, strict=strict)
    assert err.value.status == 400
    assert err.value.issues[0].expression == (expression,)


def test_named_query_other_parameters_are_not_its(
    db: SqlDatabase, registry: SearchRegistry
) -> None:
    query = [("_query", "contracted-residents"), ("gender", "male"), ("_count", "10")]
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", query, strict=True)
    assert err.value.status == 400 and err.value.issues[0].expression == ("gender",)
    lenient = search(db, registry, "Patient", query)
    assert [m.id for m in lenient.matches] == ["p00", "p01", "p03"]
    assert ("gender", "male") not in lenient.self_link_params
    assert any(i.expression == ("gender",) for i in lenient.issues)


SYSTEM = [
    ([("_id", "p00,c02")], ["Condition/c02", "Patient/p00"]),
    ([("_lastUpdated", "ge2025-01-01")], []),
    ([("_lastUpdated", "eq2024-01-01"), ("_id", "p01")], ["Patient/p01"]),
    ([("_tag", "http://ex.org/tags|t1")], ["Patient/p00"]),
    ([("_tag", "t1")], ["Patient/p00"]),
    ([("_tag", "http://ex.org/tags|")], ["Patient/p00"]),
    ([("_tag:not", "t1"), ("_id", "p00,p01")], ["Patient/p01"]),
    ([("_tag:missing", "false")], ["Patient/p00"]),
    ([("_security", f"{V3_CONF}|R")], ["Patient/p00"]),
    ([("_security", "|R")], []),
    ([("_profile", "http://ex.org/StructureDefinition/resident")], ["Patient/p00"]),
    ([("_profile:below", "http://ex.org/StructureDefinition")], ["Patient/p00"]),
    ([("_source", "http://ex.org/source#1")], ["Patient/p00"]),
    ([("_source:below", "http://ex.org/")], ["Patient/p00"]),
    ([("_text", "高血压")], ["Patient/p00"]),
    ([("_content", "随访")], ["Patient/p00"]),
    ([("_list", "L1")], ["Condition/c02", "Patient/p04"]),
    ([("_has:Condition:subject:code", f"{ICD}|E11")], ["Patient/p02"]),
    ([("_filter", "_id eq p03 or _id eq c02")], ["Condition/c02", "Patient/p03"]),
]


@pytest.mark.parametrize(("query", "expected"), SYSTEM, ids=[str(q) for q, _ in SYSTEM])
def test_system_level_parameters(
    db: SqlDatabase, registry: SearchRegistry, query: list[tuple[str, str]], expected: list[str]
) -> None:
    """Each parameter `rest.searchParam` lists works on a search over every type."""
    result = search(db, registry, None, query, strict=True, page_size=100)
    assert sorted(f"{m.resource_type}/{m.id}" for m in result.matches) == expected
    assert not result.issues


def test_system_level_type_list(db: SqlDatabase, registry: SearchRegistry) -> None:
    result = search(db, registry, ["Contract", "List"], [("_id", "k1,L1,p00")], strict=True)
    assert sorted(f"{m.resource_type}/{m.id}" for m in result.matches) == ["Contract/k1", "List/L1"]


def test_every_listed_system_parameter_is_tested(registry: SearchRegistry) -> None:
    from fhir_server.search.capability import system_search_params

    listed = {e["name"] for e in system_search_params(registry)}
    tested = {name.split(":")[0] for q, _ in SYSTEM for name, _ in q} | {"_type"}
    assert listed == tested


CONTAINED = [("_contained", "true"), ("_containedType", "contained")]


def test_include_from_contained_matches(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("code", "http://ex.org/rx|111"), *CONTAINED, ("_include", "Medication:manufacturer")]
    result = search(db, registry, "Medication", query)
    assert [m.content["id"] for m in result.matches if m.content] == ["med1"]
    assert [f"{r.resource_type}/{r.id}" for r in result.includes] == ["Organization/o1"]


def test_revinclude_onto_contained_matches(db: SqlDatabase, registry: SearchRegistry) -> None:
    """The container pointing at its contained match (`#med1`) comes back as an include."""
    query = [
        ("code", "http://ex.org/rx|111"),
        *CONTAINED,
        ("_revinclude", "MedicationRequest:medication"),
    ]
    result = search(db, registry, "Medication", query)
    assert [f"{r.resource_type}/{r.id}" for r in result.includes] == ["MedicationRequest/mr1"]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("true", ["Encounter/e2#lb", "Encounter/e1#la"]),
        ("both", ["Encounter/e2#lb", "Location/lmid", "Encounter/e1#la"]),
    ],
)
def test_near_over_contained_is_distance_ordered(
    db: SqlDatabase, registry: SearchRegistry, mode: str, expected: list[str]
) -> None:
    query = [
        ("near", f"{CENTRE[0]}|{CENTRE[1]}|10|km"),
        ("_contained", mode),
        ("_containedType", "contained"),
    ]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        extra = [("_cursor", cursor)] if cursor else []
        page = search(db, registry, "Location", [*query, ("_count", "1"), *extra])
        for m in page.matches:
            seen.append(page.full_urls.get((m.resource_type, m.id), f"Location/{m.id}"))
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == expected
