"""Query string → SearchRequest IR (http://hl7.org/fhir/R4/search.html): modifiers, prefixes,
escaping, or/and lists, chains, _has, _include/_revinclude, _sort, _count, _total, unknown parameters."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search import values as v
from fhir_server.search.params import Clause, HasHop, Hop, Include, parse_search
from fhir_server.search.registry import SearchRegistry, server_registry


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    return server_registry()


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("gender", "male", (v.TokenValue(None, "male"),)),
        ("identifier", "sys|123", (v.TokenValue("sys", "123"),)),
        ("identifier", "|123", (v.TokenValue(None, "123", no_system=True),)),
        ("identifier", "sys|", (v.TokenValue("sys", None),)),
        ("identifier", r"a\|b|c\,d,e", (v.TokenValue("a|b", "c,d"), v.TokenValue(None, "e"))),
        ("name", "Zhāng", (v.TextValue(("zhang",), "Zhāng"),)),
        ("birthdate", "ge2020", (v.DateValue("ge", 1577836800000, 1609459199999),)),
        ("birthdate:missing", "true", (v.MissingValue(True),)),
        ("general-practitioner", "Practitioner/1", (v.ReferenceValue("Practitioner", "1", None),)),
        ("general-practitioner:Practitioner", "1", (v.ReferenceValue("Practitioner", "1", None),)),
        (
            "organization",
            "http://x.org/Organization/1",
            (v.ReferenceValue("Organization", None, "http://x.org/Organization/1"),),
        ),
    ],
)
def test_values(
    registry: SearchRegistry, name: str, raw: str, expected: tuple[v.SearchValue, ...]
) -> None:
    request = parse_search(registry, ["Patient"], [(name, raw)])
    assert request.clauses[0].values == expected


@pytest.mark.parametrize(
    ("raw", "prefix", "low", "high"),
    [("100", "eq", 99.5, 100.5), ("gt1.50", "gt", 1.495, 1.505), ("1e2", "eq", 50.0, 150.0)],
)
def test_number_precision(raw: str, prefix: str, low: float, high: float) -> None:
    value = v.parse_number(raw)
    assert (value.prefix, value.low, value.high) == (
        prefix,
        pytest.approx(low),
        pytest.approx(high),
    )


def test_quantity() -> None:
    q = v.parse_quantity("le5.4|http://unitsofmeasure.org|mg")
    assert (q.number.prefix, q.number.value, q.system, q.code) == (
        "le",
        5.4,
        "http://unitsofmeasure.org",
        "mg",
    )
    assert v.parse_quantity("5.4||mg").system is None


def test_chains_and_has(registry: SearchRegistry) -> None:
    request = parse_search(
        registry,
        ["Observation"],
        [
            ("subject:Patient.organization.name", "x"),
            ("_has:Provenance:target:agent", "Practitioner/1"),
        ],
    )
    chain, has = request.clauses
    assert chain.path == (Hop("subject", ("Patient",)), Hop("organization", ("Organization",)))
    assert chain.param.code == "name" and chain.target_types == ("Organization",)
    assert has.path == (HasHop("Provenance", "target"),) and has.param.code == "agent"


def test_chain_without_type_keeps_the_targets_that_have_the_parameter(
    registry: SearchRegistry,
) -> None:
    (clause,) = parse_search(registry, ["Observation"], [("subject.name", "x")]).clauses
    assert set(clause.path[0].types) == {"Patient", "Location"}  # type: ignore[union-attr]


def test_result_parameters(registry: SearchRegistry) -> None:
    request = parse_search(
        registry,
        ["Observation"],
        [
            ("_sort", "-date,_id"),
            ("_count", "5000"),
            ("_total", "accurate"),
            ("_include", "Observation:subject:Patient"),
            ("_revinclude:iterate", "Provenance:target"),
            ("_summary", "count"),
            ("_elements", "code,subject"),
        ],
    )
    assert [(k.code, k.descending) for k in request.sort] == [("date", True), ("_id", False)]
    assert request.count == 1000 and request.total == "accurate" and request.summary == "count"
    assert request.includes == [Include("Observation", "subject", "Patient")]
    assert request.revincludes == [Include("Provenance", "target", None, iterate=True)]
    assert request.elements == ["code", "subject"]


def test_unknown_parameters_are_reported_or_refused(registry: SearchRegistry) -> None:
    request = parse_search(registry, ["Patient"], [("nonsense", "1"), ("gender", "male")])
    assert [c.name for c in request.clauses] == ["gender"]
    assert request.applied == [("gender", "male")]
    assert "nonsense" in request.issues[0].diagnostics
    with pytest.raises(FhirError):
        parse_search(registry, ["Patient"], [("nonsense", "1")], strict=True)


MALFORMED = [
    ("birthdate", "2020-13"),
    ("birthdate", "tomorrow"),
    ("gender:exact", "male"),
    ("name:below", "x"),
    ("birthdate:missing", "maybe"),
    ("_list:missing", "true"),
    ("_count", "-1"),
    ("_total", "all"),
    ("_sort", "nonsense"),
    ("_include", "Patient"),
    ("_include", "Patient:nonsense"),
    ("gender.name", "x"),
    ("general-practitioner.nonsense", "x"),
    ("general-practitioner:Observation", "1"),
    ("_has:Observation:subject:nonsense", "1"),
    ("age", "65.5"),
]


@pytest.mark.parametrize(("name", "raw"), MALFORMED)
def test_malformed_or_unsupported_is_a_400_naming_it_when_strict(
    registry: SearchRegistry, name: str, raw: str
) -> None:
    with pytest.raises(FhirError) as err:
        parse_search(registry, ["Patient"], [(name, raw)], strict=True)
    assert err.value.status == 400
    assert all(issue.expression for issue in err.value.issues)


@pytest.mark.parametrize(("name", "raw"), MALFORMED)
def test_malformed_or_unsupported_is_ignored_and_reported_by_default(
    registry: SearchRegistry, name: str, raw: str
) -> None:
    request = parse_search(
        registry, ["Patient"], [(name, raw), ("gender", "male")], default_count=20
    )
    assert request.applied == [("gender", "male")]  # what the self link shows
    assert [c.name for c in request.clauses if isinstance(c, Clause)] == ["gender"]
    assert request.count == 20 and request.total is None and request.sort == []
    assert request.includes == []
    assert [i.severity for i in request.issues] == ["warning"]
    assert request.issues[0].expression and "ignored" in request.issues[0].diagnostics


def test_system_search_accepts_common_parameters_only(registry: SearchRegistry) -> None:
    request = parse_search(
        registry, [], [("_id", "1"), ("_lastUpdated", "gt2020"), ("gender", "male")]
    )
    assert [c.name for c in request.clauses] == ["_id", "_lastUpdated"]


def test_no_guide_search_parameter_shadows_a_standard_one() -> None:
    """A guide SearchParameter whose code an R4 one already has on the same type would replace it
    (the guide's `family` of Patient once did, and `Patient?family=` stopped finding names)."""
    from fhir_server.search.registry import guide_parameters, load_r4_parameters

    standard = {(base, p.code) for p in load_r4_parameters() for base in p.base}
    clashes = [
        (base, p.code, p.url)
        for p in guide_parameters()
        for base in p.base
        if (base, p.code) in standard
    ]
    assert clashes == []


def test_patient_family_is_the_human_name_family() -> None:
    from fhir_server.search.registry import server_registry

    family = server_registry().get("Patient", "family")
    assert family is not None and family.type == "string" and "family" in family.expression
    household = server_registry().get("Patient", "household")
    assert household is not None and household.type == "reference"
