"""Named queries (`_query`): searches the server defines, each declared as an OperationDefinition
of kind `query` and listed as an operation of its resource types in the CapabilityStatement.

Spec: http://hl7.org/fhir/R4/search.html#query, http://hl7.org/fhir/R4/operationdefinition.html
(kind = query: `code` is the `_query` value; the parameters are the query's inputs).

A named query expands to terms the search engine already runs: plain (name, value) pairs and
`Reverse` terms — resources of one type, pointing here through one reference, meeting every one
of their terms *together* (one Contract that is both executed and with this team; two `_has`
parameters would let two different Contracts meet one term each).  The standard result
parameters (`_count`, `_sort`, `_include`, `_total`, …) apply as usual; any other parameter is
not the query's (unknown: 400 when strict, else ignored and reported).  An unknown `_query` is
always a 400 (ignoring it would return everything).

    NAMED_QUERIES[code] -> NamedQuery;  query.expand({input name: [raw values]}) -> [Term]
    operation_definition(query) -> dict (OperationDefinition, kind=query)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

CANONICAL = "https://jiayi.health/fhir/OperationDefinition/"


@dataclass(frozen=True)
class Reverse:
    """Resources of `source_type` whose reference parameter `code` points at the match, one of
    them meeting every term."""

    source_type: str
    code: str
    terms: tuple[tuple[str, str], ...]


Term = tuple[str, str] | Reverse


@dataclass(frozen=True)
class QueryInput:
    name: str
    search_type: str  # the R4 SearchParamType the value is written in
    documentation: str
    max: str = "1"  # "*": repeats (each occurrence AND-ed; commas OR inside one)


@dataclass(frozen=True)
class NamedQuery:
    code: str
    title: str
    description: str
    resource_types: tuple[str, ...]
    inputs: tuple[QueryInput, ...]
    expand: Callable[[Mapping[str, Sequence[str]]], list[Term]]

    @property
    def url(self) -> str:
        return CANONICAL + "query-" + self.code

    def input(self, name: str) -> QueryInput | None:
        return next((i for i in self.inputs if i.name == name), None)


def _contracted_residents(inputs: Mapping[str, Sequence[str]]) -> list[Term]:
    statuses = list(inputs.get("status", ())) or ["executed"]
    terms = [("status", s) for s in statuses]
    terms += [("care-team", t) for t in inputs.get("care-team", ())]
    terms += [("package", p) for p in inputs.get("package", ())]
    return [Reverse("Contract", "patient", tuple(terms))]


CONTRACTED_RESIDENTS = NamedQuery(
    code="contracted-residents",
    title="Residents under contract",
    description=(
        "Residents (Patient) with a family-doctor contract that is in force (status executed, "
        "unless `status` says otherwise) and — when given — with the family-doctor team "
        "`care-team` and for the service package `package`, all on the same Contract.  "
        "E.g. `Patient?_query=contracted-residents&care-team=CareTeam/7` lists a team's signed "
        "residents (a resident whose contract with that team ended and who signed with another "
        "team is not listed, as two `_has` parameters would list them)."
    ),
    resource_types=("Patient",),
    inputs=(
        QueryInput(
            "care-team",
            "reference",
            "The family-doctor team of the contract (CareTeam/id; commas: any of them)",
        ),
        QueryInput(
            "status",
            "token",
            "Contract status (default executed: signed and in force; commas: any of them)",
        ),
        QueryInput(
            "package",
            "reference",
            "The contract's service package (PlanDefinition/id; commas: any of them)",
        ),
    ),
    expand=_contracted_residents,
)

NAMED_QUERIES: Mapping[str, NamedQuery] = MappingProxyType(
    {q.code: q for q in (CONTRACTED_RESIDENTS,)}
)


def operation_definition(query: NamedQuery) -> dict[str, Any]:
    """The OperationDefinition (kind = query) declaring `query`."""
    return {
        "resourceType": "OperationDefinition",
        "id": "query-" + query.code,
        "url": query.url,
        "name": "".join(p.capitalize() for p in query.code.split("-")) + "Query",
        "title": query.title,
        "status": "active",
        "kind": "query",
        "publisher": "Jiayi",
        "description": query.description,
        "affectsState": False,
        "code": query.code,
        "resource": list(query.resource_types),
        "system": False,
        "type": True,
        "instance": False,
        "parameter": [
            {
                "name": i.name,
                "use": "in",
                "min": 0,
                "max": i.max,
                "documentation": i.documentation,
                "type": "string",
                "searchType": i.search_type,
            }
            for i in query.inputs
        ]
        + [
            {
                "name": "result",
                "use": "out",
                "min": 1,
                "max": "1",
                "documentation": "A searchset Bundle of the matching "
                + " / ".join(query.resource_types),
                "type": "Bundle",
            }
        ],
    }


def capability_operations(resource_type: str) -> list[dict[str, str]]:
    """`rest.resource.operation` entries (`name`, `definition`) for the named queries of a type."""
    return [
        {"name": q.code, "definition": q.url}
        for q in NAMED_QUERIES.values()
        if resource_type in q.resource_types
    ]
