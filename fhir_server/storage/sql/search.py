"""Run a search: query → `SearchRequest` → SQL with keyset paging, totals and includes.

Spec: http://hl7.org/fhir/R4/search.html (and #count, #sort, #revinclude, #total);
paging: http://hl7.org/fhir/R4/http.html#paging.

Entry point for the services layer:

    execute_search(conn, dialect, registry, resource_types, query, *, base_url=None,
                   page_size=20, strict=False, cursor_secret=None, max_page_size=1000,
                   compartment=None, restrictions=None, compartments=None,
                   restrict_includes=False, allow_explain=False, concepts=None, access=None)
        -> SearchResult

Matches are current, non-deleted resources.  Paging is keyset-based (the cursor holds the last
row's sort keys), so pages stay correct while other clients write.  `restrictions` (OR-ed groups
of AND-ed terms) and `compartments` (OR-ed) are access filters applied on top of the query, to
`_total` and paging, and — with `restrict_includes` — to included resources of the searched
types.  `near` searches are ordered by distance (exact haversine on the bounding-box candidates).
`_explain=true` (only with `allow_explain`) returns the database plan instead of results.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import Select

from ...core.errors import FhirError, Issue, bad_request, error
from ...search.access import AccessRules, apply_access
from ...search.concepts import Fetch
from ...search.paging import Cursor, carried_total, decode_cursor, encode_cursor, query_hash
from ...search.params import (
    Clause,
    HasHop,
    Hop,
    Include,
    SearchRequest,
    parse_search,
    restrict,
)
from ...search.registry import SearchRegistry
from ..ports import StoredResource
from . import search_sort
from .dialects import custom_plans
from .search_explain import explain_plan, render_sql
from .search_near import near_clause, near_page, near_query
from .search_reindex import sync_registry
from .search_resolve import ConceptResolver, resolve_concepts
from .search_sort import sorted_page
from .search_sql import (
    by_type_condition,
    collate_c,
    condition,
    has_sample,
    leaf_rows,
    sort_expression,
    walk_sample,
)
from .search_tables import search_contained, search_reference
from .tables import resource

MAX_INCLUDE_DEPTH = 4
#: `_has` sources, string prefixes and chains at least this common (share of a sample of
#: `HAS_PROBE_WINDOW` references or candidates): the page walks candidates in order
#: (plan_walks)
HAS_PROBE_WINDOW = 400
HAS_WALK_SHARE = 0.05
#: string prefixes and chains: walked when at least `CLAUSE_WALK_LEAST` index rows match (fewer:
#: the semi-join is cheap) and this share of the first `CLAUSE_PROBE_WINDOW` candidates match
#: (the walk then checks about `_count` / share candidates, fewer than the semi-join collects)
CLAUSE_WALK_SHARE = 0.02
CLAUSE_WALK_LEAST = 5000
#: a chain's leaf rows fan out (a Patient has many Observations): walked from fewer leaf rows
CHAIN_WALK_LEAST = 2000
CLAUSE_PROBE_WINDOW = 100
#: a chain whose leaf values are common (≥ `CHAIN_WALK_LEAST` rows) but whose probe of the first
#: `CLAUSE_PROBE_WINDOW` candidates met too few (a chain's matches cluster in key order: a
#: resident's observations sit side by side) is first walked over at most this many candidates;
#: a full page there is the page (bounded_walk_page), else the semi-join runs
BOUNDED_WALK_CANDIDATES = 1000


@dataclass
class SearchResult:
    """One page of a search.  `next_cursor` goes into the `_cursor` parameter of the next link."""

    matches: list[StoredResource]
    includes: list[StoredResource] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    self_link_params: list[tuple[str, str]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    request: SearchRequest | None = None
    #: `_explain=true`: the database plan (lines) of the page query, instead of matches
    plan: list[str] | None = None
    #: contained matches (`_containedType=contained`): (type, key) → `Container/id#local`
    full_urls: dict[tuple[str, str], str] = field(default_factory=dict)


def _record(row: Any) -> StoredResource:
    m = row._mapping
    updated = m["last_updated"]
    updated = updated.replace(tzinfo=UTC) if updated.tzinfo is None else updated.astimezone(UTC)
    return StoredResource(
        resource_type=m["res_type"],
        id=m["res_id"],
        version_id=m["version_id"],
        last_updated=updated,
        deleted=bool(m["deleted"]),
        content=m["content"],
    )


def execute_search(
    conn: Connection,
    dialect: str,
    registry: SearchRegistry,
    resource_types: Sequence[str] | str | None,
    query: Sequence[tuple[str, str]],
    *,
    base_url: str | None = None,
    page_size: int = 20,
    strict: bool = False,
    cursor_secret: bytes | None = None,
    max_page_size: int = 1000,
    compartment: tuple[str, str, Sequence[str]] | None = None,
    restrictions: Sequence[Sequence[tuple[str, str]]] | None = None,
    compartments: Sequence[tuple[str, str, Sequence[str]]] | None = None,
    restrict_includes: bool = False,
    allow_explain: bool = False,
    concepts: ConceptResolver | None = None,
    access: AccessRules | None = None,
    packaged: Fetch | None = None,
) -> SearchResult:
    """Parse and run a search over `resource_types` (None or empty: every type, system search).

    `compartment` = (compartment type, id, param codes) restricts matches to that compartment, e.g.
    ("Patient", "123", load_compartments()["Patient"]["Observation"]) for `Patient/123/Observation`.
    `restrictions`: OR-ed groups, each an AND of (parameter, value) terms, e.g.
    `[[("general-practitioner", "Practitioner/7")], [("_has:CareTeam:patient:participant", "Practitioner/7")]]`;
    `compartments`: OR-ed (type, id, codes) like `compartment`.  `concepts` resolves `:in`/`:below`/
    `:above` values (default: a minimal expander over the ValueSets/CodeSystems stored here, then
    those `packaged` finds — `(resource type, canonical) → definition`, e.g. the guide's).
    `access`: the caller's visibility (`search.access`), applied to matches, `_total`, paging,
    chains, `_has` and includes.
    """
    sync_registry(conn, registry)  # pick up SearchParameters a `$reindex` (anywhere) made current
    types = [resource_types] if isinstance(resource_types, str) else list(resource_types or [])
    request = parse_search(
        registry, types, query, strict=strict, base_url=base_url, default_count=page_size
    )
    if compartment is not None:
        request.compartment = (compartment[0], compartment[1], tuple(compartment[2]))
    restrict(
        registry,
        request,
        restrictions,
        compartments,
        base_url=base_url,
        restrict_includes=restrict_includes,
    )
    if access is not None:
        apply_access(registry, request, access, base_url=base_url)
    if request.explain and not allow_explain:
        raise FhirError(403, error("forbidden", "_explain is for administrators", "_explain"))
    resolve_concepts(conn, request, concepts, packaged)
    return run_search(
        conn, dialect, request, cursor_secret=cursor_secret, max_page_size=max_page_size
    )


def contained_mode(request: SearchRequest) -> tuple[str, str]:
    """(`_contained`: false | true | both, `_containedType`: container | contained)."""
    return request.contained or "false", request.contained_type or "container"


def source(request: SearchRequest) -> Any:
    """What a search iterates: `resource`, or — for `_containedType=contained` — the contained
    resources of live resources (`_contained=true`) or both (`both`), as rows shaped like
    `resource` plus `contained_in` (`Container/id#local`, NULL for a resource)."""
    mode, kind = contained_mode(request)
    if mode == "false" or kind == "container":
        return resource
    c, r = search_contained, resource.alias("container")
    inner = select(
        c.c.res_type,
        c.c.res_id,
        r.c.version_id,
        r.c.last_updated,
        r.c.deleted,
        c.c.content,
        (c.c.container_type + "/" + c.c.container_id + "#" + c.c.local_id).label("contained_in"),
    ).join_from(c, r, and_(r.c.res_type == c.c.container_type, r.c.res_id == c.c.container_id))
    if mode == "true":
        return inner.subquery("src")
    own = select(*resource.c, null().label("contained_in"))
    return union_all(own, inner).subquery("src")


def filtered_select(request: SearchRequest, columns: Iterable[Any], src: Any = None) -> Select[Any]:
    """`SELECT columns FROM resource WHERE <live, of the types, every clause>` (no order/limit);
    `src`: the `source(request)` the columns come from (default `resource`)."""
    r = resource if src is None else src
    conds: list[Any] = [r.c.deleted.is_(False)]
    mode, kind = contained_mode(request)
    own = [condition(c, r.c.res_type, r.c.res_id) for c in request.clauses]
    if request.resource_types:
        own.insert(0, r.c.res_type.in_(request.resource_types))
    if mode != "false" and kind == "container":  # containers of matching contained resources
        via = _contains_match(request, r.c.res_type, r.c.res_id)
        conds.append(via if mode == "true" else or_(and_(true(), *own), via))
    else:
        conds.extend(own)
    if request.compartment is not None:
        conds.append(_in_compartment(*request.compartment, r.c.res_type, r.c.res_id))
    conds.extend(access_conditions(request, r.c.res_type, r.c.res_id))
    if request.access is not None:
        conds.append(by_type_condition(request.access.matches, r.c.res_type, r.c.res_id))
    return select(*columns).where(and_(*conds))


def _contains_match(request: SearchRequest, type_col: Any, id_col: Any) -> Any:
    """The resource contains a resource of the searched types meeting every clause."""
    c = search_contained.alias()
    where = [c.c.container_type == type_col, c.c.container_id == id_col]
    if request.resource_types:
        where.append(c.c.res_type.in_(request.resource_types))
    where += [condition(x, c.c.res_type, c.c.res_id) for x in request.clauses]
    return exists(select(literal(1)).select_from(c).where(*where))


def access_conditions(request: SearchRequest, type_col: Any, id_col: Any) -> list[Any]:
    """The access filters (restrictions, OR-ed compartments) for a resource's columns."""
    conds: list[Any] = []
    if request.restrictions is not None:
        conds.append(condition(request.restrictions, type_col, id_col))
    if request.compartments is not None:
        conds.append(
            or_(*(_in_compartment(*c, type_col, id_col) for c in request.compartments))
            if request.compartments
            else false()
        )
    return conds


def _in_compartment(
    ctype: str, cid: str, codes: tuple[str, ...], type_col: Any = None, id_col: Any = None
) -> Any:
    type_col = resource.c.res_type if type_col is None else type_col
    id_col = resource.c.res_id if id_col is None else id_col
    ref = search_reference.alias()
    linked = exists(
        select(literal(1)).where(
            ref.c.res_type == type_col,
            ref.c.res_id == id_col,
            ref.c.param.in_(codes),
            ref.c.target_type == ctype,
            ref.c.target_id == cid,
        )
    )
    itself = and_(type_col == ctype, id_col == cid)
    return or_(linked, itself) if codes else itself


def run_search(
    conn: Connection,
    dialect: str,
    request: SearchRequest,
    *,
    cursor_secret: bytes | None = None,
    max_page_size: int = 1000,
) -> SearchResult:
    custom_plans(conn)  # after a write in this transaction (dialects.generic_plans)
    count = min(request.count if request.count is not None else 20, max_page_size)
    qhash = query_hash(request.applied)
    cursor = decode_cursor(request.cursor, qhash, cursor_secret) if request.cursor else None
    result = SearchResult(
        matches=[],
        self_link_params=list(request.applied),
        issues=list(request.issues),
        request=request,
    )
    carried = carried_total(cursor, request.total) if request.summary != "count" else None
    total_kind = "accurate"
    if carried is not None and cursor is not None:  # counted on the first page, not again
        result.total, total_kind = carried, cursor.total_kind or "accurate"
    elif request.total == "estimate" and dialect == "postgresql" and request.summary != "count":
        result.total, total_kind = estimated_total(conn, request), "estimate"
    elif request.total in ("accurate", "estimate") or request.summary == "count":
        src = source(request)
        result.total = conn.execute(
            filtered_select(request, [func.count()], src).select_from(src)
        ).scalar_one()
    if request.summary == "count" or count == 0:
        return result
    request, tentative = plan_walks(conn, request)  # the page only: counts keep the semi-join
    if request.explain:
        query = explained_query(conn, dialect, request, tentative, cursor, count + 1)
        result.plan = explain_plan(conn, dialect, query)
        return result
    near = (
        near_page(conn, request, filtered_select, cursor, count + 1, source(request))
        if _by_distance(request)
        else None
    )
    if near is not None:
        rows, keys, near_total = near
        if result.total is not None and request.total != "estimate":
            result.total = near_total
    else:
        fast = (
            sorted_page(conn, dialect, request, filtered_select, cursor, count + 1)
            if _plain(request)
            else None
        )
        if fast is None and tentative is not None:
            fast = bounded_walk_page(conn, dialect, tentative, cursor, count + 1)
        rows = fast if fast is not None else _page(conn, dialect, request, cursor, count + 1)
        keys = [(*(r._mapping[f"sort_{i}"] for i in range(len(request.sort))),) for r in rows]
    more = len(rows) > count
    rows = rows[:count]
    result.matches = [_record(row) for row in rows]
    result.full_urls = {
        (row._mapping["res_type"], row._mapping["res_id"]): row._mapping["contained_in"]
        for row in rows
        if "contained_in" in row._mapping and row._mapping["contained_in"]
    }
    if more:
        last = rows[-1]._mapping
        key = keys[count - 1]
        result.next_cursor = encode_cursor(
            Cursor(
                (*key, last["res_type"], last["res_id"]),
                qhash,
                result.total,
                total_kind if result.total is not None else None,
            ),
            cursor_secret,
        )
    if result.total is None and cursor is None and not more and request.total != "none":
        result.total = len(result.matches)
    result.includes = _includes(conn, request, result.matches)
    return result


def _page(
    conn: Connection, dialect: str, request: SearchRequest, cursor: Cursor | None, limit: int
) -> list[Any]:
    return list(conn.execute(_page_query(dialect, request, cursor, limit)))


def page_query(
    dialect: str, request: SearchRequest, cursor: Cursor | None, limit: int
) -> Select[Any]:
    """The main query of a page, as `run_search` runs it: the distance candidates of a `near`
    search, the index-ordered walk of a one-key `_sort`, or the generic ordered query."""
    near = near_query(request, filtered_select, source(request)) if _by_distance(request) else None
    if near is not None:
        return near
    if _plain(request) and search_sort.applies(request):
        return search_sort.valued_query(dialect, request, filtered_select, cursor, limit)
    return _page_query(dialect, request, cursor, limit)


def plan_walks(
    conn: Connection,
    request: SearchRequest,
    window: int | None = None,
    share: float | None = None,
    *,
    clause_share: float | None = None,
    least: int | None = None,
) -> tuple[SearchRequest, SearchRequest | None]:
    """The request with each top-level clause whose matches are common compiled as an ordered
    walk: candidates in key order, each checked alone, stopping after the page — instead of
    collecting and sorting every match (cost grows with the data). `_has`: common when at least
    `share` of a bounded sample (the first `window` references of the hop;
    search_sql.has_sample) meet the clause. String prefixes and forward chains, on a page in
    key order (no `_sort`): when at least `least` (default `CLAUSE_WALK_LEAST`, chains
    `CHAIN_WALK_LEAST`) index rows match the (leaf) values (search_sql.leaf_rows, a bounded
    count; fewer: the semi-join is cheap) and at least `clause_share` of the first `window`
    candidates (default `CLAUSE_PROBE_WINDOW`) match (search_sql.walk_sample; the walk then
    checks about page / share candidates). Rare matches keep the semi-join. A share ≤ 0 always
    walks. Unchanged request when nothing applies.

    The second of the pair: for chains whose leaf values are common but whose probe met too
    few, the request with those walked too — to try over a bounded run of candidates first
    (bounded_walk_page); None when there is none."""
    if not request.resource_types:
        return request, None
    clause_window = CLAUSE_PROBE_WINDOW if window is None else window
    window = HAS_PROBE_WINDOW if window is None else window
    share = HAS_WALK_SHARE if share is None else share
    clause_share = CLAUSE_WALK_SHARE if clause_share is None else clause_share
    clauses: list[Any] = []
    tried: list[Any] = []
    changed = False
    for c in request.clauses:
        maybe = c
        if isinstance(c, Clause) and c.path and isinstance(c.path[0], HasHop):
            met = conn.execute(has_sample(c, request.resource_types, window)).scalar_one()
            if met >= max(1, share * window) or share <= 0:
                hop = dataclasses.replace(c.path[0], walk=True)
                c = maybe = dataclasses.replace(c, path=(hop, *c.path[1:]))
                changed = True
        elif isinstance(c, Clause) and walkable(request, c):
            verdict = (
                "walk"
                if clause_share <= 0
                else _common(conn, request, c, clause_window, clause_share, least)
            )
            if verdict == "walk":
                c = maybe = dataclasses.replace(c, walk=True)
                changed = True
            elif verdict == "try":
                maybe = dataclasses.replace(c, walk=True)
        clauses.append(c)
        tried.append(maybe)
    planned = dataclasses.replace(request, clauses=clauses) if changed else request
    tentative = dataclasses.replace(request, clauses=tried) if tried != clauses else None
    return planned, tentative


def _common(
    conn: Connection,
    request: SearchRequest,
    clause: Clause,
    window: int,
    share: float,
    least: int | None,
) -> str:
    """ "walk" (common), "try" (a chain whose leaf values are common but the probe of the first
    candidates met too few: walk a bounded run first) or "join" (rare: the semi-join)."""
    if least is None:
        least = CHAIN_WALK_LEAST if clause.path else CLAUSE_WALK_LEAST
    bound = leaf_rows(clause, request.resource_types, least) if least > 0 else None
    if bound is not None and conn.execute(bound).scalar_one() < least:
        return "join"
    met = conn.execute(walk_sample(clause, request.resource_types, window)).scalar_one()
    if met >= max(1, share * window):
        return "walk"
    return "try" if clause.path and bound is not None else "join"


def bounded_walk_query(
    conn: Connection,
    dialect: str,
    request: SearchRequest,
    cursor: Cursor | None,
    limit: int,
    candidates: int | None = None,
) -> tuple[Select[Any], bool]:
    """The page query of a (walked) request over at most `candidates` (default
    `BOUNDED_WALK_CANDIDATES`) live resources of its types after the cursor, in key order, and
    whether more candidates follow that run (the edge: the run's last candidate)."""
    n = BOUNDED_WALK_CANDIDATES if candidates is None else candidates
    r = resource.alias()
    keys = [(r.c.res_type, False), (r.c.res_id, False)]
    last_candidate = select(r.c.res_type, r.c.res_id).where(
        r.c.res_type.in_(list(request.resource_types)), r.c.deleted.is_(False)
    )
    if cursor is not None:
        last_candidate = last_candidate.where(_after(keys, cursor.key[-2:]))
    edge = conn.execute(
        last_candidate.order_by(r.c.res_type, r.c.res_id).offset(n - 1).limit(1)
    ).first()
    query = _page_query(dialect, request, cursor, limit)
    if edge is None:
        return query, False
    inner = query.selected_columns
    # a row comparison: the primary-key scan stops at the edge (an index condition)
    bounded = query.where(
        tuple_(inner.res_type, inner.res_id) <= tuple_(edge.res_type, edge.res_id)
    )
    return bounded, True


def bounded_walk_page(
    conn: Connection,
    dialect: str,
    request: SearchRequest,
    cursor: Cursor | None,
    limit: int,
    candidates: int | None = None,
) -> list[Any] | None:
    """The page of a (walked) request found among a bounded run of candidates
    (bounded_walk_query) — or None when that run holds fewer than `limit` matches and more
    candidates follow it. A full page there is the page: every later match sorts after the
    run's last candidate."""
    query, more = bounded_walk_query(conn, dialect, request, cursor, limit, candidates)
    rows = list(conn.execute(query))
    return rows if len(rows) >= limit or not more else None


def walkable(request: SearchRequest, clause: Clause) -> bool:
    """A string prefix or a forward chain on a page that walks the resources in key order (no
    `_sort`, no `_contained`): the clauses whose semi-join grows with common matches."""
    if request.sort or not _plain(request) or clause.walk:
        return False
    if clause.path:
        return isinstance(clause.path[0], Hop)
    return clause.param.type == "string" and clause.modifier is None and clause.inner is None


def _by_distance(request: SearchRequest) -> bool:
    """A `near` page can be distance-ordered: the matches are the resources themselves, or the
    contained resources (`_containedType=contained`); containers keep the id order."""
    return _plain(request) or contained_mode(request)[1] == "contained"


def _plain(request: SearchRequest) -> bool:
    """A search over `resource` itself (no `_contained`): the index-ordered paths apply."""
    return contained_mode(request)[0] == "false"


def estimated_total(conn: Connection, request: SearchRequest) -> int:
    """`_total=estimate` on PostgreSQL: the planner's row estimate for the matches (no count)."""
    src = source(request)
    query = filtered_select(request, [src.c.res_id], src)
    sql = render_sql(conn, query)
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql.replace("%", "%%")).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def explain_search(
    conn: Connection, dialect: str, request: SearchRequest, *, analyze: bool = False
) -> list[str]:
    """The database plan of the first page of a parsed search (`analyze`: PostgreSQL runs it and
    reports timings and buffers) — for `_explain` and the benchmark."""
    resolve_concepts(conn, request, None)
    request, tentative = plan_walks(conn, request)
    count = request.count if request.count is not None else 20
    query = explained_query(conn, dialect, request, tentative, None, count + 1)
    return explain_plan(conn, dialect, query, analyze)


