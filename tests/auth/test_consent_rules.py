"""The Consent evaluator's rules (services/consent.py), table-driven: base policy and nested
exceptions, actor, action, purpose, class, data, period, status and scope, uncertainty never
widening access."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.services.consent import (
    ConsentEvaluator,
    ConsentRequest,
    evaluate,
    period_covers,
    type_view,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DOCTOR = ConsentRequest(frozenset({"Practitioner/d1", "Organization/chc"}), "access",
                        frozenset({"TREAT"}), NOW)  # fmt: skip
HOSPITAL = ConsentRequest(frozenset({"Organization/hosp"}), "access", frozenset(), NOW)
RT = "http://hl7.org/fhir/resource-types"


def c(provision: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Consent",
        "status": "active",
        "patient": {"reference": "Patient/p1"},
        **extra,
    }
    if provision is not None:
        out["provision"] = provision
    return out


def actor(ref: str) -> list[dict[str, Any]]:
    return [{"reference": {"reference": ref}}]


DENY_CHC = {"type": "permit", "provision": [{"type": "deny", "actor": actor("Organization/chc")}]}
DENY_CHC_OBS = {
    "type": "permit",
    "provision": [
        {
            "type": "deny",
            "actor": actor("Organization/chc"),
            "class": [{"system": RT, "code": "Observation"}],
        }
    ],
}
BASE_DENY_TEAM = {"type": "deny", "provision": [{"type": "permit", "actor": actor("Practitioner/d1")}]}  # fmt: skip


@pytest.mark.parametrize(
    "consent, request_, rtype, ref, expected",
    [
        (c(DENY_CHC), DOCTOR, "Observation", None, "deny"),
        (c(DENY_CHC), HOSPITAL, "Observation", None, "permit"),
        (c(DENY_CHC_OBS), DOCTOR, "Observation", None, "deny"),
        (c(DENY_CHC_OBS), DOCTOR, "Encounter", None, "permit"),
        (c(BASE_DENY_TEAM), DOCTOR, "Observation", None, "permit"),
        (c(BASE_DENY_TEAM), HOSPITAL, "Observation", None, "deny"),
        (c(DENY_CHC, status="inactive"), DOCTOR, "Observation", None, None),
        (c(DENY_CHC, status="draft"), DOCTOR, "Observation", None, None),
        (c({**DENY_CHC, "period": {"end": "2020-01-01"}}), DOCTOR, "Observation", None, None),
        (c({**DENY_CHC, "period": {"start": "2030"}}), DOCTOR, "Observation", None, None),
        (c(DENY_CHC, scope={"coding": [{"code": "research"}]}), DOCTOR, "Observation", None, None),
        (c(None, policyRule={"coding": [{"code": "OPTOUT"}]}), DOCTOR, "Patient", None, "deny"),
        (c({"type": "deny", "action": [{"coding": [{"code": "disclose"}]}]}), DOCTOR, "Patient", None, None),
        (c({"type": "deny", "purpose": [{"code": "HOPERAT"}]}), DOCTOR, "Patient", None, None),
        # the requester states no purpose: a purpose-bound deny applies, a purpose-bound permit not
        (c({"type": "deny", "purpose": [{"code": "HOPERAT"}]}), HOSPITAL, "Patient", None, "deny"),
        (c({"type": "permit", "purpose": [{"code": "TREAT"}]}), HOSPITAL, "Patient", None, None),
        # data: only the named resource
        (c({"type": "deny", "data": [{"reference": {"reference": "Observation/o1"}}]}), DOCTOR, "Observation", "Observation/o1", "deny"),
        (c({"type": "deny", "data": [{"reference": {"reference": "Observation/o1"}}]}), DOCTOR, "Observation", "Observation/o2", None),
        (c({"type": "deny", "data": [{"reference": {"reference": "Observation/o1"}}]}), DOCTOR, "Observation", None, None),
        # a class in an unknown code system: a deny applies to every type, a permit to none
        (c({"type": "deny", "class": [{"system": "urn:x", "code": "lab"}]}), DOCTOR, "Encounter", None, "deny"),
        (c({"type": "permit", "class": [{"system": "urn:x", "code": "lab"}]}), DOCTOR, "Encounter", None, None),
        (c({"type": "deny", "code": [{"coding": [{"code": "x"}]}]}), DOCTOR, "Encounter", None, "deny"),
        # nested: a deny sibling wins over a permit sibling
        (c({"type": "permit", "provision": [{"type": "permit"}, {"type": "deny"}]}), DOCTOR, "Patient", None, "deny"),
    ],
)  # fmt: skip
def test_evaluate(
    consent: dict[str, Any], request_: ConsentRequest, rtype: str, ref: str | None, expected: str
) -> None:
    assert evaluate(consent, request_, rtype, ref) == expected


@pytest.mark.parametrize(
    "period, expected",
    [
        (None, True),
        ({"start": "2026-06-01"}, True),
        ({"start": "2026-06-02"}, False),
        ({"end": "2026-06-01"}, True),
        ({"end": "2026-05"}, False),
        ({"start": "2025", "end": "2026"}, True),
        ({"start": "2026-06-01T07:00:00+08:00"}, True),
        ({"start": "2026-06-01T10:00:00+08:00"}, False),
        ({"end": "2026-05"}, False),
        ({"start": "2026-05", "end": "2026-06"}, True),
    ],
)
def test_period_covers(period: Any, expected: bool) -> None:
    assert period_covers(period, NOW) is expected


def test_type_view_lists_exceptions() -> None:
    consents = [
        c({"type": "deny", "provision": [
            {"type": "permit", "data": [{"reference": {"reference": "Observation/ok"}}]}]}),
        c({"type": "permit", "provision": [
            {"type": "deny", "data": [{"reference": {"reference": "Encounter/e9"}}]}]}),
    ]  # fmt: skip
    obs = type_view(consents, DOCTOR, "Observation")
    assert obs.denied and obs.exceptions == {"ok"}
    enc = type_view(consents, DOCTOR, "Encounter")
    assert enc.denied  # the first Consent's base deny covers every type
    assert type_view(consents[1:], DOCTOR, "Encounter").exceptions == {"e9"}


def test_evaluator_loads_once_per_patient() -> None:
    calls: list[list[tuple[str, str]]] = []

    def find(rtype: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        calls.append(query)
        return [c(DENY_CHC)]

    evaluator = ConsentEvaluator(find)
    assert not evaluator.permits("p1", DOCTOR, "Observation")
    assert evaluator.permits("p1", HOSPITAL, "Observation")
    assert len(calls) == 1
