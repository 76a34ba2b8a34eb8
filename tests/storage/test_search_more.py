"""Search, more: OR-alternatives (restrictions, compartments, computed parameters), token
`:in`/`:not-in`/`:above`/`:below`/`:of-type`, composite, `near`, `_text`/`_content`, `_list`,
`_filter`, chained `_sort`, `_explain` and index-ordered `_sort` paging — on SQLite and PostgreSQL
with the same expected results.

Spec: http://hl7.org/fhir/R4/search.html (#token modifiers, #composite, #special, #text, #list,
#sort), http://hl7.org/fhir/R4/search_filter.html, http://hl7.org/fhir/R4/location.html#positional.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.registry import ComputedParam, SearchParam, SearchRegistry, r4_registry
from fhir_server.storage.sql import SqlDatabase
from tests.support.search_db import search, write_all

ICD = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
KP = "https://jiayi.health/fhir/CodeSystem/key-population"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
HIER = "http://example.org/cs/hier"


def _cond(cid: str, patient: str, code: str, system: str = ICD) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": system, "code": code}]},
    }


def _bp(oid: str, patient: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": systolic, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": diastolic, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }


def _loc(lid: str, lat: float, lon: float) -> dict[str, Any]:
    return {"resourceType": "Location", "id": lid, "position": {"latitude": lat, "longitude": lon}}


RESOURCES: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "a",
        "birthDate": "1950-01-01",
        "name": [{"family": "王", "given": ["芳"]}],
        "text": {"status": "generated", "div": "<div>王芳，高血压随访对象</div>"},
        "identifier": [{"type": {"coding": [{"system": V2, "code": "MR"}]}, "value": "MR-1"}],
        "generalPractitioner": [{"reference": "Practitioner/d1"}],
    },
    {
        "resourceType": "Patient",
        "id": "b",
        "birthDate": "1985-06-01",
        "name": [{"family": "陈", "given": ["明"]}],
        "identifier": [{"type": {"coding": [{"system": V2, "code": "DL"}]}, "value": "MR-1"}],
        "generalPractitioner": [{"reference": "Practitioner/d2"}],
    },
    {
        "resourceType": "Patient",
        "id": "c",
        "birthDate": "2021-03-01",
        "name": [{"family": "Lee", "given": ["Amy"]}],
        "generalPractitioner": [{"reference": "Practitioner/d1"}],
    },
    {"resourceType": "Patient", "id": "d", "name": [{"family": "赵"}]},
    {"resourceType": "Practitioner", "id": "d1", "name": [{"family": "刘"}]},
    {"resourceType": "Practitioner", "id": "d2", "name": [{"family": "周"}]},
    _cond("c1", "a", "I10.x00"),
    _cond("c2", "b", "E11.9"),
    _cond("c3", "c", "I25"),
    _cond("c4", "d", "child", HIER),
    {
        "resourceType": "Flag",
        "id": "f1",
        "status": "active",
        "subject": {"reference": "Patient/d"},
        "code": {"coding": [{"system": KP, "code": "disabled"}]},
    },
    _bp("bp1", "a", 150, 95),
    _bp("bp2", "b", 118, 76),
    _loc("l1", 23.1291, 113.2644),  # Guangzhou
    _loc("l2", 23.1400, 113.3000),  # ~3.8 km away
    _loc("l3", 22.5431, 114.0579),  # Shenzhen, ~100 km
    {
        "resourceType": "List",
        "id": "list1",
        "status": "current",
        "mode": "working",
        "entry": [{"item": {"reference": "Patient/b"}}, {"item": {"reference": "Patient/d"}}],
    },
    {
        "resourceType": "CodeSystem",
        "id": "hier",
        "url": HIER,
        "status": "active",
        "content": "complete",
        "concept": [{"code": "root", "concept": [{"code": "mid", "concept": [{"code": "child"}]}]}],
    },
    {
        "resourceType": "ValueSet",
        "id": "htn",
        "url": "http://example.org/vs/htn",
        "status": "active",
        "compose": {
            "include": [
                {"system": ICD, "concept": [{"code": "I10.x00"}, {"code": "E11.9"}]},
                {"system": HIER, "filter": [{"property": "concept", "op": "is-a", "value": "mid"}]},
            ]
        },
    },
    {
        "resourceType": "Contract",
        "id": "k1",
        "status": "executed",
        "subject": [{"reference": "Patient/b"}],
    },
    {
        "resourceType": "Contract",
        "id": "k2",
        "status": "executed",
        "subject": [{"reference": "Patient/a"}],
    },
]


def _key_population(value: str, _modifier: str | None) -> list[list[tuple[str, str]]]:
    """Like the contracting engineer's rule: age, ICD-10 diagnoses, or an explicit Flag."""
    rules: dict[str, list[list[tuple[str, str]]]] = {
        "elderly-65": [[("birthdate", "le1960-12-31")]],
        "hypertension": [[("_has:Condition:subject:code:below", f"{ICD}|I10")]],
        "disabled": [[("_has:Flag:subject:code", f"{KP}|disabled")]],
    }
    return [*rules.get(value, []), [("_has:Flag:subject:code", f"{KP}|{value}")]]


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    reg = r4_registry()
    # R4 has no Flag?code; the guide ships one (a SearchParameter resource under profiles/)
    reg.add(
        SearchParam(
            code="code",
            type="token",
            base=("Flag",),
            expression="Flag.code",
            url="https://jiayi.health/fhir/SearchParameter/Flag-code",
        )
    )
    reg.add_computed(ComputedParam("key-population", ("Patient",), _key_population))
    return reg


