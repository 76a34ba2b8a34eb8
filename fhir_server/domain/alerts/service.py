"""Alerts as data: `post_alert` records an operator's alert (`POST Communication/$alert`) as a
`CommunicationRequest`; `active_alerts` lists those in force on a date for the pushes job, which fans
them out to the affected contracted residents once each (粤(七)).  Reads and writes go through
`FhirRepository`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from ...conformance.ig import load_ig_data
from ...conformance.packages import ig_dir
from ...core import errors as E
from ...core.clock import fhir_instant
from . import rules

_KEY_POPULATIONS = "key-population-rules.json"


def _known_areas() -> frozenset[str]:

    cs = json.loads((ig_dir("terminology") / "CodeSystem-gb2260-guangdong.json").read_text("utf-8"))
    out: set[str] = set()

    def walk(concepts: list[dict[str, Any]]) -> None:
        for c in concepts:
            out.add(c["code"])
            walk(c.get("concept", []))

    walk(cs.get("concept", []))
    return frozenset(out)


def check_alert(
    areas: list[str], populations: list[str], topic: Any, message: Any, effective: Any
) -> None:
    """400/422 for malformed or unknown codes (never a 500)."""
    problems = []
    known = _known_areas()
    for a in areas:
        if not isinstance(a, str) or not rules.is_area_code(a):
            problems.append(E.error("invalid", f"area '{a}' is not a GB/T 2260 code", "area"))
        elif a.startswith("44") and a not in known:
            problems.append(E.error("code-invalid", f"area '{a}' is not a known division", "area"))
    pops = {p["code"] for p in load_ig_data("terminology", _KEY_POPULATIONS)["populations"]}
    for p in populations:
        if p not in pops:
            problems.append(E.error("code-invalid", f"'{p}' is not a key population", "population"))
    if not isinstance(topic, Mapping) or topic.get("system") != rules.TOPIC_SYSTEM:
        problems.append(
            E.error("invalid", f"topic must be a Coding from {rules.TOPIC_SYSTEM}", "topic")
        )
    if not isinstance(message, str) or not message.strip():
        problems.append(E.error("required", "message must be a non-empty string", "message"))
    if not isinstance(effective, Mapping) or not effective.get("start"):
        problems.append(E.error("required", "effective must be a Period with a start", "effective"))
    elif effective.get("end") and str(effective["end"])[:10] < str(effective["start"])[:10]:
        problems.append(E.error("invalid", "effective ends before it starts", "effective"))
    if problems:
        raise E.FhirError(
            400 if any(i.code in ("invalid", "required") for i in problems) else 422, problems
        )


def post_alert(
    repo: Any,
    areas: list[str],
    populations: list[str],
    topic: Mapping[str, Any],
    message: str,
    effective: Mapping[str, Any],
) -> dict[str, Any]:
    check_alert(areas, populations, topic, message, effective)
    now = fhir_instant(repo.components.clock.now())
    body = rules.request_resource(areas, populations, topic, message, effective, now)
    return repo.create("CommunicationRequest", body).record.content


def alerts_to_fan_out(repo: Any, on: date) -> list[rules.Alert]:
    """Alerts (status active) whose period began on or before `on`: the pushes job fans each out
    to the residents it reaches on every run until its period is over, then completes it — so an
    alert whose period ends between two runs still goes out on the next one (粤(七))."""
    query = [("status", "active"), ("category", f"{rules.KIND_SYSTEM}|alert")]
    alerts: list[rules.Alert] = []
    cursor: str | None = None
    while True:
        page = repo.search(
            ["CommunicationRequest"],
            query + ([("_cursor", cursor)] if cursor else []),
            page_size=500,
        )
        alerts.extend(rules.alert_from_request(r.content) for r in page.matches)
        cursor = page.next_cursor
        if not cursor:
            break
    return [a for a in alerts if a.start <= on]


def complete_alert(repo: Any, request_id: str) -> None:
    """The alert was fanned out for the last time: its CommunicationRequest is `completed`."""
    current = repo.read("CommunicationRequest", request_id).content
    if current.get("status") == "completed":
        return
    body = {k: v for k, v in current.items() if k != "meta"} | {"status": "completed"}
    repo.update("CommunicationRequest", request_id, body)
