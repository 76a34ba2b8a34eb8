"""In-memory evaluation of search terms on one resource: SMART v2 query restrictions
(`patient/Observation.rs?category=laboratory`) applied to a resource that is not (or no longer)
the current version in the database — history entries, old versions, Consent checks.

Spec: SMART App Launch 2.x "Finer-grained resource constraints using search parameters" (the
restriction has search semantics) and FHIR R4 search.html (token, string, reference, uri matching).

The terms are parsed by the search engine's own parser and the resource's values extracted by
the indexer's own extractor, so a restriction means here what it means in SQL.  Matching is
exact for token (`system|code`, `code`, `|code`, `system|`, `:not`, `:missing`), string (prefix,
`:exact`, `:contains`), reference, uri and `_id`; any other term (dates, quantities, chains …)
does not hold — a restriction never admits more in memory than it would in the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import FhirError
from ..search import values as v
from ..search.extract import Extractor, IndexRows
from ..search.params import AnyOf, Clause, Condition, Negation, _Parser
from ..search.registry import SearchRegistry


class RestrictionMatcher:
    """`holds(resource, terms)`: do all (parameter, value) terms match the resource?"""

    def __init__(self, registry: SearchRegistry, base_url: str | None = None) -> None:
        self._registry = registry
        self._base_url = base_url
        self._extractor = Extractor(registry, base_url)

    def holds(self, resource: Mapping[str, Any], terms: Sequence[tuple[str, str]]) -> bool:
        rtype = resource.get("resourceType")
        if not terms:
            return True
        if not isinstance(rtype, str):
            return False
        try:
            (group,) = _Parser(self._registry, self._base_url, True).terms((rtype,), [terms]).groups
        except FhirError:
            return False  # a term naming no parameter of the type admits nothing
        return all(self._condition(dict(resource), c) for c in group)

    def _condition(self, resource: dict[str, Any], cond: Condition) -> bool:
        if isinstance(cond, Negation):
            return not self._condition(resource, cond.item)
        if isinstance(cond, AnyOf):
            return any(all(self._condition(resource, c) for c in g) for g in cond.groups)
        if isinstance(cond, Clause):
            return self._clause(resource, cond)
        return False

    def _clause(self, resource: dict[str, Any], clause: Clause) -> bool:
        if clause.path:
            return False
        if clause.inner is not None:
            return self._condition(resource, clause.inner)
        param, modifier = clause.param, clause.modifier
        if param.code == "_id":
            return any(
                isinstance(val, v.TokenValue) and val.code == resource.get("id")
                for val in clause.values
            )
        rows = self._extractor.rows_for(resource, [param])
        if modifier == "missing":
            (missing,) = clause.values
            present = _present(rows, param.type)
            return (
                not present if isinstance(missing, v.MissingValue) and missing.missing else present
            )
        found = any(_value(rows, param.type, modifier, val) for val in clause.values)
        return not found if modifier == "not" else found


def _present(rows: IndexRows, kind: str) -> bool:
    return bool(getattr(rows, kind, None))


def _value(rows: IndexRows, kind: str, modifier: str | None, val: Any) -> bool:
    if kind == "token" and isinstance(val, v.TokenValue) and modifier in (None, "not"):
        return any(_token(system, code, val) for _p, system, code, _t in rows.token)
    if kind == "string" and isinstance(val, v.TextValue):
        if modifier == "exact":
            return any(raw == val.raw for _p, _f, raw in rows.string)
        if modifier == "contains":
            return any(f in form for _p, form, _r in rows.string for f in val.forms)
        if modifier is None:
            return any(form.startswith(f) for _p, form, _r in rows.string for f in val.forms)
        return False
    if kind == "reference" and isinstance(val, v.ReferenceValue) and modifier != "identifier":
        for _p, rtype, rid, url in rows.reference:
            if val.url is not None:
                if url == val.url:
                    return True
            elif rid == val.id and (not val.type or rtype == val.type):
                return True
        return False
    if kind == "uri" and isinstance(val, v.UriValue) and modifier is None:
        return any(value == val.value for _p, value in rows.uri)
    return False


def _token(system: str | None, code: str | None, val: v.TokenValue) -> bool:
    if val.code is not None and code != val.code:
        return False
    if val.no_system:
        return system is None
    return val.system is None or system == val.system
