"""Resolve token `:in`/`:not-in`/`:above`/`:below` values to concept sets before compiling SQL.

Spec: http://hl7.org/fhir/R4/search.html#token (modifiers `in`, `not-in`, `above`, `below`).

The default resolver reads ValueSets and CodeSystems stored on this server (found by their `url`
search index), else the packaged ones the caller hands it (the server passes the guide's and R4's
terminology), and expands them with the pure `search.concepts` expander.  The services layer may
pass its own `ConceptResolver` instead — e.g. one backed by `fhir_server.terminology`
(storage may not import terminology, which sits above it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from ...core.errors import bad_request
from ...search import concepts
from ...search import values as v
from ...search.params import AnyOf, ByType, Clause, Condition, Negation, SearchRequest
from .search_tables import search_uri
from .tables import resource

#: ConceptValue → CodeSetValue (raise FhirError for an unknown ValueSet)
ConceptResolver = Callable[[v.ConceptValue], v.CodeSetValue]


def canonical_fetcher(conn: Connection, packaged: concepts.Fetch | None = None) -> concepts.Fetch:
    """(resource type, canonical `url[|version]`) → the stored resource, newest first; else the
    packaged one (`packaged`: the guide's and R4's CodeSystems and ValueSets)."""
    cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def fetch(resource_type: str, canonical: str) -> dict[str, Any] | None:
        key = (resource_type, canonical)
        if key not in cache:
            url, _, version = canonical.partition("|")
            q = (
                select(resource.c.content)
                .select_from(
                    resource.join(
                        search_uri,
                        (search_uri.c.res_type == resource.c.res_type)
                        & (search_uri.c.res_id == resource.c.res_id),
                    )
                )
                .where(
                    search_uri.c.res_type == resource_type,
                    search_uri.c.param == "url",
                    search_uri.c.value == url,
                    resource.c.deleted.is_(False),
                )
                .order_by(resource.c.last_updated.desc())
            )
            found = [c for (c,) in conn.execute(q) if c]
            if version:
                found = [c for c in found if c.get("version") == version]
            cache[key] = found[0] if found else None
            if cache[key] is None and packaged is not None:
                cache[key] = packaged(resource_type, canonical)
        return cache[key]

    return fetch


def default_resolver(conn: Connection, packaged: concepts.Fetch | None = None) -> ConceptResolver:
    fetch = canonical_fetcher(conn, packaged)

    def resolve(value: v.ConceptValue) -> v.CodeSetValue:
        if value.op in ("in", "not-in"):
            assert value.valueset is not None
            value_set = fetch("ValueSet", value.valueset)
            if value_set is None:
                raise bad_request(f"ValueSet '{value.valueset}' is not known to this server")
            return concepts.expand(value_set, fetch)
        return concepts.hierarchy_set(value, fetch)

    return resolve


def resolve_concepts(
    conn: Connection,
    request: SearchRequest,
    resolver: ConceptResolver | None = None,
    packaged: concepts.Fetch | None = None,
) -> None:
    """Replace every `ConceptValue` in the request's conditions by its `CodeSetValue`
    (`packaged`: where the default resolver finds definitions not stored here)."""
    lazy: list[ConceptResolver] = []

    def get() -> ConceptResolver:
        if not lazy:
            lazy.append(resolver or default_resolver(conn, packaged))
        return lazy[0]

    def walk(expr: Condition) -> Condition:
        if isinstance(expr, Negation):
            return Negation(walk(expr.item))
        if isinstance(expr, AnyOf):
            return AnyOf(tuple(tuple(walk(c) for c in g) for g in expr.groups))
        if isinstance(expr, ByType):
            return ByType(tuple((t, None if c is None else walk(c)) for t, c in expr.cases))
        if expr.inner is not None:
            return dataclasses.replace(expr, inner=walk(expr.inner))  # type: ignore[arg-type]
        if any(isinstance(x, v.ConceptValue) for x in expr.values):
            return _resolved(expr, get())
        return expr

    request.clauses = [walk(c) for c in request.clauses]
    if request.restrictions is not None:
        restricted = walk(request.restrictions)
        assert isinstance(restricted, AnyOf)
        request.restrictions = restricted


def _resolved(clause: Clause, resolver: ConceptResolver) -> Clause:
    values = tuple(resolver(x) if isinstance(x, v.ConceptValue) else x for x in clause.values)
    return dataclasses.replace(clause, values=values)
