"""Query string → `SearchRequest` IR: typed clauses, chains, `_has`, includes, sort and paging.

Spec: http://hl7.org/fhir/R4/search.html (parameters, modifiers, prefixes, chaining, reverse
chaining, `_include`/`_revinclude`, `_sort`, `_count`, `_total`, `_summary`, `_elements`).

`parse_search(registry, resource_types, query, strict=..., base_url=...)` never touches a database.
Unknown parameters are reported as issues (a `FhirError(400)` when `strict`); malformed values and
unsupported modifiers are always a 400, because ignoring them would change the meaning.

The IR is a conjunction of conditions: a `Clause` (one parameter occurrence), `AnyOf` (OR-ed
groups, each an AND of conditions: computed parameters, access restrictions, `_filter` `or`) and
`Negation` (`_filter` `not`, `ne`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

from ..core.errors import FhirError, Issue, bad_request, warning
from ..core.errors import error as E_error
from . import values as v
from .registry import RESULT_PARAMS, SearchParam, SearchRegistry

MAX_COUNT = 1000
MAX_COMPUTED_DEPTH = 8
_MODIFIERS = {
    "string": {"exact", "contains", "missing"},
    "token": {"text", "not", "missing", "in", "not-in", "above", "below", "of-type"},
    "composite": {"missing"},
    "special": {"missing"},
    "reference": {"missing", "identifier"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "uri": {"missing", "below", "above"},
    "text": {"missing"},
}


@dataclass(frozen=True)
class Hop:
    """Forward chain: follow reference parameter `code` to resources of `types`."""

    code: str
    types: tuple[str, ...]
    #: access control: the targets the caller may see (`search.access.apply_access`); None: all
    guard: ByType | None = None


@dataclass(frozen=True)
class HasHop:
    """Reverse chain: resources of `source_type` whose reference `code` points at this one."""

    source_type: str
    code: str
    #: access control: the sources the caller may see (`search.access.apply_access`); None: all
    guard: ByType | None = None
    #: compile as a correlated check per candidate (PostgreSQL: no semi-join pull-up), so a page
    #: is an ordered walk that stops after `_count` matches; set when the sources are common
    #: (`storage.sql.search.plan_walks`)
    walk: bool = False


@dataclass(frozen=True)
class Clause:
    """One parameter occurrence: its values are OR-ed; clauses are AND-ed."""

    name: str
    param: SearchParam
    modifier: str | None
    values: tuple[v.SearchValue, ...]
    path: tuple[Hop | HasHop, ...] = ()
    target_types: tuple[str, ...] = ()  # the resource types `param` is evaluated on
    #: computed parameters: the rewritten alternatives, evaluated at the end of `path`.
    inner: AnyOf | None = None
    #: compile the clause's outermost check as correlated per candidate (PostgreSQL: no
    #: semi-join pull-up), so a page is an ordered walk that stops after `_count` matches; set
    #: for string prefixes and chains whose matches are common (`storage.sql.search.plan_walks`)
    walk: bool = False


@dataclass(frozen=True)
class AnyOf:
    """OR of groups; each group is an AND of conditions.  No groups: nothing matches."""

    groups: tuple[tuple[Condition, ...], ...]


@dataclass(frozen=True)
class Negation:
    item: Condition


@dataclass(frozen=True)
class ByType:
    """Access control: a resource qualifies when its type is listed and it meets that type's
    condition (None: every resource of the type).  No cases: nothing qualifies."""

    cases: tuple[tuple[str, Condition | None], ...]


Condition = Union[Clause, AnyOf, Negation, ByType]  # noqa: UP007 (forward references)


@dataclass(frozen=True)
class SortKey:
    code: str
    descending: bool
    param: SearchParam | None  # None for _id
    path: tuple[Hop, ...] = ()  # chained sort: single-valued forward hops


@dataclass(frozen=True)
class Include:
    source_type: str
    code: str  # "*" for every reference parameter
    target_type: str | None
    iterate: bool = False


@dataclass
class SearchRequest:
    resource_types: tuple[str, ...]
    clauses: list[Condition] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    count: int | None = None
    total: str | None = None  # none | estimate | accurate
    summary: str | None = None
    elements: list[str] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    cursor: str | None = None
    contained: str | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: compartment search: (compartment type, id, reference parameter codes linking to it)
    compartment: tuple[str, str, tuple[str, ...]] | None = None
    #: access restrictions, AND-ed with the query (None: unrestricted) — see `restrict`.
    restrictions: AnyOf | None = None
    #: OR-ed compartments (access control); None: unrestricted, (): nothing matches.
    compartments: tuple[tuple[str, str, tuple[str, ...]], ...] | None = None
    restrict_includes: bool = False
    #: the caller's visibility per resource type (`search.access.apply_access`); None: no control
    access: AccessGuard | None = None
    explain: bool = False
    contained_type: str | None = None


class AccessGuard(Protocol):
    """What the SQL compiler asks of access control (`search.access.apply_access`)."""

    #: the matches the caller may see (AND-ed with the query, so `_total` and paging stay exact)
    matches: ByType

    def included(self, types: Sequence[str]) -> ByType:
        """The `_include`d / `_revinclude`d resources of `types` the caller may see."""
        ...


def _id_param() -> SearchParam:
    return SearchParam(code="_id", type="token", base=("Resource",), expression="Resource.id")


#: string matches only `_filter` produces: equality and ends-with on the normalised value.
_INTERNAL = {"string": {"_eq", "_ew"}, "text": {"_eq", "_ew", "contains"}}
_PSEUDO = {
    "_text": "text",
    "_content": "text",
    "_list": "list",
}


class _Parser:
    def __init__(self, registry: SearchRegistry, base_url: str | None, strict: bool) -> None:
        self.registry = registry
        self.base_url = base_url
        self.strict = strict
        self.depth = 0
        self.internal = False  # `_filter` may use the internal string modifiers

    def param(self, types: Sequence[str], code: str) -> SearchParam | None:
        if code == "_id":
            return _id_param()
        if code in _PSEUDO:
            return SearchParam(code=code, type=_PSEUDO[code], base=("Resource",), expression=code)
        computed = [self.registry.computed(t, code) for t in types] if types else [None]
        if computed and all(c is not None for c in computed):
            return SearchParam(code=code, type="computed", base=tuple(types), expression=code)
        found = (
            [self.registry.get(t, code) for t in types]
            if types
            else [self.registry.get("Resource", code)]
        )
        if not found or any(p is None for p in found):
            return None
        return found[0]

    def resolve(
        self, types: tuple[str, ...], name: str
    ) -> tuple[tuple[Hop | HasHop, ...], SearchParam, str | None, tuple[str, ...]]:
        """(path, final param, modifier, types the final param applies to) for a parameter name."""
        if name.startswith("_has:"):
            pieces = name.split(":", 3)
            if len(pieces) != 4 or not pieces[3]:
                raise bad_request(f"Malformed _has parameter '{name}'")
            _, source, code, rest = pieces
            ref = self.registry.get(source, code)
            if ref is None or ref.type != "reference":
                raise bad_request(f"Unknown reference parameter '{code}' on {source} in '{name}'")
            sub_path, sub_param, sub_modifier, sub_types = self.resolve((source,), rest)
            return (HasHop(source, code), *sub_path), sub_param, sub_modifier, sub_types
        head, dot, rest = name.partition(".")
        code, _, modifier = head.partition(":")
        param = self.param(types, code)
        if param is None or (not param.expression and code != "_id"):
            raise _Unknown(code, types)
        if not dot:
            return (), param, modifier or None, types
        if param.type != "reference":
            raise bad_request(f"'{code}' is not a reference parameter and cannot be chained")
        targets = (modifier,) if modifier else param.target
        next_code = rest.split(".", 1)[0].split(":", 1)[0]
        targets = tuple(
            t
            for t in targets
            if next_code == "_id"
            or self.registry.get(t, next_code)
            or self.registry.computed(t, next_code)
        )
        if not targets:
            raise bad_request(f"No target of '{code}' has a parameter '{next_code}' (in '{name}')")
        chain_path, final, final_modifier, final_types = self.resolve(targets, rest)
        return (Hop(code, targets), *chain_path), final, final_modifier, final_types

    def clause(self, types: tuple[str, ...], name: str, raw: str) -> Clause:
        """One (name, value) occurrence as a clause (computed parameters rewritten)."""
        path, param, modifier, final = self.resolve(types, name)
        if param.type == "computed":
            return Clause(
                name, param, modifier, (), path, final, self.computed(final, param, modifier, raw)
            )
        return Clause(name, param, modifier, self.values(param, modifier, raw, name), path, final)

    def computed(
        self, types: tuple[str, ...], param: SearchParam, modifier: str | None, raw: str
    ) -> AnyOf:
        if self.depth >= MAX_COMPUTED_DEPTH:
            raise bad_request(f"Computed parameter '{param.code}' nests too deeply")
        rewrite = self.registry.computed(types[0], param.code) if types else None
        assert rewrite is not None
        self.depth += 1
        try:
            groups: list[tuple[Condition, ...]] = []
            for value in v.split_escaped(raw, ","):
                for group in rewrite.rewrite(v.unescape(value), modifier):
                    groups.append(tuple(self.clause(types, n, r) for n, r in group))
            return AnyOf(tuple(groups))
        except _Unknown as exc:  # a broken rewrite is the server's fault, never silently ignored
            raise FhirError(
                500, E_error("exception", f"Computed parameter '{param.code}': {exc}")
            ) from exc
        finally:
            self.depth -= 1

    def terms(self, types: tuple[str, ...], groups: Sequence[Sequence[tuple[str, str]]]) -> AnyOf:
        """OR-ed groups of AND-ed (name, value) terms (unknown names are an error here)."""
        try:
            return AnyOf(tuple(tuple(self.clause(types, n, r) for n, r in g) for g in groups))
        except _Unknown as exc:
            raise bad_request(str(exc), code="not-supported") from exc
        except v.ValueError_ as exc:
            raise bad_request(f"Invalid restriction value: {exc}") from exc

    def values(
        self, param: SearchParam, modifier: str | None, raw: str, name: str
    ) -> tuple[v.SearchValue, ...]:
        if modifier == "missing":
            if "missing" not in _MODIFIERS.get(param.type, set()):
                raise bad_request(
                    f"Unsupported modifier ':missing' on '{name}' (type {param.type})",
                    name,
                    code="not-supported",
                )
            return (v.parse_missing(raw),)
        parse = self._value_parser(param, modifier, name)
        return tuple(parse(part) for part in v.split_escaped(raw, ","))

    def _value_parser(
        self, param: SearchParam, modifier: str | None, name: str
    ) -> Callable[[str], v.SearchValue]:
        kind = param.type
        if kind == "reference" and modifier and modifier != "identifier":
            if modifier not in self.registry.resource_types or (
                param.target and modifier not in param.target
            ):
                raise bad_request(f"Unsupported modifier ':{modifier}' on '{name}'")
        elif (
            modifier
            and modifier not in _MODIFIERS.get(kind, set())
            and not (self.internal and modifier in _INTERNAL.get(kind, set()))
        ):
            raise bad_request(
                f"Unsupported modifier ':{modifier}' on '{name}'", code="not-supported"
            )
        if kind == "token":
            if modifier in ("in", "not-in", "above", "below"):
                op = modifier
                return lambda raw: v.parse_concept(raw, op)
            if modifier == "of-type":
                return v.parse_of_type
            return v.parse_text if modifier == "text" else v.parse_token
        if kind == "composite":
            return lambda raw: self._composite(param, raw, name)
        if kind == "special" and param.code == "near":
            return v.parse_near
        if kind == "text":
            return v.parse_text
        if kind == "list":
            return lambda raw: v.ListValue(v.unescape(raw))
        if kind == "reference" and modifier == "identifier":
            return v.parse_token
        parsers: dict[str, Callable[[str], v.SearchValue]] = {
            "string": v.parse_text,
            "date": v.parse_date,
            "number": v.parse_number,
            "quantity": v.parse_quantity,
            "uri": lambda raw: v.UriValue(v.unescape(raw)),
            "reference": lambda raw: v.parse_reference_value(raw, modifier, self.base_url),
        }
        if kind not in parsers:
            raise bad_request(
                f"Parameter '{name}' of type {kind} is not supported", code="not-supported"
            )
        return parsers[kind]

    def _composite(self, param: SearchParam, raw: str, name: str) -> v.CompositeValue:
        parts = v.split_escaped(raw, "$")
        if len(parts) != len(param.component):
            raise v.ValueError_(f"'{raw}' needs {len(param.component)} '$'-separated parts")
        values: list[v.SearchValue] = []
        for part, comp in zip(parts, param.component, strict=True):
            sub = self.registry.by_url(comp.definition)
            if sub is None:
                raise bad_request(f"Composite '{name}': unknown component {comp.definition}")
            values.append(self._value_parser(sub, None, name)(part))
        return v.CompositeValue(tuple(values))


class _Unknown(Exception):
    def __init__(self, code: str, types: Sequence[str]) -> None:
        super().__init__(
            f"Unknown search parameter '{code}' for {', '.join(types) or 'all resource types'}"
        )


def parse_search(
    registry: SearchRegistry,
    resource_types: Sequence[str],
    query: Sequence[tuple[str, str]],
    *,
    strict: bool = False,
    base_url: str | None = None,
    default_count: int | None = None,
) -> SearchRequest:
    """Parse `query` (name, value pairs, already URL-decoded) for a search over `resource_types`.

    A parameter that cannot be applied — unknown, an unsupported modifier, a malformed value, an
    unknown chained parameter, a bad `_include` — is a 400 naming it (`expression`) when
    `strict` (`Prefer: handling=strict`); otherwise it is left out of the search and of `applied`
    (the self link) and reported as a warning issue (the searchset's OperationOutcome entry)."""
    parser = _Parser(registry, base_url, strict)
    types = tuple(resource_types)
    request = SearchRequest(resource_types=types, count=default_count)
    named_query: str | None = None
    if any(name == "_query" for name, _ in query):
        named_query, query = _named_query(parser, request, types, query)
    for name, raw in query:
        try:
            if named_query is not None and name.split(":", 1)[0] not in RESULT_PARAMS:
                raise bad_request(
                    f"'{name}' is not a parameter of the named query '{named_query}'",
                    name,
                    code="not-supported",
                )
            _parse_one(parser, request, types, name, raw)
        except FhirError as exc:
            if exc.status != 400:
                raise
            named = _naming(exc, name)
            if strict:
                raise named from exc
            request.issues.extend(
                warning(i.code, f"{i.diagnostics}; ignored", *(i.expression or (name,)))
                for i in named.issues
            )
    return request


def _named_query(
    parser: _Parser,
    request: SearchRequest,
    types: tuple[str, ...],
    query: Sequence[tuple[str, str]],
) -> tuple[str, list[tuple[str, str]]]:
    """Apply the `_query` named query (search.named) to `request`: its inputs become clauses; the
    rest of `query` — result parameters, and anything else (not the query's: reported or refused
    by the caller's loop as unknown) — is returned with the query's code.  An unknown or misplaced `_query`, or a bad
    input, is a 400 even when lenient: ignoring it would broaden the search to everything."""
    from .named import NAMED_QUERIES, Reverse

    codes = [raw for name, raw in query if name == "_query"]
    if len(codes) > 1:
        raise bad_request("Only one _query per search", "_query")
    named = NAMED_QUERIES.get(codes[0])
    if named is None:
        known = ", ".join(sorted(NAMED_QUERIES)) or "none"
        raise bad_request(
            f"Unknown named query '{codes[0]}' (this server's: {known})",
            "_query",
            code="not-supported",
        )
    if not types or any(t not in named.resource_types for t in types):
        raise bad_request(
            f"Named query '{named.code}' searches {', '.join(named.resource_types)} only",
            "_query",
            code="not-supported",
        )
    inputs: dict[str, list[str]] = {}
    rest: list[tuple[str, str]] = []
    for name, raw in query:
        if name == "_query":
            continue
        spec = named.input(name)
        if spec is None:  # a result parameter, or not the query's (then unknown to the loop)
            rest.append((name, raw))
            continue
        inputs.setdefault(name, []).append(raw)
        if spec.max != "*" and len(inputs[name]) > int(spec.max):
            raise bad_request(f"'{name}' may be given {spec.max} time(s) in '{named.code}'", name)
    request.applied.append(("_query", named.code))
    for term in named.expand(inputs):
        if isinstance(term, Reverse):
            request.clauses.append(_reverse_clause(parser, types, term))
        else:
            request.clauses.append(_input_clause(parser, types, term))
    request.applied.extend((n, r) for n, raws in inputs.items() for r in raws)
    return named.code, rest


def _input_clause(parser: _Parser, types: tuple[str, ...], term: tuple[str, str]) -> Clause:
    name, raw = term
    try:
        return parser.clause(types, name, raw)
    except _Unknown as exc:  # the query's own expansion: the server's fault
        raise FhirError(500, E_error("exception", f"Named query: {exc}")) from exc
    except v.ValueError_ as exc:
        raise bad_request(f"Invalid value for '{name}': {exc}", name) from exc
    except FhirError as exc:
        raise _naming(exc, name) from exc


def _reverse_clause(parser: _Parser, types: tuple[str, ...], term: Any) -> Clause:
    """One `Reverse` term: `_has:<source>:<code>` whose single source meets every inner term."""
    source = (term.source_type,)
    inner = tuple(_input_clause(parser, source, t) for t in term.terms)
    ref = parser.registry.get(term.source_type, term.code)
    if ref is None or ref.type != "reference":  # a broken definition: the server's fault
        raise FhirError(
            500, E_error("exception", f"Named query: no {term.source_type}.{term.code}")
        )
    return Clause(
        "_query",
        ref,
        None,
        (),
        (HasHop(term.source_type, term.code),),
        source,
        AnyOf((inner,)),
    )


def _parse_one(
    parser: _Parser, request: SearchRequest, types: tuple[str, ...], name: str, raw: str
) -> None:
    try:
        if name.split(":", 1)[0] in RESULT_PARAMS:
            _result_param(parser, request, name, raw)
            if name != "_cursor":
                request.applied.append((name, raw))
            return
        if name == "_filter":
            from .filter import parse_filter

            request.clauses.append(parse_filter(raw, _FilterTerms(parser, types)))
        else:
            request.clauses.append(parser.clause(types, name, raw))
    except _Unknown as exc:
        raise bad_request(str(exc), name, code="not-supported") from exc
    except v.ValueError_ as exc:
        raise bad_request(f"Invalid value for '{name}': {exc}", name) from exc
    request.applied.append((name, raw))


def _naming(exc: FhirError, name: str) -> FhirError:
    """The error with the parameter's name as `expression` on issues that name nothing."""
    issues = [i if i.expression else dataclasses.replace(i, expression=(name,)) for i in exc.issues]
    return FhirError(exc.status, issues)


def _result_param(parser: _Parser, request: SearchRequest, name: str, raw: str) -> None:
    if name == "_count":
        if not raw.isdigit():
            raise bad_request(f"_count must be a non-negative integer, not '{raw}'", "_count")
        request.count = min(int(raw), MAX_COUNT)
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise bad_request(f"_total must be none, estimate or accurate, not '{raw}'", "_total")
        request.total = raw
    elif name == "_summary":
        if raw not in ("true", "false", "text", "data", "count"):
            raise bad_request(f"Invalid _summary '{raw}'", "_summary")
        request.summary = raw
    elif name == "_elements":
        request.elements.extend(e.strip() for e in raw.split(",") if e.strip())
    elif name == "_sort":
        keys = [_sort_key(parser, request.resource_types, key) for key in raw.split(",") if key]
        request.sort.extend(keys)  # all or nothing: a bad key leaves the sort as it was
    elif name in ("_include", "_revinclude", "_include:iterate", "_revinclude:iterate"):
        _include(parser, request, name, raw)
    elif name == "_cursor":
        request.cursor = raw
    elif name == "_contained":
        if raw not in ("true", "false", "both"):
            raise bad_request(f"_contained must be true, false or both, not '{raw}'", name)
        request.contained = raw
    elif name == "_containedType":
        if raw not in ("container", "contained"):
            raise bad_request(f"_containedType must be container or contained, not '{raw}'", name)
        request.contained_type = raw
    elif name == "_explain":
        request.explain = raw == "true"
    # _format, _pretty, _type are the caller's business


_SORTABLE = ("string", "token", "date", "number", "quantity", "reference", "uri")


def _sort_key(parser: _Parser, types: tuple[str, ...], key: str) -> SortKey:
    descending = key.startswith("-")
    code = key.lstrip("-")
    if code == "_id":
        return SortKey("_id", descending, None)
    if "." in code:
        return _chained_sort_key(parser, types, code, descending)
    param = parser.param(types, code)
    if param is None:
        raise bad_request(f"Unknown sort parameter '{code}'", "_sort")
    if param.type not in _SORTABLE:
        raise bad_request(
            f"Cannot sort on '{code}' (type {param.type})", "_sort", code="not-supported"
        )
    return SortKey(code, descending, param)


def _chained_sort_key(
    parser: _Parser, types: tuple[str, ...], code: str, descending: bool
) -> SortKey:
    """`subject:Patient.birthdate`: forward hops, each to exactly one target type."""
    try:
        path, param, modifier, _final = parser.resolve(types, code)
    except _Unknown as exc:
        raise bad_request(f"Unknown sort parameter '{code}'", "_sort") from exc
    hops = tuple(h for h in path if isinstance(h, Hop))
    if len(hops) != len(path) or any(len(h.types) != 1 for h in hops) or modifier:
        raise bad_request(
            f"Chained sort '{code}' must follow references to one type each (e.g. subject:Patient.birthdate)",
            "_sort",
            code="not-supported",
        )
    if param.type not in _SORTABLE:
        raise bad_request(f"Cannot sort on '{code}' (type {param.type})", "_sort")
    return SortKey(param.code, descending, param, hops)


def _include(parser: _Parser, request: SearchRequest, name: str, raw: str) -> None:
    iterate = name.endswith(":iterate")
    if raw == "*":
        inc = Include("*", "*", None, iterate)
    else:
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            raise bad_request(f"Malformed {name} '{raw}' (Type:param[:target])", name)
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        if code != "*":
            param = parser.registry.get(source, code)
            if param is None or param.type != "reference":
                raise bad_request(f"{name}: '{source}:{code}' is not a reference parameter", name)
        inc = Include(source, code, target, iterate)
    (request.revincludes if name.startswith("_revinclude") else request.includes).append(inc)


def ensure_no_errors(request: SearchRequest) -> SearchRequest:
    errors = [i for i in request.issues if i.is_error]
    if errors:
        raise FhirError(400, errors)
    return request


class _FilterTerms:
    """What `_filter` needs from the parser: parameter types and clauses for (name, value)."""

    def __init__(self, parser: _Parser, types: tuple[str, ...]) -> None:
        self.parser = parser
        self.types = types

    def param_type(self, name: str) -> str:
        try:
            return self.parser.resolve(self.types, name)[1].type
        except _Unknown as exc:
            raise bad_request(f"_filter: {exc}", "_filter") from exc

    def clause(self, name: str, raw: str) -> Clause:
        self.parser.internal = True
        try:
            return self.parser.clause(self.types, name, raw)
        except _Unknown as exc:
            raise bad_request(f"_filter: {exc}", "_filter") from exc
        except v.ValueError_ as exc:
            raise bad_request(f"_filter: invalid value for '{name}': {exc}", "_filter") from exc
        finally:
            self.parser.internal = False


def restrict(
    registry: SearchRegistry,
    request: SearchRequest,
    restrictions: Sequence[Sequence[tuple[str, str]]] | None,
    compartments: Sequence[tuple[str, str, Sequence[str]]] | None,
    *,
    base_url: str | None = None,
    restrict_includes: bool = False,
) -> SearchRequest:
    """Add access restrictions (OR-ed groups of AND-ed terms) and OR-ed compartments."""
    parser = _Parser(registry, base_url, True)
    if restrictions is not None:
        request.restrictions = parser.terms(request.resource_types, restrictions)
    if compartments is not None:
        request.compartments = tuple((c, i, tuple(codes)) for c, i, codes in compartments)
    request.restrict_includes = restrict_includes
    return request
