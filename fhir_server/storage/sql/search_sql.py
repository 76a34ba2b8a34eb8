"""Search clauses → SQLAlchemy Core conditions over `resource` and the index tables.

Spec: http://hl7.org/fhir/R4/search.html (matching rules per type, prefixes, modifiers, chaining,
reverse chaining, composite, `:in`/`:not-in`/`:above`/`:below`/`:of-type`, `_text`, `_content`,
`_list`).  Every clause becomes an `EXISTS` (or `NOT EXISTS`) correlated on the resource's
(res_type, res_id); chains and `_has` nest further `EXISTS` through `search_reference`;
`AnyOf`/`Negation` become OR/AND/NOT around them.  Composite values join their component rows
on `grp`.  Resource keys order byte-wise on both databases (migration 0008, `collate_c`).
Concept sets (`ConceptValue`) must be resolved to `CodeSetValue` before compiling (search.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    distinct,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import Select

from ...search import values as v
from ...search.dates import MAX_MS, MIN_MS
from ...search.extract import unit_sphere
from ...search.params import AnyOf, ByType, Clause, Condition, HasHop, Hop, Negation, SortKey
from .search_tables import (
    INDEX_TABLES,
    search_position,
    search_reference,
    search_text,
    search_token,
)
from .tables import resource

EARTH_KM = 6371.0088  # mean Earth radius (as search_near.haversine_km)
_TOP = "\U0010ffff"  # sorts after every other character, byte-wise, on both databases


def collate_c(expr: Any, dialect: str) -> Any:
    """Byte-wise ordering of resource keys.  Since migration 0008 the key columns are
    `COLLATE "C"` on PostgreSQL (BINARY on SQLite), so the plain column orders byte-wise and its
    indexes serve the order; an explicit COLLATE here would only hide them from the planner."""
    return expr


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_match(col: Any, prefix: str) -> ColumnElement[bool]:
    return and_(col >= prefix, col < prefix + _TOP)


def clause_condition(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """The condition a resource (given by its type and id columns) must meet for `clause`
    (`clause.walk`: its outermost check fenced as a correlated check per candidate, every level
    reading the candidate's own index rows)."""
    return _path(clause, clause.path, type_col, id_col, clause.walk, clause.walk)


def condition(expr: Condition, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """Any IR condition: a clause, OR-ed groups of AND-ed conditions, or a negation."""
    if isinstance(expr, Clause):
        return clause_condition(expr, type_col, id_col)
    if isinstance(expr, Negation):
        return not_(condition(expr.item, type_col, id_col))
    if isinstance(expr, AnyOf):
        if not expr.groups:
            return false()
        return or_(
            *(and_(true(), *(condition(c, type_col, id_col) for c in g)) for g in expr.groups)
        )
    if isinstance(expr, ByType):
        return by_type_condition(expr, type_col, id_col)
    raise TypeError(f"unexpected condition {expr!r}")


def by_type_condition(guard: ByType, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """Access control (`search.access`): the resource's type is listed and it meets the type's
    condition."""
    whole = [t for t, c in guard.cases if c is None]
    parts: list[Any] = [type_col.in_(whole)] if whole else []
    parts += [
        and_(type_col == t, condition(c, type_col, id_col)) for t, c in guard.cases if c is not None
    ]
    return or_(*parts) if parts else false()


def _path(
    clause: Clause,
    path: tuple[Hop | HasHop, ...],
    type_col: Any,
    id_col: Any,
    fence: bool = False,
    own_rows: bool = False,
) -> ColumnElement[bool]:
    """`fence`: this level's EXISTS is a correlated check per candidate (OFFSET 0); `own_rows`:
    string values at the end of the path are matched on the resource's own rows (a walk)."""
    if not path:
        if clause.inner is not None:
            return condition(clause.inner, type_col, id_col)
        return _param(clause, type_col, id_col, fence, own_rows)
    hop, rest = path[0], path[1:]
    ref = search_reference.alias()
    other = resource.alias()
    if isinstance(hop, Hop):
        inner = _path(clause, rest, other.c.res_type, other.c.res_id, False, own_rows)
        join_on = and_(other.c.res_type == ref.c.target_type, other.c.res_id == ref.c.target_id)
        where = [
            ref.c.res_type == type_col,
            ref.c.res_id == id_col,
            ref.c.param == hop.code,
            ref.c.target_type.in_(hop.types),
        ]
    else:
        inner = _path(clause, rest, other.c.res_type, other.c.res_id)
        join_on = and_(other.c.res_type == ref.c.res_type, other.c.res_id == ref.c.res_id)
        where = [
            ref.c.res_type == hop.source_type,
            ref.c.param == hop.code,
            ref.c.target_type == type_col,
            ref.c.target_id == id_col,
        ]
    if hop.guard is not None:  # access control: only resources the caller may see
        where.append(by_type_condition(hop.guard, other.c.res_type, other.c.res_id))
    query = select(literal(1)).select_from(ref.join(other, join_on))
    if fence or (isinstance(hop, HasHop) and hop.walk):
        # OFFSET 0 keeps PostgreSQL from pulling the EXISTS up into a semi-join (which collects
        # and sorts every match before the page): each candidate, in key order, is checked alone
        query = query.offset(0)
    return exists(query.where(*where, other.c.deleted.is_(False), inner))


def has_sample(clause: Clause, target_types: Sequence[str], window: int) -> Select[Any]:
    """How many of the first `window` references a clause's leading `_has` hop starts from
    (`source_type.code` to one of `target_types`, in index order) come from live sources meeting
    the rest of the clause — a bounded probe of how common the sources are (the window is read
    in index order and stops at `window`; each source is checked alone)."""
    hop, rest = clause.path[0], clause.path[1:]
    assert isinstance(hop, HasHop)
    ref, other = search_reference.alias(), resource.alias()
    sample = (
        select(ref.c.res_type, ref.c.res_id)
        .where(
            ref.c.res_type == hop.source_type,
            ref.c.param == hop.code,
            ref.c.target_type.in_(list(target_types)),
        )
        .order_by(ref.c.res_id)  # an index walk that stops at the window (no bitmap of all)
        .limit(window)
        .subquery()
    )
    where = [
        other.c.res_type == sample.c.res_type,
        other.c.res_id == sample.c.res_id,
        other.c.deleted.is_(False),
        _path(clause, rest, other.c.res_type, other.c.res_id),
    ]
    if hop.guard is not None:
        where.append(by_type_condition(hop.guard, other.c.res_type, other.c.res_id))
    meets = exists(select(literal(1)).select_from(other).where(*where).offset(0))
    return select(func.count()).select_from(sample).where(meets)


def walk_sample(clause: Clause, resource_types: Sequence[str], window: int) -> Select[Any]:
    """How many of the first `window` live resources of `resource_types` (in key order, as an
    unsorted page walks them) meet `clause` — a bounded probe of how common its matches are
    (each candidate checked alone, as the walk would)."""
    r = resource.alias()
    sample = (
        select(r.c.res_type, r.c.res_id)
        .where(r.c.res_type.in_(list(resource_types)), r.c.deleted.is_(False))
        .order_by(r.c.res_type, r.c.res_id)
        .limit(window)
        .subquery()
    )
    meets = _path(clause, clause.path, sample.c.res_type, sample.c.res_id, True, True)
    return select(func.count()).select_from(sample).where(meets)


def _param(
    clause: Clause, type_col: Any, id_col: Any, fence: bool = False, own_rows: bool = False
) -> ColumnElement[bool]:
    param, modifier = clause.param, clause.modifier
    if param.code == "_id":
        ids = [val.code for val in clause.values if isinstance(val, v.TokenValue) and val.code]
        return id_col.in_(ids) if ids else false()
    special = _SPECIAL.get(param.type)
    if special is not None and modifier != "missing":
        return special(clause, type_col, id_col)
    if param.type == "composite":  # :missing: has (no) value, i.e. no first-component row
        return _composite_missing(clause, type_col, id_col)
    if modifier in ("identifier", "of-type"):
        t, code = search_token.alias(), f"{param.code}:{modifier}"
    elif param.type in _OTHER_TABLES:
        t, code = _OTHER_TABLES[param.type].alias(), param.code
    else:
        t, code = INDEX_TABLES[param.type].alias(), param.code
    base = [t.c.res_type == type_col, t.c.res_id == id_col, t.c.param == code]
    if modifier == "missing":
        (missing,) = clause.values
        present = exists(select(literal(1)).select_from(t).where(*base))
        return not_(present) if isinstance(missing, v.MissingValue) and missing.missing else present
    rows = _ValueHidden(t) if own_rows and param.type == "string" else t
    matches = or_(*values_conditions(rows, param.type, modifier, clause.values))
    query = select(literal(1)).select_from(t).where(*base, matches)
    if fence:  # a correlated check per candidate (no semi-join pull-up): see _path
        query = query.offset(0)
    found = exists(query)
    return not_(found) if modifier in ("not", "not-in") else found


class _ValueHidden:
    """String index rows with `value` read as `value || ''` (same order and matches): the
    per-candidate check of a walk then reads the resource's own rows (`ix_search_string_res`)
    instead of scanning every match of the prefix in the value index for each candidate (the
    planner expects one row in a prefix range)."""

    def __init__(self, table: Any) -> None:
        self.c = _HiddenColumns(table)


class _HiddenColumns:
    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, name: str) -> Any:
        col = self._table.c[name]
        return col + literal("") if name == "value" else col

    def __getattr__(self, name: str) -> Any:
        return self[name]


def leaf_rows(clause: Clause, searched: Sequence[str], least: int) -> Select[Any] | None:
    """How many index rows (up to `least`) match a string or token clause's values at the end of
    its path (the types its last forward hop reaches, or the `searched` types) — a cheap bound on how many resources can
    match: below `least`, the semi-join collects few rows.  None: no such bound (computed or
    other parameters, `_has`, modifiers)."""
    param = clause.param
    if clause.inner is not None or clause.modifier is not None or param.code.startswith("_"):
        return None
    if param.type not in ("string", "token") or any(isinstance(h, HasHop) for h in clause.path):
        return None
    last = clause.path[-1] if clause.path else None
    types = list(last.types) if isinstance(last, Hop) else list(searched)
    if not types:
        return None
    t = INDEX_TABLES[param.type].alias()
    hits = (
        select(literal(1))
        .where(
            t.c.res_type.in_(types),
            t.c.param == param.code,
            or_(*values_conditions(t, param.type, None, clause.values)),
        )
        .limit(least)
        .subquery()
    )
    return select(func.count()).select_from(hits)


def values_conditions(
    t: Any, kind: str, modifier: str | None, values: Sequence[v.SearchValue]
) -> list[ColumnElement[bool]]:
    """The OR-ed conditions of an or-list (`a,b,c`): values of one shape become one `IN`
    (tokens by system, references by target type, urls, uris and exact strings), the others one
    condition each — the same rows as one condition per value, one index probe per list."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    rest: list[ColumnElement[bool]] = []
    for val in values:
        key = in_key(kind, modifier, val)
        if key is None:
            rest.append(value_condition(t, kind, modifier, val))
        else:
            groups.setdefault(key[:-1], []).append(key[-1])
    grouped = [_in_condition(t, key, items) for key, items in groups.items()]
    return [*grouped, *rest]


def in_key(kind: str, modifier: str | None, val: v.SearchValue) -> tuple[Any, ...] | None:
    """(column, shape..., value) when `val` can join an `IN` with values of the same shape:
    a token `code` (any system), `|code` (no system) or `system|code`; a reference by url, by
    `Type/id` or by bare id; a plain uri; an `:exact` string.  None: its own condition.  The
    shapes mirror `value_condition` (which the other values keep)."""
    if isinstance(val, v.TokenValue) and val.code is not None:
        if val.no_system:
            return ("code", "no-system", val.code)
        return ("code", "system", val.system, val.code)
    if isinstance(val, v.ReferenceValue):
        if val.url is not None:
            return ("url", val.url)
        return None if val.id is None else ("target_id", val.type or None, val.id)
    if isinstance(val, v.UriValue) and modifier not in ("below", "above"):
        return ("value", val.value)
    if isinstance(val, v.TextValue) and kind != "token" and modifier == "exact":
        return ("exact", val.raw)
    return None


def _in_condition(t: Any, key: tuple[Any, ...], items: list[str]) -> ColumnElement[bool]:
    column = key[0]
    values = list(dict.fromkeys(items))
    match: ColumnElement[bool] = (
        t.c[column] == values[0] if len(values) == 1 else t.c[column].in_(values)
    )
    if column == "code":
        if key[1] == "no-system":
            return and_(t.c.system.is_(None), match)
        return match if key[2] is None else and_(t.c.system == key[2], match)
    if column == "target_id" and key[1] is not None:
        return and_(t.c.target_type == key[1], match)
    return match


def _composite(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """Some composite value (one `grp`) has every component matching."""
    alternatives = []
    for val in clause.values:
        assert isinstance(val, v.CompositeValue)
        tables = [INDEX_TABLES[_KIND[type(part)]].alias() for part in val.parts]
        first = tables[0]
        source: Any = first
        for t in tables[1:]:
            source = source.join(
                t,
                and_(
                    t.c.res_type == first.c.res_type,
                    t.c.res_id == first.c.res_id,
                    t.c.grp == first.c.grp,
                ),
            )
        where = [first.c.res_type == type_col, first.c.res_id == id_col]
        for k, (t, part) in enumerate(zip(tables, val.parts, strict=True)):
            kind = _KIND[type(part)]
            where += [t.c.param == f"{clause.param.code}#{k}", value_condition(t, kind, None, part)]
        alternatives.append(exists(select(literal(1)).select_from(source).where(*where)))
    return or_(*alternatives) if alternatives else false()


def _composite_missing(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """`composite:missing`: a composite value exists when one value (`grp`) has a row for every
    component (each value's components are indexed under `code#k` with the value's `grp`)."""
    (missing,) = clause.values
    code = clause.param.code
    parts = [
        select(t.c.grp.label("grp"), t.c.param.label("param"))
        .where(
            t.c.res_type == type_col,
            t.c.res_id == id_col,
            t.c.param.like(f"{_like_escape(code)}#%", escape="\\"),
            t.c.grp.is_not(None),
        )
        .correlate_except(t)
        for t in (table.alias() for table in INDEX_TABLES.values())
    ]
    rows = union_all(*parts).subquery()
    whole = (
        select(rows.c.grp)
        .group_by(rows.c.grp)
        .having(func.count(distinct(rows.c.param)) == max(1, len(clause.param.component)))
    )
    present = exists(whole)
    return not_(present) if isinstance(missing, v.MissingValue) and missing.missing else present


def near_box(val: v.NearValue) -> tuple[float, float, float, float]:
    """(lat_lo, lat_hi, lon_lo, lon_hi): a box around the circle (exact distance checked later)."""
    dlat = val.km / 111.0
    cos = math.cos(math.radians(min(abs(val.latitude) + dlat, 89.9)))
    dlon = min(val.km / (111.0 * max(cos, 1e-6)), 180.0)
    return val.latitude - dlat, val.latitude + dlat, val.longitude - dlon, val.longitude + dlon


def _near(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    """Within the radius: the bounding box (index range) and the exact great-circle test as a
    chord length on the unit sphere (arithmetic only: the same on SQLite and PostgreSQL)."""
    alternatives = []
    for val in clause.values:
        assert isinstance(val, v.NearValue)
        t = search_position.alias()
        lat_lo, lat_hi, lon_lo, lon_hi = near_box(val)
        where = [
            t.c.res_type == type_col,
            t.c.res_id == id_col,
            t.c.param == clause.param.code,
            t.c.latitude.between(lat_lo, lat_hi),
            t.c.longitude.between(lon_lo, lon_hi),
        ]
        chord = near_chord(val)
        if chord is not None:
            x, y, z = unit_sphere(val.latitude, val.longitude)
            where.append(
                (t.c.x - x) * (t.c.x - x) + (t.c.y - y) * (t.c.y - y) + (t.c.z - z) * (t.c.z - z)
                <= chord * chord
            )
        alternatives.append(exists(select(literal(1)).where(*where)))
    return or_(*alternatives) if alternatives else false()


def near_chord(val: v.NearValue) -> float | None:
    """The chord on the unit sphere that spans the radius (None: the radius covers the globe)."""
    angle = val.km / EARTH_KM
    if angle >= math.pi:
        return None
    return 2 * math.sin(angle / 2) * (1 + 1e-12)  # float slack: a point on the circle is inside


def _text(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    t = search_text.alias()
    forms = [f for val in clause.values if isinstance(val, v.TextValue) for f in val.forms]
    like = or_(*(t.c.value.like("%" + _like_escape(f) + "%", escape="\\") for f in forms))
    return exists(
        select(literal(1)).where(
            t.c.res_type == type_col, t.c.res_id == id_col, t.c.param == clause.param.code, like
        )
    )


def _list(clause: Clause, type_col: Any, id_col: Any) -> ColumnElement[bool]:
    ids = [val.list_id for val in clause.values if isinstance(val, v.ListValue)]
    ref, lst = search_reference.alias(), resource.alias()
    return exists(
        select(literal(1))
        .select_from(
            ref.join(lst, and_(lst.c.res_type == ref.c.res_type, lst.c.res_id == ref.c.res_id))
        )
        .where(
            ref.c.res_type == "List",
            ref.c.res_id.in_(ids),
            ref.c.param == "item",
            ref.c.target_type == type_col,
            ref.c.target_id == id_col,
            lst.c.deleted.is_(False),
        )
    )


_SPECIAL: dict[str, Any] = {
    "composite": _composite,
    "special": _near,
    "text": _text,
    "list": _list,
}
_OTHER_TABLES = {"special": search_position, "text": search_text}
_KIND: dict[type, str] = {
    v.TokenValue: "token",
    v.CodeSetValue: "token",
    v.TextValue: "string",
    v.DateValue: "date",
    v.NumberValue: "number",
    v.QuantityValue: "quantity",
    v.ReferenceValue: "reference",
    v.UriValue: "uri",
}


def _code_set(t: Any, val: v.CodeSetValue) -> ColumnElement[bool]:
    by_system: dict[str | None, list[str]] = {}
    for system, code in sorted(val.codes, key=lambda sc: (sc[0] or "", sc[1])):
        by_system.setdefault(system, []).append(code)
    conds: list[Any] = [
        and_(t.c.system.is_(None) if system is None else t.c.system == system, t.c.code.in_(codes))
        for system, codes in by_system.items()
    ]
    if val.systems:
        conds.append(t.c.system.in_(sorted(val.systems)))
    conds += [and_(t.c.system == s, _prefix_match(t.c.code, p)) for s, p in sorted(val.prefixes)]
    conds += [
        and_(
            t.c.system == s,
            func.length(t.c.code) <= len(code),
            func.substr(literal(code), 1, func.length(t.c.code)) == t.c.code,
        )
        for s, code in sorted(val.above)
    ]
    return or_(*conds) if conds else false()


def value_condition(
    t: Any, kind: str, modifier: str | None, val: v.SearchValue
) -> ColumnElement[bool]:
    """One value of an or-list against one index row of table `t`."""
    if isinstance(val, v.TokenValue):
        return _token(t, val)
    if isinstance(val, v.CodeSetValue):
        return _code_set(t, val)
    if isinstance(val, v.OfTypeValue):
        return and_(t.c.system == val.system, t.c.code == val.code, t.c.text == val.value)
    if isinstance(val, v.ConceptValue):
        raise TypeError("concept sets must be resolved before compiling (storage.sql.search)")
    if isinstance(val, v.TextValue):
        if kind == "token":  # :text: a word of the display/text starts with the value
            return or_(
                *(
                    or_(
                        t.c.text.like(_like_escape(f) + "%", escape="\\"),
                        t.c.text.like("% " + _like_escape(f) + "%", escape="\\"),
                    )
                    for f in val.forms
                )
            )
        if modifier == "exact":
            return t.c.exact == val.raw
        if modifier == "_eq":
            return or_(*(t.c.value == f for f in val.forms))
        if modifier == "_ew":
            return or_(*(t.c.value.like("%" + _like_escape(f), escape="\\") for f in val.forms))
        if modifier == "contains":
            return or_(
                *(t.c.value.like("%" + _like_escape(f) + "%", escape="\\") for f in val.forms)
            )
        return or_(*(_prefix_match(t.c.value, f) for f in val.forms))
    if isinstance(val, v.DateValue):
        return _date(t, val)
    if isinstance(val, v.NumberValue):
        return _number(t.c.value, val)
    if isinstance(val, v.QuantityValue):
        conds = [_number(t.c.value, val.number)]
        if val.code:
            conds.append(t.c.code == val.code)
        if val.system:
            conds.append(t.c.system == val.system)
        return and_(*conds)
    if isinstance(val, v.ReferenceValue):
        return _reference(t, val)
    if isinstance(val, v.UriValue):
        if modifier == "below":
            return t.c.value.like(_like_escape(val.value) + "%", escape="\\")
        if modifier == "above":
            return and_(
                func.length(t.c.value) <= len(val.value),
                func.substr(literal(val.value), 1, func.length(t.c.value)) == t.c.value,
            )
        return t.c.value == val.value
    raise TypeError(f"unexpected search value {val!r}")


def _token(t: Table, val: v.TokenValue) -> ColumnElement[bool]:
    conds = []
    if val.code is not None:
        conds.append(t.c.code == val.code)
    if val.no_system:
        conds.append(t.c.system.is_(None))
    elif val.system is not None:
        conds.append(t.c.system == val.system)
    return and_(*conds) if conds else true()


def _reference(t: Table, val: v.ReferenceValue) -> ColumnElement[bool]:
    if val.url is not None:
        return t.c.url == val.url
    conds = [t.c.target_id == val.id]
    if val.type:
        conds.append(t.c.target_type == val.type)
    return and_(*conds)


def _date(t: Table, val: v.DateValue) -> ColumnElement[bool]:
    lo, hi, ql, qh = t.c.low, t.c.high, val.low, val.high
    contained = and_(lo >= ql, hi <= qh)
    rules: dict[str, Any] = {
        "eq": lambda: contained,
        "ne": lambda: not_(contained),
        "gt": lambda: hi > qh,
        "lt": lambda: lo < ql,
        "ge": lambda: or_(hi > qh, contained),
        "le": lambda: or_(lo < ql, contained),
        "sa": lambda: lo > qh,
        "eb": lambda: hi < ql,
        "ap": lambda: _approx_date(lo, hi, ql, qh),
        "po": lambda: and_(lo <= qh, hi >= ql),  # _filter: the ranges overlap
    }
    return rules[val.prefix]()


def _approx_date(lo: Any, hi: Any, ql: int, qh: int) -> ColumnElement[bool]:
    now = int(time.time() * 1000)
    margin = max(abs(now - ql), abs(now - qh)) // 10
    return and_(lo <= min(qh + margin, MAX_MS), hi >= max(ql - margin, MIN_MS))


def _number(col: Any, val: v.NumberValue) -> ColumnElement[bool]:
    x = val.value
    margin = abs(x) * 0.1
    rules: dict[str, Any] = {
        "eq": lambda: and_(col >= val.low, col < val.high),
        "ne": lambda: or_(col < val.low, col >= val.high),
        "gt": lambda: col > x,
        "lt": lambda: col < x,
        "ge": lambda: col >= x,
        "le": lambda: col <= x,
        "sa": lambda: col > x,
        "eb": lambda: col < x,
        "ap": lambda: and_(col >= x - margin, col <= x + margin),
    }
    return rules[val.prefix]()


# -- sorting --------------------------------------------------------------------------------------
_SORT_COLUMN = {
    "string": ("value", "value"),
    "token": ("code", "code"),
    "date": ("low", "high"),
    "number": ("value", "value"),
    "quantity": ("value", "value"),
    "reference": ("target_id", "target_id"),
    "uri": ("value", "value"),
}
_MISSING_LAST = {
    "string": (_TOP, ""),
    "token": (_TOP, ""),
    "reference": (_TOP, ""),
    "uri": (_TOP, ""),
    "date": (MAX_MS + 1, MIN_MS - 1),
    "number": (1e308, -1e308),
    "quantity": (1e308, -1e308),
}


def sort_expression(key: SortKey, type_col: Any, id_col: Any, dialect: str) -> Any:
    """One sortable scalar per resource: the lowest value ascending, the highest descending."""
    if key.param is None:
        return collate_c(id_col, dialect)
    kind = key.param.type
    t = INDEX_TABLES[kind].alias()
    column = t.c[_SORT_COLUMN[kind][1 if key.descending else 0]]
    agg = func.max(column) if key.descending else func.min(column)
    query = select(agg)
    for hop in key.path:  # chained sort: follow single-type references
        ref = search_reference.alias()
        query = query.where(
            ref.c.res_type == type_col,
            ref.c.res_id == id_col,
            ref.c.param == hop.code,
            ref.c.target_type == hop.types[0],
        )
        type_col, id_col = ref.c.target_type, ref.c.target_id
    scalar = query.where(
        t.c.res_type == type_col, t.c.res_id == id_col, t.c.param == key.code, t.c.grp.is_(None)
    ).scalar_subquery()
    missing = _MISSING_LAST[kind][1 if key.descending else 0]
    return func.coalesce(scalar, literal(missing))
