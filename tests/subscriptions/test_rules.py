"""The pure rules of Subscriptions and the summary document, table-driven: what a client may
write (`validation`), how a filter holds on an event (`filters`), notification `request`s, and
which section of the summary a resource goes to (`domain.sync.summary`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.domain.sync.summary import section_of, summary_document, summary_table
from fhir_server.outbox.dispatcher import Backoff
from fhir_server.search.registry import r4_registry
from fhir_server.subscriptions.filters import FilterResolver
from fhir_server.subscriptions.notifications import NumberedEvent, history_request
from fhir_server.subscriptions.topics import TopicCatalog
from fhir_server.subscriptions.validation import check_subscription, endpoint_problem

BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SIGNED = "https://jiayi.health/fhir/SubscriptionTopic/contract-signed"
REFERRAL = "https://jiayi.health/fhir/SubscriptionTopic/referral-status-changed"
CATALOG = TopicCatalog.load()


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("https://receiver.example/hook", True),
        ("http://127.0.0.1:8000/hook", True),
        ("http://localhost/hook", True),
        ("http://[::1]:9000/hook", True),
        ("http://receiver.example/hook", False),
        ("http://10.0.0.1/hook", False),
        ("ftp://127.0.0.1/hook", False),
        ("https:///nohost", False),
        ("", False),
        (None, False),
    ],
)
def test_endpoints(endpoint: Any, ok: bool) -> None:
    assert (endpoint_problem(endpoint) is None) is ok


def _sub(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "criteria": SIGNED,
        "channel": {"type": "rest-hook", "endpoint": "https://r.example/h"},
    }
    filters = changes.pop("filters", ())
    if filters:
        body["_criteria"] = {
            "extension": [
                {"url": BP + "backport-filter-criteria", "valueString": f} for f in filters
            ]
        }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("body", "current", "where"),
    [
        (_sub(), None, []),
        (_sub(status="off"), None, []),
        (_sub(status="active"), None, ["Subscription.status"]),
        (_sub(status="error"), None, ["Subscription.status"]),
        (_sub(status="active"), _sub(status="active"), []),  # unchanged channel: kept
        (
            _sub(status="active"),
            _sub(status="active", channel={"type": "rest-hook", "endpoint": "https://o/h"}),
            ["Subscription.status"],  # a new endpoint needs a new handshake
        ),
        (_sub(criteria="https://x/t"), None, ["Subscription.criteria"]),
        (_sub(filters=("Contract?patient=Patient/1",)), None, []),
        (
            _sub(filters=("Contract?status=executed",)),
            None,
            ["Subscription.criteria.extension[0].value"],
        ),
        (
            _sub(filters=("Contract?patient:missing=true",)),
            None,
            ["Subscription.criteria.extension[0].value"],
        ),
        (
            _sub(filters=("Contract?patient=",)),
            None,
            ["Subscription.criteria.extension[0].value"],
        ),
        (
            _sub(criteria=REFERRAL, filters=("ServiceRequest?requester=PractitionerRole/r",)),
            None,
            [],
        ),
        (
            _sub(channel={"type": "email", "endpoint": "mailto:a@b"}),
            None,
            ["Subscription.channel.type"],
        ),
        (
            _sub(channel={"type": "rest-hook", "endpoint": "http://r.example/h"}),
            None,
            ["Subscription.channel.endpoint"],
        ),
    ],
)
def test_client_writes(body: dict[str, Any], current: Any, where: list[str]) -> None:
    found = [x for i in check_subscription(body, CATALOG, current) for x in i.expression]
    assert found == where


def _obs(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o", "status": "final", **extra}


RESOLVER = FilterResolver(r4_registry(), base_url="http://x/fhir")


@pytest.mark.parametrize(
    ("filters", "content", "holds"),
    [
        ((), _obs(), True),
        ((("Patient", "patient", "Patient/p1"),), _obs(subject={"reference": "Patient/p1"}), True),
        (
            (("Patient", "patient", "Patient/p1"),),
            _obs(subject={"reference": "http://x/fhir/Patient/p1"}),
            True,
        ),
        ((("Patient", "patient", "p1"),), _obs(performer=[{"reference": "Patient/p1"}]), True),
        ((("Patient", "patient", "Patient/p1"),), _obs(subject={"reference": "Patient/p2"}), False),
        ((("Patient", "patient", "Patient/p1"),), _obs(focus=[{"reference": "Patient/p1"}]), False),
        ((("Patient", "patient", "Patient/p1"),), {"resourceType": "Patient", "id": "p1"}, True),
        ((("Patient", "patient", "Patient/p1"),), {"resourceType": "Patient", "id": "p2"}, False),
        ((("Patient", "patient", "Patient/p1"),), None, False),  # nothing to test: not let through
        (
            (("ServiceRequest", "requester", "PractitionerRole/r1"),),
            {"resourceType": "Task", "id": "t", "requester": {"reference": "PractitionerRole/r1"}},
            True,
        ),
        (
            (("ServiceRequest", "requester", "PractitionerRole/r1"),),
            {"resourceType": "Task", "id": "t", "requester": {"reference": "PractitionerRole/r2"}},
            False,
        ),
        (
            (("ServiceRequest", "nonsense", "x"),),
            {"resourceType": "ServiceRequest", "id": "s"},
            False,  # a parameter the type lacks admits nothing
        ),
    ],
)
def test_filters(filters: Any, content: Any, holds: bool) -> None:
    assert RESOLVER.holds(filters, content) is holds


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("POST", {"method": "POST", "url": "Contract"}),
        ("PUT", {"method": "PUT", "url": "Contract/c"}),
        ("PATCH", {"method": "PATCH", "url": "Contract/c"}),
        ("DELETE", {"method": "DELETE", "url": "Contract/c"}),
        ("odd", {"method": "PUT", "url": "Contract/c"}),
    ],
)
def test_history_requests(method: str, expected: dict[str, str]) -> None:
    event = NumberedEvent(1, datetime.now(UTC), "Contract", "c", 1, method, None)
    assert history_request(event) == expected


@pytest.mark.parametrize(
    ("failures", "seconds"), [(1, 1), (2, 2), (5, 16), (10, 300), (10**6, 300)]
)
def test_backoff(failures: int, seconds: float) -> None:
    assert Backoff(1, 300).delay(failures).total_seconds() == seconds


VS = {"coding": [{"system": "x", "code": "vital-signs"}]}
LAB = {"coding": [{"system": "x", "code": "laboratory"}]}


@pytest.mark.parametrize(
    ("resource", "section"),
    [
        ({"resourceType": "Condition"}, "problems"),
        ({"resourceType": "Condition", "status": "entered-in-error"}, None),
        ({"resourceType": "MedicationStatement"}, "medications"),
        ({"resourceType": "MedicationRequest"}, "medications"),
        ({"resourceType": "AllergyIntolerance"}, "allergies"),
        ({"resourceType": "Immunization"}, "immunizations"),
        ({"resourceType": "Observation", "category": [VS]}, "vital-signs"),
        ({"resourceType": "Observation", "category": [LAB]}, "results"),
        ({"resourceType": "Observation"}, "results"),
        ({"resourceType": "DiagnosticReport"}, "results"),
        ({"resourceType": "CarePlan"}, "care-plan"),
        ({"resourceType": "Encounter"}, None),
    ],
)
def test_sections(resource: dict[str, Any], section: str | None) -> None:
    assert section_of(summary_table(), resource) == section


def test_document_shape() -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    cond = {"resourceType": "Condition", "id": "c", "code": {"text": "高血压 <I10>"}}
    enc = {"resourceType": "Encounter", "id": "e"}
    doc = summary_document(
        patient, [cond, enc], base_url="http://x/fhir", now=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert doc["type"] == "document" and doc["timestamp"] == "2026-03-01T00:00:00.000Z"
    composition = doc["entry"][0]["resource"]
    assert doc["entry"][0]["fullUrl"] == f"urn:uuid:{composition['id']}"
    assert [e["fullUrl"] for e in doc["entry"][1:]] == [
        "http://x/fhir/Patient/p",
        "http://x/fhir/Condition/c",
    ]
    problems = composition["section"][0]
    assert problems["entry"] == [{"reference": "Condition/c"}]
    assert "&lt;I10&gt;" in problems["text"]["div"]  # narrative escaped
    empty = composition["section"][1]
    assert "entry" not in empty and empty["emptyReason"] and empty["text"]["div"]
