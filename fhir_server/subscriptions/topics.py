"""SubscriptionTopics, stored in R4 as `Basic` resources with the R4B cross-version extensions
(`http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.*`), as the Backport IG's
R4 examples do; files under `profiles/subscriptions/`.  Matching is pure.

`queryCriteria` grammar (a small subset of search syntax over top-level elements):
`name=v1,v2` (equals one of), `name:not=v` (differs from all), and `name:changed` (the element
differs between the previous and the current version; a create passes).  `resultForCreate` and
`resultForDelete` follow R4B SubscriptionTopic semantics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

X = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
TOPIC_BASE = "https://jiayi.health/fhir/SubscriptionTopic/"


@dataclass(frozen=True)
class Trigger:
    resource_type: str
    interactions: frozenset[str]
    previous: str | None = None
    current: str | None = None
    require_both: bool = False
    result_for_create: str = "test-passes"
    result_for_delete: str = "test-fails"


@dataclass(frozen=True)
class Topic:
    url: str
    title: str
    triggers: tuple[Trigger, ...]
    filters: tuple[tuple[str, str], ...]  # (resource type, filter parameter)


def _ext(items: Iterable[Mapping[str, Any]], url: str) -> list[Mapping[str, Any]]:
    return [e for e in items if e.get("url") == url]


def _value(ext: Mapping[str, Any]) -> Any:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def _type_of(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def topic_from_basic(basic: Mapping[str, Any]) -> Topic | None:
    """A `Basic` carrying SubscriptionTopic extensions → Topic (None if it is not one)."""
    exts = basic.get("extension") or []
    urls = _ext(exts, X + "url")
    if basic.get("resourceType") != "Basic" or not urls:
        return None
    triggers = []
    for t in _ext(exts, X + "resourceTrigger"):
        parts = t.get("extension") or []
        qc = next(iter(_ext(parts, "queryCriteria")), None)
        q = {e["url"]: _value(e) for e in (qc or {}).get("extension", [])}
        triggers.append(
            Trigger(
                _type_of(str(_value(_ext(parts, "resource")[0]))),
                frozenset(str(_value(e)) for e in _ext(parts, "supportedInteraction")),
                q.get("previous"),
                q.get("current"),
                bool(q.get("requireBoth", False)),
                q.get("resultForCreate", "test-passes"),
                q.get("resultForDelete", "test-fails"),
            )
        )
    filters = []
    for f in _ext(exts, X + "canFilterBy"):
        d = {e["url"]: _value(e) for e in f.get("extension", [])}
        filters.append((_type_of(str(d.get("resource", ""))), str(d.get("filterParameter", ""))))
    title = next((str(_value(e)) for e in _ext(exts, X + "title")), "")
    return Topic(str(_value(urls[0])), title, tuple(triggers), tuple(filters))


def _codes(value: Any) -> set[str]:
    if isinstance(value, str | bool | int | float):
        return {str(value).lower() if isinstance(value, bool) else str(value)}
    if isinstance(value, Mapping):
        return {str(c.get("code")) for c in value.get("coding") or [] if c.get("code")}
    if isinstance(value, list):
        return set().union(*(_codes(v) for v in value)) if value else set()
    return set()


def criteria_holds(
    criteria: str, resource: Mapping[str, Any] | None, other: Mapping[str, Any] | None = None
) -> bool:
    """Every `&`-joined term holds on `resource` (`other`: the version compared by `:changed`)."""
    if resource is None:
        return False
    for term in criteria.split("&"):
        name, _, wanted = term.partition("=")
        element, _, modifier = name.partition(":")
        have = _codes(resource.get(element))
        if modifier == "changed":
            if other is not None and _codes(other.get(element)) == have:
                return False
            continue
        values = set(wanted.split(","))
        if (modifier == "not") == bool(have & values):
            return False
    return True


def trigger_fires(
    trigger: Trigger,
    interaction: str,
    previous: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
) -> bool:
    if interaction not in trigger.interactions:
        return False
    if trigger.previous is None and trigger.current is None:
        return True
    results = []
    if trigger.previous is not None:
        if interaction == "create":
            results.append(trigger.result_for_create == "test-passes")
        else:
            results.append(criteria_holds(trigger.previous, previous))
    if trigger.current is not None:
        if interaction == "delete":
            results.append(trigger.result_for_delete == "test-passes")
        else:
            results.append(criteria_holds(trigger.current, current, previous))
    return all(results) if trigger.require_both else any(results)


class TopicCatalog:
    """The server's topics; implements `outbox.writer.TopicMatcher`."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        self.topics = {t.url: t for t in topics}
        self._types = frozenset(tr.resource_type for t in self.topics.values() for tr in t.triggers)

    @classmethod
    def from_resources(cls, resources: Iterable[Mapping[str, Any]]) -> TopicCatalog:
        return cls(t for r in resources if (t := topic_from_basic(r)) is not None)

    @classmethod
    def load(cls) -> TopicCatalog:
        """The topics of the implementation guide (`profiles/subscriptions/`)."""
        import json

        from ..conformance.packages import ig_dir

        folder = ig_dir("profiles") / "subscriptions"
        return cls.from_resources(
            json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
        )

    def capability_extensions(self) -> list[dict[str, Any]]:
        """`CapabilityStatement.rest.resource` (Subscription) extensions naming every topic
        (Backport IG: `capabilitystatement-subscriptiontopic-canonical`)."""
        url = (
            "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
            "capabilitystatement-subscriptiontopic-canonical"
        )
        return [{"url": url, "valueCanonical": u} for u in sorted(self.topics)]

    @property
    def resource_types(self) -> frozenset[str]:
        return self._types

    def match(
        self,
        resource_type: str,
        interaction: str,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> list[str]:
        return [
            url
            for url, topic in sorted(self.topics.items())
            if any(
                tr.resource_type == resource_type
                and trigger_fires(tr, interaction, previous, current)
                for tr in topic.triggers
            )
        ]


def subscription_capability(operations: list[dict[str, Any]]) -> dict[str, Any]:
    """The Subscription entry's extras in the CapabilityStatement: its operations and the topics
    offered (`capabilitystatement-subscriptiontopic-canonical`, Backport IG)."""
    extras: dict[str, Any] = {"extension": TopicCatalog.load().capability_extensions()}
    if operations:
        extras["operation"] = operations
    return extras
