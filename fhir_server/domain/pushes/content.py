"""The push content library: `terminology/push-content/ActivityDefinition-push-*.json` as typed items.

Each item is an `ActivityDefinition` (kind `CommunicationRequest`, code = service item 健康提醒 of
附件1): `title`, the message in `description`, its topics in `topic` (push-topic codes), when it
may be sent in `timingTiming.code` (solar-term codes, or `push-timing|year-round`), and whom it is
written for in `useContext` (`focus` = a key-population code, a SNOMED CT finding such as
overweight, `push-audience|general` for everyone or `push-audience|no-specific-need` for the
default personalised guidance; `age` = a range in years).  See terminology/README.md, section
"Push content library".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...conformance.packages import ig_dir

TOPIC_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-topic"
KIND_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-kind"
TERM_SYSTEM = "https://jiayi.health/fhir/CodeSystem/solar-term"
KP_SYSTEM = "https://jiayi.health/fhir/CodeSystem/key-population"
SCT_SYSTEM = "http://snomed.info/sct"
AUDIENCE_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-audience"
TIMING_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-timing"
GENERAL = "aud:general"  # every resident (a routine item)
NO_SPECIFIC_NEED = "aud:no-specific-need"  # default personalised guidance
CONTENT_PREFIX = "push-"


@dataclass(frozen=True)
class ContentItem:
    id: str
    url: str
    title: str
    text: str
    topics: tuple[str, ...]  # push-topic codes as tagged (leaf codes, e.g. reduce-salt)
    terms: frozenset[str] = frozenset()  # solar-term codes; empty = any time of year
    suits: frozenset[str] = frozenset()  # "kp:<population>", "sct:<finding>", "aud:<audience>"
    age: tuple[int, int] | None = None  # personalised for ages lo..hi (years, inclusive)
    year_round: bool = False  # tagged push-timing|year-round

    @property
    def personalised(self) -> bool:
        return bool(self.suits - {GENERAL}) or self.age is not None


@dataclass(frozen=True)
class ContentLibrary:
    items: tuple[ContentItem, ...]
    parents: Mapping[str, str]  # push-topic code → its parent code
    displays: Mapping[str, str] = field(default_factory=dict)  # push-topic code → 中文 display

    def by_id(self) -> dict[str, ContentItem]:
        return {i.id: i for i in self.items}

    def root(self, code: str) -> str:
        while code in self.parents:
            code = self.parents[code]
        return code

    def roots(self, codes: Iterable[str]) -> frozenset[str]:
        """The top-level topics (those the seeds list) the given codes count towards."""
        return frozenset(self.root(c) for c in codes)


def item_from_resource(resource: Mapping[str, Any]) -> ContentItem:
    """One ActivityDefinition of the library → `ContentItem` (pure)."""
    topics = tuple(
        c["code"]
        for t in resource.get("topic", [])
        for c in t.get("coding", [])
        if c.get("system") == TOPIC_SYSTEM
    )
    timing = resource.get("timingTiming", {}).get("code", {}).get("coding", [])
    terms = frozenset(c["code"] for c in timing if c.get("system") == TERM_SYSTEM)
    year_round = any(
        c.get("system") == TIMING_SYSTEM and c.get("code") == "year-round" for c in timing
    )
    suits: set[str] = set()
    age: tuple[int, int] | None = None
    for ctx in resource.get("useContext", []):
        kind = ctx.get("code", {}).get("code")
        if kind == "age" and "valueRange" in ctx:
            rng = ctx["valueRange"]
            age = (int(rng["low"]["value"]), int(rng["high"]["value"]))
        for c in ctx.get("valueCodeableConcept", {}).get("coding", []):
            if c.get("system") == KP_SYSTEM:
                suits.add(f"kp:{c['code']}")
            elif c.get("system") == SCT_SYSTEM:
                suits.add(f"sct:{c['code']}")
            elif c.get("system") == AUDIENCE_SYSTEM:
                suits.add(f"aud:{c['code']}")
    return ContentItem(
        id=resource["id"],
        url=resource["url"],
        title=resource.get("title", resource["id"]),
        text=resource.get("description", ""),
        topics=topics,
        terms=terms,
        suits=frozenset(suits),
        age=age,
        year_round=year_round,
    )


def topic_parents(code_system: Mapping[str, Any]) -> dict[str, str]:
    """child code → parent code from a hierarchical CodeSystem (pure)."""
    out: dict[str, str] = {}

    def walk(concepts: list[Mapping[str, Any]], parent: str | None) -> None:
        for concept in concepts:
            if parent is not None:
                out[concept["code"]] = parent
            walk(concept.get("concept", []), concept["code"])

    walk(list(code_system.get("concept", [])), None)
    return out


def load_library(resources: Iterable[Mapping[str, Any]] | None = None) -> ContentLibrary:
    """The library from the guide's files (or from `resources`, e.g. in tests)."""
    pool = list(_library_files() if resources is None else resources)
    items = tuple(
        sorted(
            (
                item_from_resource(r)
                for r in pool
                if r.get("resourceType") == "ActivityDefinition"
                and str(r.get("id", "")).startswith(CONTENT_PREFIX)
            ),
            key=lambda i: i.id,
        )
    )
    topic_cs = next(
        (r for r in pool if r.get("resourceType") == "CodeSystem" and r.get("url") == TOPIC_SYSTEM),
        {},
    )
    return ContentLibrary(items, topic_parents(topic_cs), topic_displays(topic_cs))


def topic_displays(code_system: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}

    def walk(concepts: list[Mapping[str, Any]]) -> None:
        for concept in concepts:
            if concept.get("display"):
                out[concept["code"]] = str(concept["display"])
            walk(concept.get("concept", []))

    walk(list(code_system.get("concept", [])))
    return out


def _library_files() -> list[dict[str, Any]]:
    folder = ig_dir("terminology")
    paths = [
        *sorted((folder / "push-content").glob("*.json")),
        folder / "CodeSystem-push-topic.json",
    ]
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]