def explained_query(
    conn: Connection,
    dialect: str,
    request: SearchRequest,
    tentative: SearchRequest | None,
    cursor: Cursor | None,
    limit: int,
) -> Select[Any]:
    """The query a page's plan shows: the bounded walk run_search tries first when there is one
    (its semi-join fallback runs only when that run holds no full page), else `page_query`."""
    if tentative is not None and near_clause(request) is None:
        return bounded_walk_query(conn, dialect, tentative, cursor, limit)[0]
    return page_query(dialect, request, cursor, limit)


def _page_query(
    dialect: str, request: SearchRequest, cursor: Cursor | None, limit: int
) -> Select[Any]:
    r = source(request)
    sort_cols = [
        sort_expression(key, r.c.res_type, r.c.res_id, dialect).label(f"sort_{i}")
        for i, key in enumerate(request.sort)
    ]
    inner = filtered_select(request, [*r.c, *sort_cols], r).subquery("matches")
    keys = [(inner.c[f"sort_{i}"], key.descending) for i, key in enumerate(request.sort)]
    keys.append((collate_c(inner.c.res_type, dialect), False))
    keys.append((collate_c(inner.c.res_id, dialect), False))
    query = select(inner)
    if cursor is not None:
        if len(cursor.key) != len(keys):
            raise bad_request("The paging cursor does not fit this search", "_cursor")
        query = query.where(_after(keys, cursor.key))
    order = [col.desc() if desc else col.asc() for col, desc in keys]
    return query.order_by(*order).limit(limit)


