"""The search part of the CapabilityStatement (search/capability.py): every parameter the engine
runs per type with its definition and the definition's own documentation, computed parameters
with their type, searchInclude / searchRevInclude.

Spec: http://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.search.capability import PARAM_TYPES, search_capabilities
from fhir_server.search.registry import server_registry


@pytest.fixture(scope="module")
def parts() -> dict[str, dict[str, list[Any]]]:
    return search_capabilities(server_registry())


def _param(parts: dict[str, Any], rtype: str, name: str) -> dict[str, Any]:
    return next(p for p in parts[rtype]["searchParam"] if p["name"] == name)


def test_every_listed_parameter_is_documented_and_typed(parts: dict[str, Any]) -> None:
    for rtype, part in parts.items():
        names = [p["name"] for p in part["searchParam"]]
        assert names == sorted(set(names)), rtype
        for p in part["searchParam"]:
            assert p["type"] in PARAM_TYPES and p["documentation"], (rtype, p)
            assert "Multiple Resources" not in p["documentation"], (rtype, p)


@pytest.mark.parametrize(
    ("rtype", "name", "kind", "words"),
    [
        ("Observation", "subject", "reference", "The subject that the observation is about"),
        ("Patient", "address", "string", "Address"),  # a shared definition: this type's line
        ("Condition", "patient", "reference", "Who has the condition?"),
        ("Patient", "age", "number", "deceased patients are excluded"),  # computed
        ("Location", "near", "special", "latitude"),
        ("Observation", "component-code-value-quantity", "composite", "Component code"),
        ("Contract", "package", "reference", "service package"),  # the guide's own
    ],
)
def test_parameters(parts: dict[str, Any], rtype: str, name: str, kind: str, words: str) -> None:
    p = _param(parts, rtype, name)
    assert p["type"] == kind and words.lower() in p["documentation"].lower()
    if name != "age":
        assert p["definition"].startswith(("http://hl7.org/fhir/", "https://jiayi.health/fhir/"))


def test_no_parameter_the_engine_cannot_run(parts: dict[str, Any]) -> None:
    assert all(p["name"] != "_query" for p in parts["Patient"]["searchParam"])


def test_includes_and_revincludes(parts: dict[str, Any]) -> None:
    patient = parts["Patient"]
    assert {"Patient:general-practitioner", "Patient:organization", "*"} <= set(
        patient["searchInclude"]
    )
    assert {"Observation:subject", "Condition:patient", "Contract:subject"} <= set(
        patient["searchRevInclude"]
    )
    assert "Observation:subject" in parts["Group"]["searchRevInclude"]
    assert "Patient:organization" in parts["Organization"]["searchRevInclude"]
    assert "Patient:organization" not in parts["Practitioner"]["searchRevInclude"]  # its target


def test_system_search_parameters_are_documented() -> None:
    from fhir_server.search.capability import system_search_params

    listed = system_search_params(server_registry())
    names = [p["name"] for p in listed]
    assert names[:2] == ["_id", "_lastUpdated"] and len(names) == len(set(names))
    assert {"_tag", "_profile", "_security", "_source", "_text", "_content", "_list"} <= set(names)
    assert {"_has", "_type", "_filter"} <= set(names) and "_query" not in names
    for p in listed:
        assert p["type"] in PARAM_TYPES and len(p["documentation"]) > 20
    tag = next(p for p in listed if p["name"] == "_tag")
    assert tag["definition"] == "http://hl7.org/fhir/SearchParameter/Resource-tag"


def test_named_queries_are_operations_of_their_types(parts: dict[str, Any]) -> None:
    from fhir_server.search.named import NAMED_QUERIES, operation_definition

    query = NAMED_QUERIES["contracted-residents"]
    assert parts["Patient"]["operation"] == [{"name": query.code, "definition": query.url}]
    assert "operation" not in parts["Observation"]
    definition = operation_definition(query)
    assert definition["kind"] == "query" and definition["code"] == "contracted-residents"
    assert definition["url"] == query.url and definition["resource"] == ["Patient"]
    inputs = [p for p in definition["parameter"] if p["use"] == "in"]
    assert [p["name"] for p in inputs] == ["care-team", "status", "package"]
    assert all(p["searchType"] in PARAM_TYPES and p["documentation"] for p in inputs)


def test_named_queries_are_published_in_the_guide() -> None:
    """Each named query's OperationDefinition is a file of the guide (profiles/operations), so
    the server serves it and the IG package carries it; the file is what the code declares."""
    import json
    from pathlib import Path

    from fhir_server.conformance.ig import load_ig_resources
    from fhir_server.search.named import NAMED_QUERIES, operation_definition

    folder = Path(__file__).resolve().parents[3] / "profiles" / "operations"
    for query in NAMED_QUERIES.values():
        definition = operation_definition(query)
        path = folder / f"OperationDefinition-{definition['id']}.json"
        assert json.loads(path.read_text(encoding="utf-8")) == definition
    seeded = {(r["resourceType"], r["id"]) for r in load_ig_resources()}
    assert {("OperationDefinition", "query-" + q.code) for q in NAMED_QUERIES.values()} <= seeded