@pytest.fixture
def db(database_url: str, registry: SearchRegistry) -> Iterator[SqlDatabase]:
    database = SqlDatabase(database_url, registry=registry, base_url="http://localhost/fhir")
    write_all(database, RESOURCES)
    yield database
    database.dispose()


CASES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    # computed parameter → OR-alternatives
    ("Patient", [("key-population", "hypertension")], ["a"]),
    ("Patient", [("key-population", "elderly-65")], ["a"]),
    ("Patient", [("key-population", "disabled")], ["d"]),
    ("Patient", [("key-population", "hypertension,disabled")], ["a", "d"]),
    ("Patient", [("key-population", "t2dm")], []),
    ("Contract", [("subject:Patient.key-population", "hypertension")], ["k2"]),
    # token :below / :above (ICD-10 prefix, stored CodeSystem hierarchy)
    ("Condition", [("code:below", f"{ICD}|I10")], ["c1"]),
    ("Condition", [("code:below", f"{ICD}|I")], ["c1", "c3"]),
    ("Condition", [("code:above", f"{ICD}|I25.101")], ["c3"]),
    ("Condition", [("code:below", f"{HIER}|root")], ["c4"]),
    ("Condition", [("code:below", f"{HIER}|child")], ["c4"]),
    ("Condition", [("code:above", f"{HIER}|child")], ["c4"]),
    ("Condition", [("code:above", f"{HIER}|root")], []),
    # :in / :not-in against a stored ValueSet (concept list + is-a filter)
    ("Condition", [("code:in", "http://example.org/vs/htn")], ["c1", "c2", "c4"]),
    ("Condition", [("code:not-in", "http://example.org/vs/htn")], ["c3"]),
    # :of-type
    ("Patient", [("identifier:of-type", f"{V2}|MR|MR-1")], ["a"]),
    ("Patient", [("identifier:of-type", f"{V2}|DL|MR-1")], ["b"]),
    # composite
    ("Observation", [("component-code-value-quantity", f"{LOINC}|8480-6$gt140")], ["bp1"]),
    ("Observation", [("component-code-value-quantity", f"{LOINC}|8462-4$gt90")], ["bp1"]),
    ("Observation", [("component-code-value-quantity", f"{LOINC}|8462-4$gt140")], []),
    ("Observation", [("component-code-value-quantity", f"8480-6$lt120|{UCUM}|mm[Hg]")], ["bp2"]),
    ("Observation", [("combo-code-value-quantity", f"{LOINC}|8462-4$76")], ["bp2"]),
    # near (within the radius only)
    ("Location", [("near", "23.1291|113.2644|5|km")], ["l1", "l2"]),
    ("Location", [("near", "23.1291|113.2644|1000|m")], ["l1"]),
    ("Location", [("near", "23.1291|113.2644|200")], ["l1", "l2", "l3"]),
    # _text / _content (Chinese substrings), _list
    ("Patient", [("_text", "高血压")], ["a"]),
    ("Patient", [("_content", "陈")], ["b"]),
    ("Patient", [("_content", "amy")], ["c"]),
    ("Patient", [("_list", "list1")], ["b", "d"]),
    # _filter
    ("Patient", [("_filter", "birthdate lt 1990-01-01")], ["a", "b"]),
    ("Patient", [("_filter", "birthdate lt 1990 and family eq 陈")], ["b"]),
    ("Patient", [("_filter", "family sw wang or family eq lee")], ["a", "c"]),
    ("Patient", [("_filter", "not(birthdate pr true)")], ["d"]),
    ("Patient", [("_filter", "family co e and (birthdate ge 2000 or birthdate le 1950)")], ["c"]),
    ("Patient", [("_filter", "general-practitioner.family eq 刘")], ["a", "c"]),
    ("Patient", [("_filter", 'family ew "ee"')], ["c"]),
    ("Patient", [("_filter", "birthdate po 1985")], ["b"]),
    ("Condition", [("_filter", f"code ss {ICD}|I10")], ["c1"]),
    (
        "Condition",
        [("_filter", "code in http://example.org/vs/htn and subject re Patient/b")],
        ["c2"],
    ),
    ("Condition", [("_filter", "code ni http://example.org/vs/htn")], ["c3"]),
    ("Condition", [("_filter", "code ne I25")], ["c1", "c2", "c4"]),
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
    assert (
        sorted(m.id for m in search(db, registry, rtype, query, page_size=100).matches) == expected
    )