def _after(keys: list[tuple[Any, bool]], values: Sequence[Any]) -> Any:
    """Keyset predicate: rows strictly after `values` in the (mixed-direction) sort order."""
    alternatives = []
    for i, (col, desc) in enumerate(keys):
        equal = [c == values[j] for j, (c, _) in enumerate(keys[:i])]
        alternatives.append(and_(*equal, col < values[i] if desc else col > values[i]))
    return or_(*alternatives)


# -- _include / _revinclude ------------------------------------------------------------------------
def _includes(
    conn: Connection, request: SearchRequest, matches: list[StoredResource]
) -> list[StoredResource]:
    if not (request.includes or request.revincludes) or not matches:
        return []
    seen = {(m.resource_type, m.id) for m in matches}
    found: list[StoredResource] = []
    frontier = list(matches)
    for depth in range(MAX_INCLUDE_DEPTH):
        keys: set[tuple[str, str]] = set()
        for inc in request.includes:
            if depth == 0 or inc.iterate:
                keys |= _forward(conn, inc, frontier)
        for inc in request.revincludes:
            if depth == 0 or inc.iterate:
                keys |= _reverse(conn, inc, frontier)
        new = [r for r in _load(conn, keys - seen, request)]
        if not new:
            break
        seen |= {(r.resource_type, r.id) for r in new}
        found.extend(new)
        frontier = new
    return found


