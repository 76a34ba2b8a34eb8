"""Pure rules of climate-sensitive alerts (粤(七)): which residents an alert reaches.

An alert is stored as a `CommunicationRequest` (see `service.py`): areas are GB/T 2260 codes, where a
province code (`xx0000`) covers its cities and districts and a city code (`xxxx00`) covers its
districts and counties; populations are key-population codes (none = everyone); `effective` is the
`occurrencePeriod`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

AREA_EXT = "https://jiayi.health/fhir/StructureDefinition/alert-area"
POPULATION_EXT = "https://jiayi.health/fhir/StructureDefinition/alert-population"
KP_SYSTEM = "https://jiayi.health/fhir/CodeSystem/key-population"
TOPIC_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-topic"
KIND_SYSTEM = "https://jiayi.health/fhir/CodeSystem/push-kind"
GB2260_SYSTEM = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"
_CODE = re.compile(r"^[1-9]\d{5}$")


@dataclass(frozen=True)
class Alert:
    id: str
    areas: frozenset[str]
    populations: frozenset[str]  # empty: everyone
    topic: Mapping[str, Any]  # Coding (push-topic)
    message: str
    start: date
    end: date | None  # inclusive

    def active_on(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)

    def over_by(self, on: date) -> bool:
        """Has the alert's period ended before `on` (no later run needs to fan it out)?"""
        return self.end is not None and self.end < on


def is_area_code(code: str) -> bool:
    return bool(_CODE.match(code))


def area_covers(area: str, division: str) -> bool:
    """Does the alert area (province, city or district code) contain the resident's division?"""
    if area == division:
        return True
    if area.endswith("0000"):
        return division[:2] == area[:2]
    if area.endswith("00"):
        return division[:4] == area[:4]
    return False


def reaches(alert: Alert, divisions: Iterable[str], populations: frozenset[str]) -> bool:
    if alert.populations and not alert.populations & populations:
        return False
    return any(area_covers(a, d) for a in alert.areas for d in divisions)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def alert_from_request(resource: Mapping[str, Any]) -> Alert:
    """A stored alert `CommunicationRequest` → `Alert`."""
    ext = resource.get("extension", [])
    topic: Mapping[str, Any] = next(
        (
            c
            for cat in resource.get("category", [])
            for c in cat.get("coding", [])
            if c.get("system") == TOPIC_SYSTEM
        ),
        {},
    )
    period = resource.get("occurrencePeriod", {})
    return Alert(
        id=str(resource["id"]),
        areas=frozenset(e["valueCode"] for e in ext if e.get("url") == AREA_EXT),
        populations=frozenset(
            e["valueCoding"]["code"] for e in ext if e.get("url") == POPULATION_EXT
        ),
        topic=topic,
        message=str((resource.get("payload") or [{}])[0].get("contentString", "")),
        start=_day(period.get("start")) or date.min,
        end=_day(period.get("end")),
    )


def request_resource(
    areas: list[str],
    populations: list[str],
    topic: Mapping[str, Any],
    message: str,
    effective: Mapping[str, Any],
    authored: str,
) -> dict[str, Any]:
    """The `CommunicationRequest` that records an alert until the pushes job fans it out."""
    return {
        "resourceType": "CommunicationRequest",
        "extension": [{"url": AREA_EXT, "valueCode": a} for a in areas]
        + [
            {"url": POPULATION_EXT, "valueCoding": {"system": KP_SYSTEM, "code": p}}
            for p in populations
        ],
        "status": "active",
        "category": [
            {"coding": [dict(topic)]},
            {"coding": [{"system": KIND_SYSTEM, "code": "alert", "display": "预警提醒"}]},
        ],
        "priority": "urgent",
        "payload": [{"contentString": message}],
        "occurrencePeriod": dict(effective),
        "authoredOn": authored,
    }