RESTRICTED: list[tuple[list[tuple[str, str]], Any, Any, list[str]]] = [
    ([], [[("general-practitioner", "Practitioner/d1")]], None, ["a", "c"]),
    ([], [[("general-practitioner", "Practitioner/d1"), ("birthdate", "lt2000")]], None, ["a"]),
    ([], [[("general-practitioner", "Practitioner/d2")], [("_id", "d")]], None, ["b", "d"]),
    (
        [("birthdate", "lt2000")],
        [[("general-practitioner", "Practitioner/d2")], [("_id", "a")]],
        None,
        ["a", "b"],
    ),
    ([], [], None, []),
    ([], [[]], None, ["a", "b", "c", "d"]),
    ([], None, [("Patient", "a", ["link"]), ("Patient", "b", ["link"])], ["a", "b"]),
    ([], None, [], []),
    ([], [[("_id", "a,b,c")]], [("Patient", "b", []), ("Patient", "c", [])], ["b", "c"]),
]


@pytest.mark.parametrize(("query", "restrictions", "compartments", "expected"), RESTRICTED)
def test_restrictions_and_compartments(
    db: SqlDatabase,
    registry: SearchRegistry,
    query: list[tuple[str, str]],
    restrictions: Any,
    compartments: Any,
    expected: list[str],
) -> None:
    result = search(
        db,
        registry,
        "Patient",
        [*query, ("_total", "accurate"), ("_count", "1")],
        restrictions=restrictions,
        compartments=compartments,
    )
    assert result.total == len(expected)
    ids, cursor = [m.id for m in result.matches], result.next_cursor
    while cursor:  # paging stays inside the restriction
        page = search(
            db,
            registry,
            "Patient",
            [*query, ("_total", "accurate"), ("_count", "1"), ("_cursor", cursor)],
            restrictions=restrictions,
            compartments=compartments,
        )
        ids += [m.id for m in page.matches]
        cursor = page.next_cursor
    assert sorted(ids) == expected


