"""Where CodeSystems, ValueSets and ConceptMaps come from.

Spec: http://hl7.org/fhir/R4/terminology-service.html (a terminology service resolves canonical URLs
of the resources it knows).  A `TerminologySource` finds a resource by canonical URL (and optional
version); sources chain, the first that knows a URL wins:

1. the database (`SearchSource` over anything with `search(types, query)`, such as
   `FhirRepository`), so resources a user stores or edits take effect at once;
2. the implementation guide's `terminology/` files and the R4 base CodeSystems/ValueSets compiled by
   `scripts/build_r4_terminology.py` (`package_source()`), so bindings work with no database and no
   external terminology server.

The package data is immutable and loaded once per process (as `conformance/r4.py` loads the base
definitions); everything mutable (compiled indexes, expansions) lives in a `TerminologyService`
instance.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..conformance.packages import data_file
from ..core.errors import FhirError

TERMINOLOGY_TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
R4_TERMINOLOGY_FILE = "r4-terminology.json.gz"


class TerminologySource(Protocol):
    def find(
        self, resource_type: str, url: str, version: str | None = None
    ) -> Mapping[str, Any] | None:
        """The CodeSystem/ValueSet/ConceptMap with this canonical URL (and version), or None."""
        ...

    def concept_maps(self, system: str | None) -> list[Mapping[str, Any]]:
        """ConceptMaps with a group from or to `system` (every one when `system` is None)."""
        ...


def split_canonical(url: str, version: str | None = None) -> tuple[str, str | None]:
    """`http://…|1.0` → (`http://…`, `1.0`); an explicit `version` wins."""
    base, _, pipe_version = url.partition("|")
    return base, version or pipe_version or None


def _mentions(concept_map: Mapping[str, Any], system: str | None) -> bool:
    if system is None:
        return True
    return any(system in (g.get("source"), g.get("target")) for g in concept_map.get("group") or [])


class StaticSource:
    """An in-memory source over a list of resources (the earlier of two equal URLs wins)."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self._by_url: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        self._maps: list[Mapping[str, Any]] = []
        for resource in resources:
            rtype, url = resource.get("resourceType"), resource.get("url")
            if rtype not in TERMINOLOGY_TYPES or not isinstance(url, str):
                continue
            self._by_url.setdefault((rtype, url), []).append(resource)
            if rtype == "ConceptMap":
                self._maps.append(resource)

    def find(
        self, resource_type: str, url: str, version: str | None = None
    ) -> Mapping[str, Any] | None:
        url, version = split_canonical(url, version)
        for resource in self._by_url.get((resource_type, url), []):
            if version is None or resource.get("version") == version:
                return resource
        return None

    def concept_maps(self, system: str | None) -> list[Mapping[str, Any]]:
        return [m for m in self._maps if _mentions(m, system)]


class Searcher(Protocol):
    """What `SearchSource` needs: `FhirRepository.search` (a page with `.matches[].content`)."""

    def search(self, resource_types: list[str] | None, query: list[tuple[str, str]]) -> Any: ...


class SearchSource:
    """Resources stored in the database, read through the gate (`FhirRepository.search`).

    A caller that may not read definitions (401/403) is treated as finding nothing here, so the
    package data still answers."""

    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher

    def _search(self, resource_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        try:
            page = self._searcher.search([resource_type], query)
        except FhirError as exc:
            if exc.status in (401, 403):
                return []
            raise
        return [m.content for m in page.matches if getattr(m, "content", None)]

    def find(
        self, resource_type: str, url: str, version: str | None = None
    ) -> Mapping[str, Any] | None:
        url, version = split_canonical(url, version)
        query = [("url", url)] + ([("version", version)] if version else [])
        found = self._search(resource_type, query)
        return found[0] if found else None

    def concept_maps(self, system: str | None) -> list[Mapping[str, Any]]:
        if system is None:
            return list(self._search("ConceptMap", [("_count", "1000")]))
        found: dict[tuple[Any, Any], Mapping[str, Any]] = {}
        for param in ("source-system", "target-system"):
            for cm in self._search("ConceptMap", [(param, system)]):
                found[(cm.get("id"), cm.get("url"))] = cm
        return list(found.values())


class FetchSource:
    """A source over a `(resource type, canonical) -> resource | None` callable, such as
    `storage.sql.search_resolve.canonical_fetcher(conn)` (no ConceptMap discovery)."""

    def __init__(self, fetch: Callable[[str, str], Mapping[str, Any] | None]) -> None:
        self._fetch = fetch

    def find(
        self, resource_type: str, url: str, version: str | None = None
    ) -> Mapping[str, Any] | None:
        base, version = split_canonical(url, version)
        return self._fetch(resource_type, f"{base}|{version}" if version else base)

    def concept_maps(self, system: str | None) -> list[Mapping[str, Any]]:
        return []


class ChainSource:
    """Sources in priority order: the first that knows a URL answers."""

    def __init__(self, *sources: TerminologySource) -> None:
        self.sources: Sequence[TerminologySource] = sources

    def find(
        self, resource_type: str, url: str, version: str | None = None
    ) -> Mapping[str, Any] | None:
        for source in self.sources:
            found = source.find(resource_type, url, version)
            if found is not None:
                return found
        return None

    def concept_maps(self, system: str | None) -> list[Mapping[str, Any]]:
        seen: set[str] = set()
        out: list[Mapping[str, Any]] = []
        for source in self.sources:
            for cm in source.concept_maps(system):
                key = f"{cm.get('url')}|{cm.get('version')}"
                if key not in seen:
                    seen.add(key)
                    out.append(cm)
        return out


def load_r4_terminology() -> list[dict[str, Any]]:
    """The compiled R4 base CodeSystems and ValueSets (package data)."""
    with gzip.open(data_file(R4_TERMINOLOGY_FILE), "rb") as fh:
        data = json.loads(fh.read())
    return [*data.get("codeSystems", []), *data.get("valueSets", [])]


def load_guide_terminology() -> list[dict[str, Any]]:
    """The guide's CodeSystems, ValueSets and ConceptMaps (`terminology/`, `profiles/`)."""
    from ..conformance.ig import load_ig_resources

    return [r for r in load_ig_resources() if r.get("resourceType") in TERMINOLOGY_TYPES]


@functools.lru_cache(maxsize=1)
def package_source() -> StaticSource:
    """The guide's terminology, then the R4 base data: read-only, loaded once per process."""
    return StaticSource([*load_guide_terminology(), *load_r4_terminology()])