def _by_type(resources: Iterable[StoredResource]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for res in resources:
        out.setdefault(res.resource_type, []).append(res.id)
    return out


def _forward(
    conn: Connection, inc: Include, frontier: list[StoredResource]
) -> set[tuple[str, str]]:
    ref = search_reference
    keys: set[tuple[str, str]] = set()
    for res_type, ids in _by_type(frontier).items():
        if inc.source_type not in ("*", res_type):
            continue
        q = select(ref.c.target_type, ref.c.target_id).where(
            ref.c.res_type == res_type, ref.c.res_id.in_(ids), ref.c.target_id.is_not(None)
        )
        if inc.code != "*":
            q = q.where(ref.c.param == inc.code)
        if inc.target_type:
            q = q.where(ref.c.target_type == inc.target_type)
        keys |= {(t, i) for t, i in conn.execute(q)}
    return keys


def _reverse(
    conn: Connection, inc: Include, frontier: list[StoredResource]
) -> set[tuple[str, str]]:
    ref = search_reference
    keys: set[tuple[str, str]] = set()
    for res_type, ids in _by_type(frontier).items():
        if inc.target_type and inc.target_type != res_type:
            continue
        q = select(ref.c.res_type, ref.c.res_id).where(
            ref.c.target_type == res_type, ref.c.target_id.in_(ids)
        )
        if inc.source_type != "*":
            q = q.where(ref.c.res_type == inc.source_type)
        if inc.code != "*":
            q = q.where(ref.c.param == inc.code)
        keys |= {(t, i) for t, i in conn.execute(q)}
    return keys


def _load(
    conn: Connection, keys: set[tuple[str, str]], request: SearchRequest | None = None
) -> list[StoredResource]:
    out: list[StoredResource] = []
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in sorted(keys):
        by_type.setdefault(res_type, []).append(res_id)
    for res_type, ids in by_type.items():
        q = select(resource).where(
            resource.c.res_type == res_type,
            resource.c.res_id.in_(ids),
            resource.c.deleted.is_(False),
        )
        if request is not None and request.restrict_includes and res_type in request.resource_types:
            q = q.where(*access_conditions(request, resource.c.res_type, resource.c.res_id))
        if request is not None and request.access is not None:
            guard = request.access.included([res_type])
            q = q.where(by_type_condition(guard, resource.c.res_type, resource.c.res_id))
        out.extend(_record(row) for row in conn.execute(q.order_by(resource.c.res_id)))
    return out
