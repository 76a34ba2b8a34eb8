"""Issue 3 search shapes: an or-list (`a,b,c`) of same-shape values as one `IN`, and string
prefixes and chains as an ordered walk when their matches are common — each giving the same
results and pages as the per-value / semi-join forms, on SQLite and PostgreSQL.

Spec: http://hl7.org/fhir/R4/search.html (#combining OR values, #string, #token, #reference,
#uri, #chaining), http://hl7.org/fhir/R4/http.html#paging.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from fhir_server.search.paging import Cursor
from fhir_server.search.params import Clause, parse_search
from fhir_server.search.registry import SearchRegistry, server_registry
from fhir_server.storage.ports import StoredResource
from fhir_server.storage.sql import SqlDatabase, search_sql
from fhir_server.storage.sql import search as search_module
from fhir_server.storage.sql.search import plan_walks
from fhir_server.storage.sql.search_sql import clause_condition, in_key
from fhir_server.storage.sql.tables import resource
from tests.support.search_db import assert_ordered_walk, explain_at_scale, search

LOINC = "http://loinc.org"
S1, S2 = "http://ex.org/ids/s1", "http://ex.org/ids/s2"
BASE = "http://localhost/fhir"


def _patient(i: int) -> dict[str, Any]:
    name = (
        {"family": "Wang", "given": ["Fang"]} if i % 2 == 0 else {"family": "Li", "given": ["Na"]}
    )
    if i == 3:
        name = {"text": "王伟"}  # found by pinyin `wang`
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"p{i:02d}",
        "name": [name],
        "identifier": [{"system": S1 if i % 3 else S2, "value": f"id{i}"}],
        "managingOrganization": {"reference": "Organization/o1" if i < 8 else "Organization/o2"},
    }
    if i in (1, 4):
        res["meta"] = {"profile": ["http://ex.org/A" if i == 1 else "http://ex.org/B"]}
    return res


def _observation(i: int) -> dict[str, Any]:
    codes = [
        {"system": LOINC, "code": "8867-4"},
        {"system": LOINC, "code": "1234-5"},
        {"code": "local1"},  # no system
        {"system": "http://ex.org/other", "code": "8867-4"},
    ]
    subject = f"Patient/p{i % 12:02d}" if i != 15 else "http://other.org/fhir/Patient/x1"
    return {
        "resourceType": "Observation",
        "id": f"obs{i:02d}",
        "status": "final",
        "code": {"coding": [codes[i % 4]]},
        "subject": {"reference": subject},
    }


def _resources() -> list[dict[str, Any]]:
    return [
        {"resourceType": "Organization", "id": "o1", "name": "Sunshine Clinic"},
        {"resourceType": "Organization", "id": "o2", "name": "Harbour Hospital"},
        *(_patient(i) for i in range(12)),
        *(_observation(i) for i in range(16)),
    ]


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    return server_registry()


@pytest.fixture
def db(database_url: str, registry: SearchRegistry) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url, registry=registry, base_url=BASE)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with database.unit_of_work() as uow:
        for res in _resources():
            meta = {**res.get("meta", {}), "versionId": "1", "lastUpdated": when.isoformat()}
            content = {**res, "meta": meta}
            uow.resources.write(
                StoredResource(res["resourceType"], res["id"], 1, when, False, content),
                previous_version=0,
            )
        uow.commit()
    yield database
    database.dispose()


def pages(
    db: SqlDatabase, registry: SearchRegistry, rtype: str, query: list[tuple[str, str]], count: int
) -> list[list[str]]:
    """The ids of each page, following the next cursor."""
    out: list[list[str]] = []
    cursor: str | None = None
    for _ in range(40):
        extra = [("_cursor", cursor)] if cursor else []
        page = search(db, registry, rtype, [*query, ("_count", str(count)), *extra])
        out.append([m.id for m in page.matches])
        cursor = page.next_cursor
        if not cursor:
            break
    return out


MANY = ",".join([*(f"p{i:02d}" for i in range(0, 12, 2)), *(f"nobody{i}" for i in range(94))])
OR_LISTS: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    (
        "Observation",
        [("code", f"{LOINC}|8867-4,{LOINC}|1234-5")],
        ["obs00", "obs01", "obs04", "obs05", "obs08", "obs09", "obs12", "obs13"],
    ),
    (  # without systems: 8867-4 of any system
        "Observation",
        [("code", "8867-4,9999-9,local1")],
        [f"obs{i:02d}" for i in range(16) if i % 4 != 1],
    ),
    (  # mixed: no system, a system, any system, every code of a system
        "Observation",
        [("code", f"|local1,{LOINC}|8867-4,1234-5,http://ex.org/other|")],
        [f"obs{i:02d}" for i in range(16)],
    ),
    ("Observation", [("code", "|8867-4,|local1")], ["obs02", "obs06", "obs10", "obs14"]),
    (
        "Observation",
        [("code:not", f"{LOINC}|8867-4,|local1")],
        ["obs01", "obs03", "obs05", "obs07", "obs09", "obs11", "obs13", "obs15"],
    ),
    (  # typed, bare, absolute, repeated
        "Observation",
        [("subject", "Patient/p01,p02,http://other.org/fhir/Patient/x1,Patient/p01")],
        ["obs01", "obs02", "obs13", "obs14", "obs15"],
    ),
    ("Observation", [("subject:Patient", "p01,p02")], ["obs01", "obs02", "obs13", "obs14"]),
    (
        "Observation",
        [("patient", MANY)],
        ["obs00", "obs02", "obs04", "obs06", "obs08", "obs10", "obs12", "obs14"],
    ),
    ("Patient", [("identifier", f"{S1}|id1,{S2}|id3,id4,{S2}|id1")], ["p01", "p03", "p04"]),
    ("Patient", [("identifier", f"{S2}|,|id5")], ["p00", "p03", "p06", "p09"]),
    ("Patient", [("_profile", "http://ex.org/A,http://ex.org/B,http://ex.org/C")], ["p01", "p04"]),
    (
        "Organization",
        [("name:exact", "Sunshine Clinic,harbour hospital,Harbour Hospital")],
        ["o1", "o2"],
    ),
    ("Organization", [("name:exact", "sunshine clinic")], []),
    (
        "Patient",
        [("organization", "Organization/o2,o9"), ("identifier", "id8,id9")],
        ["p08", "p09"],
    ),
]


@pytest.mark.parametrize(("rtype", "query", "expected"), OR_LISTS)
def test_or_list_in_equals_one_condition_per_value(
    db: SqlDatabase,
    registry: SearchRegistry,
    monkeypatch: pytest.MonkeyPatch,
    rtype: str,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    grouped = pages(db, registry, rtype, query, count=3)
    monkeypatch.setattr(search_sql, "in_key", lambda *_: None)  # one condition per value
    per_value = pages(db, registry, rtype, query, count=3)
    assert grouped == per_value
    assert [i for page in grouped for i in page] == expected


IN_KEYS: list[tuple[str, str, tuple[Any, ...] | None]] = [
    ("code", "http://s|a", ("code", "system", "http://s", "a")),
    ("code", "a", ("code", "system", None, "a")),
    ("code", "|a", ("code", "no-system", "a")),
    ("code", "http://s|", None),  # every code of a system: its own condition
    ("code:text", "pressure", None),
    ("subject", "Patient/p1", ("target_id", "Patient", "p1")),
    ("subject", "p1", ("target_id", None, "p1")),
    ("subject", "http://other.org/fhir/Patient/x", ("url", "http://other.org/fhir/Patient/x")),
]


@pytest.mark.parametrize(("name", "raw", "expected"), IN_KEYS)
def test_in_key_shapes(
    registry: SearchRegistry, name: str, raw: str, expected: tuple[Any, ...] | None
) -> None:
    request = parse_search(registry, ["Observation"], [(name, raw)], base_url=BASE)
    (clause,) = request.clauses
    assert isinstance(clause, Clause)
    (val,) = clause.values
    assert in_key(clause.param.type, clause.modifier, val) == expected


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_hundred_references_are_one_in(registry: SearchRegistry, dialect: Any) -> None:
    ids = ",".join(f"Patient/p{i}" for i in range(100))
    request = parse_search(registry, ["Observation"], [("patient", ids)], base_url=BASE)
    (clause,) = request.clauses
    assert isinstance(clause, Clause)
    sql = str(
        clause_condition(clause, resource.c.res_type, resource.c.res_id).compile(dialect=dialect)
    )
    assert sql.count("target_id IN") == 1 and "target_id =" not in sql


WALKS: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    ("Patient", [("name", "wang")], ["p00", "p02", "p03", "p04", "p06", "p08", "p10"]),
    ("Patient", [("name", "li"), ("organization", "o2")], ["p09", "p11"]),
    (
        "Observation",
        [("subject:Patient.organization.name", "harbour")],
        ["obs08", "obs09", "obs10", "obs11"],
    ),
    (
        "Observation",
        [("subject:Patient.name", "wang"), ("code", f"{LOINC}|8867-4")],
        ["obs00", "obs04", "obs08", "obs12"],
    ),
    ("Observation", [("subject:Patient.organization.name", "nowhere")], []),
]


@pytest.mark.parametrize(("rtype", "query", "expected"), WALKS)
def test_walk_and_semi_join_give_the_same_pages(
    db: SqlDatabase,
    registry: SearchRegistry,
    monkeypatch: pytest.MonkeyPatch,
    rtype: str,
    query: list[tuple[str, str]],
    expected: list[str],
) -> None:
    monkeypatch.setattr(search_module, "CLAUSE_WALK_SHARE", 0.0)  # always walk
    walked = pages(db, registry, rtype, query, count=2)
    monkeypatch.setattr(search_module, "CLAUSE_WALK_SHARE", 2.0)  # never walk
    joined = pages(db, registry, rtype, query, count=2)
    assert walked == joined
    assert [i for page in walked for i in page] == expected


def test_walk_only_when_common_and_in_key_order(db: SqlDatabase, registry: SearchRegistry) -> None:
    def walked(rtype: str, query: list[tuple[str, str]], share: float) -> list[bool]:
        request = parse_search(registry, [rtype], query, base_url=BASE)
        with db.unit_of_work(write=False) as uow:
            out = plan_walks(uow.connection, request, window=10, clause_share=share, least=0)[0]
        return [c.walk for c in out.clauses if isinstance(c, Clause)]

    # the first 10 Patients: 6 named wang (p00 p02 p03 p04 p06 p08)
    assert walked("Patient", [("name", "wang"), ("gender", "female")], 0.6) == [True, False]
    assert walked("Patient", [("name", "wang"), ("gender", "female")], 0.7) == [False, False]
    assert walked("Patient", [("name", "wang"), ("_sort", "birthdate")], 0.0) == [False]
    assert walked("Patient", [("name:contains", "wang")], 0.0) == [False]
    # the first 10 Observations: 2 of Harbour Hospital's patients (obs08, obs09)
    chain = [("subject:Patient.organization.name", "harbour")]
    assert walked("Observation", chain, 0.2) == [True]
    assert walked("Observation", chain, 0.3) == [False]


@pytest.mark.parametrize(
    ("rtype", "query"),
    [
        ("Patient", [("name", "wang")]),
        ("Observation", [("subject:Patient.organization.name", "harbour")]),
    ],
)
def test_walk_plan_is_ordered_without_sorting_every_match(
    db: SqlDatabase,
    registry: SearchRegistry,
    monkeypatch: pytest.MonkeyPatch,
    rtype: str,
    query: list[tuple[str, str]],
) -> None:
    monkeypatch.setattr(search_module, "CLAUSE_WALK_SHARE", 0.0)
    plan = explain_at_scale(db, registry, rtype, query)
    assert_ordered_walk(db.dialect, plan)


# -- a chain whose matches cluster in key order: a bounded walk first ------------------------------
HARBOUR = [("subject:Patient.organization.name", "harbour")]  # obs08 … obs11 (p08 … p11)


def _walked(db: SqlDatabase, registry: SearchRegistry, query: list[tuple[str, str]]) -> Any:
    request = parse_search(registry, ["Observation"], query, base_url=BASE)
    with db.unit_of_work(write=False) as uow:
        return plan_walks(uow.connection, request, clause_share=0.0)[0]


@pytest.mark.parametrize(
    ("after", "limit", "candidates", "expected"),
    [
        (None, 3, 10, None),  # obs00 … obs09 hold two matches, and candidates follow
        (None, 3, 12, ["obs08", "obs09", "obs10"]),  # obs00 … obs11: a full page
        (None, 5, 100, ["obs08", "obs09", "obs10", "obs11"]),  # the run holds every candidate
        ("obs08", 3, 3, ["obs09", "obs10", "obs11"]),  # after the cursor: obs09 … obs11
        ("obs08", 3, 2, None),
    ],
)
def test_bounded_walk_finds_a_full_page_or_gives_up(
    db: SqlDatabase,
    registry: SearchRegistry,
    after: str | None,
    limit: int,
    candidates: int,
    expected: list[str] | None,
) -> None:
    request = _walked(db, registry, HARBOUR)
    assert [c.walk for c in request.clauses] == [True]
    cursor = Cursor(("Observation", after), "") if after else None
    with db.unit_of_work(write=False) as uow:
        rows = search_module.bounded_walk_page(
            uow.connection, db.dialect, request, cursor, limit, candidates
        )
    assert (None if rows is None else [r._mapping["res_id"] for r in rows]) == expected


def test_common_leaf_but_rare_probe_is_tried_as_a_bounded_walk(
    db: SqlDatabase, registry: SearchRegistry
) -> None:
    request = parse_search(registry, ["Observation"], HARBOUR, base_url=BASE)
    with db.unit_of_work(write=False) as uow:
        # the first 5 Observations have no Harbour patient; one leaf row (the Organization)
        planned, tentative = search_module.plan_walks(
            uow.connection, request, window=5, clause_share=0.2, least=1
        )
        assert [c.walk for c in planned.clauses] == [False]
        assert tentative is not None and [c.walk for c in tentative.clauses] == [True]
        # fewer leaf rows than `least`: the semi-join, nothing to try
        _, none = search_module.plan_walks(
            uow.connection, request, window=5, clause_share=0.2, least=2
        )
        assert none is None
        # a name prefix is never tried (its probe is not clustered by a fan-out)
        names = parse_search(registry, ["Patient"], [("name", "zzz")], base_url=BASE)
        _, plain = search_module.plan_walks(
            uow.connection, names, window=5, clause_share=0.2, least=0
        )
        assert plain is None


@pytest.mark.parametrize("bound", [7, 12])
def test_bounded_walk_pages_equal_the_semi_join(
    db: SqlDatabase, registry: SearchRegistry, monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    monkeypatch.setattr(search_module, "CLAUSE_WALK_SHARE", 2.0)  # never walked outright
    joined = pages(db, registry, "Observation", HARBOUR, count=2)
    used: list[bool] = []
    real = search_module.bounded_walk_page

    def spy(*args: Any, **kw: Any) -> Any:
        rows = real(*args, **kw)
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(search_module, "bounded_walk_page", spy)
    monkeypatch.setattr(search_module, "CLAUSE_PROBE_WINDOW", 5)
    monkeypatch.setattr(search_module, "CHAIN_WALK_LEAST", 1)
    monkeypatch.setattr(search_module, "BOUNDED_WALK_CANDIDATES", bound)
    tried = pages(db, registry, "Observation", HARBOUR, count=2)
    assert tried == joined == [["obs08", "obs09"], ["obs10", "obs11"]]
    # 7 candidates (obs00-06) hold no match of the first page → the semi-join; after obs09 only
    # 6 candidates remain: the run holds them all. 12 candidates (obs00-11) hold the first page
    assert used == ([False, True] if bound == 7 else [True, True])


def test_explain_shows_the_bounded_walk_it_tries_first(
    db: SqlDatabase, registry: SearchRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "CLAUSE_PROBE_WINDOW", 5)
    monkeypatch.setattr(search_module, "CHAIN_WALK_LEAST", 1)
    monkeypatch.setattr(search_module, "BOUNDED_WALK_CANDIDATES", 7)
    text = "\n".join(explain_at_scale(db, registry, "Observation", HARBOUR))
    if db.dialect == "sqlite":  # candidates by the primary key, up to the edge
        assert "sqlite_autoindex_resource_1" in text and "CORRELATED" in text
        return
    assert "ROW(" in text and "'obs06'" in text  # the 7th candidate bounds the key scan
