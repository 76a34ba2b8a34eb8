"""SearchParameter registry: the R4 base parameters plus those added from profiles/ or the API.

Spec: http://hl7.org/fhir/R4/search.html and http://hl7.org/fhir/R4/searchparameter.html

A `SearchRegistry` maps (resource type, code) to a typed `SearchParam`.  Parameters whose base is
`Resource` or `DomainResource` apply to every resource type.  Each parameter's FHIRPath expression is
narrowed per resource type (the unions in R4 list many bases) and compiled once per registry instance
(see `extract.py`); nothing is cached at module level.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conformance.packages import data_file

PARAM_TYPES = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
)
ABSTRACT_BASES = ("Resource", "DomainResource")
# Parameters the engine answers from the `resource` row itself (no FHIRPath extraction needed).
RESULT_PARAMS = frozenset(
    {
        "_sort",
        "_count",
        "_total",
        "_summary",
        "_elements",
        "_include",
        "_revinclude",
        "_contained",
        "_containedType",
        "_format",
        "_pretty",
        "_type",
        "_cursor",
        "_explain",
    }
)

_RESOLVE_IS = re.compile(r"\.where\(\s*resolve\(\)\s+is\s+(\w+)\s*\)")


@dataclass(frozen=True)
class Component:
    definition: str
    expression: str


@dataclass(frozen=True)
class SearchParam:
    """One SearchParameter, as the engine uses it."""

    code: str
    type: str
    base: tuple[str, ...]
    expression: str = ""
    url: str = ""
    target: tuple[str, ...] = ()
    modifier: tuple[str, ...] = ()
    comparator: tuple[str, ...] = ()
    multiple_or: bool = True
    multiple_and: bool = True
    chain: tuple[str, ...] = ()
    component: tuple[Component, ...] = ()
    description: str = field(default="", compare=False)

    @classmethod
    def from_resource(cls, sp: Mapping[str, Any]) -> SearchParam:
        """From a SearchParameter resource (or its compact package form)."""
        if sp.get("type") not in PARAM_TYPES:
            raise ValueError(f"SearchParameter {sp.get('url')}: unknown type {sp.get('type')!r}")
        return cls(
            code=sp["code"],
            type=sp["type"],
            base=tuple(sp.get("base") or ()),
            expression=sp.get("expression") or "",
            url=sp.get("url") or "",
            target=tuple(sp.get("target") or ()),
            modifier=tuple(sp.get("modifier") or ()),
            comparator=tuple(sp.get("comparator") or ()),
            multiple_or=sp.get("multipleOr", True) is not False,
            multiple_and=sp.get("multipleAnd", True) is not False,
            chain=tuple(sp.get("chain") or ()),
            component=tuple(
                Component(c["definition"], c["expression"]) for c in sp.get("component") or ()
            ),
            description=sp.get("description") or "",
        )


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on its top-level `|` (outside parentheses and quotes)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(expression):
        if quote:
            quote = "" if ch == quote and expression[i - 1] != "\\" else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _root(part: str) -> str:
    match = re.match(r"\(*\s*([A-Za-z_]\w*)", part)
    return match.group(1) if match else ""


def narrow_expression(expression: str, resource_type: str) -> tuple[str, tuple[str, ...]]:
    """The part of `expression` that applies to `resource_type`, with `resolve()` filters removed.

    Returns (expression, target types required by `where(resolve() is X)` filters; () = any).
    fhirpathpy cannot `resolve()`; the types are enforced on the extracted references instead.
    """
    kept: list[str] = []
    required: list[str] = []
    for part in split_union(expression):
        root = _root(part)
        if root in ABSTRACT_BASES:
            part = part.replace(root, resource_type, 1)
        elif root != resource_type and root[:1].isupper():
            continue
        found = _RESOLVE_IS.findall(part)
        required.extend(found)
        kept.append(_RESOLVE_IS.sub("", part))
    return " | ".join(kept), tuple(dict.fromkeys(required))


#: (value, modifier) → alternatives: OR-ed groups, each an AND of (parameter name, value) terms.
Rewrite = Callable[[str, str | None], list[list[tuple[str, str]]]]


@dataclass(frozen=True)
class ComputedParam:
    """A derived parameter: its value is rewritten into alternatives of ordinary search terms.

    E.g. `Patient?key-population=hypertension` →
    `[[("_has:Condition:subject:code:below", "http://hl7.org/fhir/sid/icd-10|I10")], ...]`.
    The terms are parsed against the parameter's base type, so they may chain, use `_has` or
    other computed parameters.
    """

    code: str
    base: tuple[str, ...]
    rewrite: Rewrite
    documentation: str = ""
    type: str = "token"  # the SearchParamType the CapabilityStatement declares


@dataclass
class SearchRegistry:
    """(resource type, code) → SearchParam; mutable only through `add` (profiles, API, $reindex)."""

    resource_types: frozenset[str] = field(repr=False)
    _by_type: dict[str, dict[str, SearchParam]] = field(default_factory=dict, repr=False)
    _by_url: dict[str, SearchParam] = field(default_factory=dict, repr=False)
    #: per-instance cache for compiled extractors (owned by `extract.Extractor`).
    compiled: dict[Any, Any] = field(default_factory=dict, repr=False)
    _computed: dict[tuple[str, str], ComputedParam] = field(default_factory=dict, repr=False)
    #: bumped by every change (an in-process counter).
    version: int = 0
    #: the `search_state` registry version last loaded from the database (-1: never).
    db_version: int = -1
    #: monotonic time of the last database check, and the minimum seconds between checks.
    checked_at: float = float("-inf")
    sync_interval: float = 1.0
    _fixed: list[SearchParam] = field(default_factory=list, repr=False)
    _stored: list[SearchParam] = field(default_factory=list, repr=False)

    def add(self, param: SearchParam) -> None:
        """Add a built-in parameter (R4 base, the guide's, or code-defined)."""
        self._fixed.append(param)
        self._put(param)

    def set_stored(self, params: Iterable[SearchParam]) -> None:
        """Replace the parameters that come from SearchParameter resources stored in the
        database (`$reindex`); built-in ones stay, stored ones override them by type and code."""
        by_type: dict[str, dict[str, SearchParam]] = {}
        by_url: dict[str, SearchParam] = {}
        self._stored = list(params)
        for param in [*self._fixed, *self._stored]:
            if param.url:
                by_url[param.url] = param
            for base in param.base:
                by_type.setdefault(base, {})[param.code] = param
        self._by_type, self._by_url = by_type, by_url
        self.compiled.clear()
        self.version += 1

    def _put(self, param: SearchParam) -> None:
        if param.url:
            self._by_url[param.url] = param
        for base in param.base:
            self._by_type.setdefault(base, {})[param.code] = param
        self.compiled.clear()
        self.version += 1

    def add_computed(self, param: ComputedParam) -> None:
        """Register a derived parameter (see `ComputedParam`) for each of its base types."""
        for base in param.base:
            self._computed[(base, param.code)] = param
        self.version += 1

    def computed(self, resource_type: str, code: str) -> ComputedParam | None:
        found = self._computed.get((resource_type, code))
        return found or self._computed.get(("Resource", code))

    def computed_for_type(self, resource_type: str) -> dict[str, ComputedParam]:
        return {
            code: p
            for (base, code), p in self._computed.items()
            if base in (resource_type, "Resource")
        }

    def extend(self, params: Iterable[SearchParam]) -> None:
        for param in params:
            self.add(param)

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        own = self._by_type.get(resource_type, {}).get(code)
        if own is not None:
            return own
        for base in ABSTRACT_BASES:
            found = self._by_type.get(base, {}).get(code)
            if found is not None and (base == "Resource" or resource_type not in _NOT_DOMAIN):
                return found
        return None

    def by_url(self, url: str) -> SearchParam | None:
        return self._by_url.get(url)

    def for_type(self, resource_type: str) -> dict[str, SearchParam]:
        """Every parameter that applies to `resource_type` (own ones override inherited ones)."""
        out: dict[str, SearchParam] = {}
        out.update(self._by_type.get("Resource", {}))
        if resource_type not in _NOT_DOMAIN:
            out.update(self._by_type.get("DomainResource", {}))
        out.update(self._by_type.get(resource_type, {}))
        return out

    def types_with(self, code: str) -> list[str]:
        """Resource types that have a parameter `code` (for `_type`-less chains)."""
        return sorted(t for t in self.resource_types if self.get(t, code) is not None)


_NOT_DOMAIN = frozenset({"Bundle", "Binary", "Parameters"})


def load_r4_parameters(path: Path | None = None) -> list[SearchParam]:
    """The compact R4 SearchParameters shipped as package data, with the known errata fixed
    (`r4-search-parameter-errata.json`)."""
    source = path or data_file("r4-search-parameters.json.gz")
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        definitions = json.load(fh)
    return [SearchParam.from_resource(sp) for sp in apply_errata(definitions, load_errata())]


def load_errata() -> list[dict[str, Any]]:
    """Corrections to R4 SearchParameter definitions (package data: url + replaced fields)."""
    data = json.loads(data_file("r4-search-parameter-errata.json").read_text(encoding="utf-8"))
    return list(data["errata"])


def apply_errata(
    definitions: Iterable[Mapping[str, Any]], errata: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`definitions` with each erratum's fields (all but `url` and `note`) replaced by url."""
    fixes = {e["url"]: {k: v for k, v in e.items() if k not in ("url", "note")} for e in errata}
    return [{**d, **fixes.get(d.get("url", ""), {})} for d in definitions]


@functools.lru_cache(maxsize=4)
def load_compartments(path: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """{compartment: {resource type: [param codes]}} from the R4 CompartmentDefinitions."""
    source = path or data_file("r4-compartments.json")
    return json.loads(source.read_text(encoding="utf-8"))


def guide_parameters() -> list[SearchParam]:
    """The implementation guide's own SearchParameters (profiles/searchparameters)."""
    from ..conformance.ig import load_ig_resources

    return [
        SearchParam.from_resource(r)
        for r in load_ig_resources()
        if r.get("resourceType") == "SearchParameter" and r.get("status") in ("active", "draft")
    ]


def stored_parameters(resources: Iterable[Mapping[str, Any]]) -> list[SearchParam]:
    """SearchParameter resources (from the database) the engine can use: active, known type."""
    out = []
    for r in resources:
        if r.get("status") == "active" and r.get("type") in PARAM_TYPES and r.get("code"):
            try:
                out.append(SearchParam.from_resource(r))
            except (KeyError, ValueError, TypeError):
                continue
    return out


def r4_registry(extra: Iterable[SearchParam] = ()) -> SearchRegistry:
    """A registry with every R4 SearchParameter (plus `extra`, e.g. `guide_parameters()`)."""
    types = json.loads(data_file("resource-types.json").read_text(encoding="utf-8"))
    registry = SearchRegistry(resource_types=frozenset(types))
    registry.extend(load_r4_parameters())
    registry.extend(extra)
    return registry


def server_registry() -> SearchRegistry:
    """What the server searches with: R4 (errata fixed), the guide's own SearchParameters (so
    they work before — and without — seeding), and the computed parameters of `computed.py`
    (Patient `age`).  SearchParameters stored in the database join at `$reindex`/start-up
    (`storage.sql.search_reindex.sync_registry`).  A module-level function, so worker
    processes (the bulk loader) can build their own."""
    from .computed import standard_computed

    registry = r4_registry(guide_parameters())
    for param in standard_computed():
        registry.add_computed(param)
    return registry