def test_restrict_includes(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [
        ("_id", "a"),
        ("_revinclude", "Condition:subject"),
        ("_include:iterate", "Condition:subject"),
    ]
    only_a = [[("_id", "a")]]
    open_ = search(db, registry, "Patient", query, restrictions=only_a)
    assert sorted(r.id for r in open_.includes) == ["c1"]
    shut = search(db, registry, "Patient", [("_id", "c1")], restrictions=None)
    assert shut.matches == []
    # a Contract search including Patients: only the restricted Patient comes along
    query = [("_include", "Contract:subject")]
    r = search(db, registry, "Contract", query, restrictions=[[("_id", "k1,k2")]])
    assert sorted(i.id for i in r.includes) == ["a", "b"]


def test_restriction_terms_must_be_known(db: SqlDatabase, registry: SearchRegistry) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", [], restrictions=[[("nonsense", "1")]])
    assert err.value.status == 400


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("near", "23.1291|113.2644|200|km")], ["l1", "l2", "l3"]),
        ([("near", "22.5431|114.0579|200|km")], ["l3", "l2", "l1"]),
    ],
)
def test_near_orders_by_distance(
    db: SqlDatabase, registry: SearchRegistry, query: list[tuple[str, str]], expected: list[str]
) -> None:
    first = search(db, registry, "Location", [*query, ("_count", "2"), ("_total", "accurate")])
    assert first.total == 3 and first.next_cursor
    second = search(
        db, registry, "Location", [*query, ("_count", "2"), ("_cursor", first.next_cursor)]
    )
    assert [m.id for m in first.matches + second.matches] == expected


@pytest.mark.parametrize(
    ("rtype", "sort", "expected"),
    [
        ("Contract", "subject:Patient.birthdate", ["k2", "k1"]),
        ("Contract", "-subject:Patient.birthdate", ["k1", "k2"]),
        ("Patient", "birthdate", ["a", "b", "c", "d"]),
        ("Patient", "-birthdate", ["c", "b", "a", "d"]),
        # lowest form ascending (c(hen) < lee < w(ang) < z(hao)), highest descending (Han code points)
        ("Patient", "family", ["b", "c", "a", "d"]),
        ("Patient", "-family", ["b", "d", "a", "c"]),
    ],
)
def test_sort_walk(
    db: SqlDatabase, registry: SearchRegistry, rtype: str, sort: str, expected: list[str]
) -> None:
    """One match per page: the keyset walk gives the full order, missing values last."""
    ids: list[str] = []
    cursor = None
    for _ in range(10):
        extra: list[tuple[str, str]] = [("_cursor", cursor)] if cursor else []
        page = search(db, registry, rtype, [("_sort", sort), ("_count", "1"), *extra])
        ids += [m.id for m in page.matches]
        cursor = page.next_cursor
        if not cursor:
            break
    assert ids == expected


@pytest.mark.parametrize(
    "sort",
    ["performer.name", "subject:Patient.name:exact", "_has:Encounter:subject:date"],
)
def test_chained_sort_must_be_single_typed(
    db: SqlDatabase, registry: SearchRegistry, sort: str
) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, "Observation", [("_sort", sort)], strict=True)
    assert err.value.status == 400 and err.value.issues[0].expression == ("_sort",)
    lenient = search(db, registry, "Observation", [("_sort", sort)])
    assert lenient.request is not None and lenient.request.sort == []
    assert ("_sort", sort) not in lenient.self_link_params and lenient.issues


def test_explain(db: SqlDatabase, registry: SearchRegistry) -> None:
    query = [("birthdate", "lt2000"), ("_explain", "true")]
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", query)
    assert err.value.status == 403
    result = search(db, registry, "Patient", query, allow_explain=True)
    assert result.plan and result.matches == []
    assert any(
        ("search_date" in line) or ("ix_" in line) or ("Scan" in line) for line in result.plan
    )


@pytest.mark.parametrize(
    "expression",
    [
        "birthdate lt",
        "family xx 1",
        "(family eq a",
        "family eq a )",
        "birthdate co 1",
        "link[x eq 1].y eq 2",
    ],
)
def test_malformed_filter(db: SqlDatabase, registry: SearchRegistry, expression: str) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, "Patient", [("_filter", expression)], strict=True)
    assert err.value.status == 400 and err.value.issues[0].expression == ("_filter",)
    lenient = search(db, registry, "Patient", [("_filter", expression)], page_size=100)
    assert ("_filter", expression) not in lenient.self_link_params
    assert [i.severity for i in lenient.issues] == ["warning"]
    assert len(lenient.matches) == 4  # the filter is not applied


def test_unknown_valueset_is_a_bad_request(db: SqlDatabase, registry: SearchRegistry) -> None:
    with pytest.raises(FhirError) as err:
        search(db, registry, "Condition", [("code:in", "http://nowhere/vs")])
    assert err.value.status == 400
