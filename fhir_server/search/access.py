"""Access control inside a search: the caller's visibility compiled into the query itself.

Issue 5 ("nothing leaks through includes, chains, `_total`, paging links").  The services layer
supplies `AccessRules` for one request: for a resource type, whether the caller may see it and,
when restricted, which resources — as search terms (`TypeAccess`: OR-ed groups of AND-ed
(parameter, value) terms, minus excluded groups).  `apply_access` compiles them into the
`SearchRequest`:

- `request.access.matches` guards the matches, so `_total`, `_summary=count` and keyset cursors
  are computed over visible rows only (a cursor can only name a row the caller may see);
- every chain hop and `_has` source gets a guard, so `Observation?performer:Patient.birthdate=…`
  cannot test a Patient the caller may not read (a type the caller may not search at all is a 403);
- `_include` / `_revinclude` load only visible resources;
- a chained `_sort` through a type the caller sees only in part is refused (403): ordering by a
  hidden resource's values would be an oracle.

Pure: builds IR only; `storage.sql` compiles it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from ..core.errors import FhirError, error
from .params import (
    AnyOf,
    ByType,
    Clause,
    Condition,
    HasHop,
    Hop,
    Negation,
    SearchRequest,
    _Parser,
)
from .registry import SearchRegistry

Terms = tuple[tuple[str, str], ...]
Purpose = Literal["match", "chain", "include"]


@dataclass(frozen=True)
class TypeAccess:
    """What a caller may see of one resource type.

    `include`: OR-ed groups of AND-ed search terms (None: every resource of the type; `()`:
    none); `exclude`: OR-ed groups hidden even so (e.g. what a Consent denies), unless they
    match one of the `reinclude` groups (a Consent's exceptions to its own denial).
    """

    include: tuple[Terms, ...] | None = None
    exclude: tuple[Terms, ...] = ()
    reinclude: tuple[Terms, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return self.include is None and not self.exclude


class AccessRules(Protocol):
    """Supplied per request by the services layer (`services.access.AccessControl.rules`)."""

    def visibility(self, resource_type: str, purpose: Purpose) -> TypeAccess:
        """The caller's view of `resource_type`; raises `FhirError(403)` when the caller may
        not use the type at all for `purpose` (matches, a chain hop / `_has`, includes)."""
        ...


class _Compiled:
    """Visibility per (type, purpose), compiled to IR once per search."""

    def __init__(self, parser: _Parser, rules: AccessRules) -> None:
        self._parser = parser
        self._rules = rules
        self._cache: dict[tuple[str, Purpose], Condition | None | FhirError] = {}

    def case(self, rtype: str, purpose: Purpose) -> Condition | None | FhirError:
        key = (rtype, purpose)
        if key not in self._cache:
            try:
                self._cache[key] = self._compile(rtype, self._rules.visibility(rtype, purpose))
            except FhirError as exc:
                if exc.status != 403:
                    raise
                self._cache[key] = exc
        return self._cache[key]

    def _compile(self, rtype: str, access: TypeAccess) -> Condition | None:
        if access.unrestricted:
            return None
        parts: list[Condition] = []
        if access.include is not None:
            groups: list[tuple[Condition, ...]] = []
            for group in access.include:
                try:
                    groups.extend(self._parser.terms((rtype,), [group]).groups)
                except FhirError:
                    continue  # a restriction naming no parameter of this type admits nothing
            parts.append(AnyOf(tuple(groups)))
        if access.exclude:
            hidden: Condition = Negation(self._parser.terms((rtype,), list(access.exclude)))
            if access.reinclude:
                again = self._parser.terms((rtype,), list(access.reinclude))
                hidden = AnyOf(((hidden,), (again,)))
            parts.append(hidden)
        return parts[0] if len(parts) == 1 else AnyOf((tuple(parts),))

    def guard(self, types: Sequence[str], purpose: Purpose, *, explicit: bool) -> ByType:
        """The visible part of `types`.  `explicit`: a forbidden type is a 403 (the caller named
        it); otherwise forbidden types are left out, and a 403 only when none is left."""
        cases: list[tuple[str, Condition | None]] = []
        denied: FhirError | None = None
        for rtype in types:
            case = self.case(rtype, purpose)
            if isinstance(case, FhirError):
                if explicit:
                    raise case
                denied = denied or case
                continue
            cases.append((rtype, case))
        if not cases and denied is not None:
            raise denied
        return ByType(tuple(cases))


@dataclass
class _Guard:
    """`params.AccessGuard` for one search."""

    compiled: _Compiled
    matches: ByType

    def included(self, types: Sequence[str]) -> ByType:
        return ByType(
            tuple(
                (t, c)
                for t in types
                if not isinstance(c := self.compiled.case(t, "include"), FhirError)
            )
        )


def apply_access(
    registry: SearchRegistry,
    request: SearchRequest,
    rules: AccessRules,
    *,
    base_url: str | None = None,
) -> SearchRequest:
    """Guard the matches, every chain hop and `_has`, includes and chained sorts of `request`."""
    compiled = _Compiled(_Parser(registry, base_url, True), rules)
    if request.resource_types:
        matches = compiled.guard(request.resource_types, "match", explicit=True)
    else:  # system search over every type: the ones the caller may not search are left out
        matches = compiled.guard(sorted(registry.resource_types), "match", explicit=False)
    request.clauses = [_guarded(c, compiled) for c in request.clauses]
    for key in request.sort:
        for hop in key.path:
            for rtype in hop.types:
                case = compiled.case(rtype, "chain")
                if case is not None:
                    raise FhirError(
                        403,
                        error(
                            "forbidden",
                            f"_sort '{key.code}' orders by {rtype} resources that are only "
                            "partly visible to this caller; sort by the resource's own values",
                            "_sort",
                            message_id="JY-0403-SORT",
                        ),
                    )
    request.access = _Guard(compiled, matches)
    return request


def _guarded(cond: Condition, compiled: _Compiled) -> Condition:
    if isinstance(cond, Clause):
        path = tuple(_hop(h, compiled) for h in cond.path)
        inner = _guarded(cond.inner, compiled) if cond.inner is not None else None
        assert inner is None or isinstance(inner, AnyOf)
        return replace(cond, path=path, inner=inner)
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(tuple(_guarded(c, compiled) for c in g) for g in cond.groups))
    if isinstance(cond, Negation):
        return Negation(_guarded(cond.item, compiled))
    return cond


def _hop(hop: Hop | HasHop, compiled: _Compiled) -> Hop | HasHop:
    if isinstance(hop, Hop):
        return replace(hop, guard=compiled.guard(hop.types, "chain", explicit=len(hop.types) == 1))
    return replace(hop, guard=compiled.guard((hop.source_type,), "chain", explicit=True))
