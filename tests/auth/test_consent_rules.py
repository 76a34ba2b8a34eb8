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
    denied_push_channels,
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


# -- content criteria: code, securityLabel, dataPeriod, profile / MIME classes, data.meaning,
# -- actor.role, push channels (R4 Consent.provision.*) ---------------------------------------------
LOINC = "http://loinc.org"
HIV = {"coding": [{"system": LOINC, "code": "75622-1"}]}
PUSH = "https://jiayi.health/fhir/CodeSystem/push-channel"
CHANNEL_EXT = "https://jiayi.health/fhir/StructureDefinition/consent-channel"
PT = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
VITALS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
R_LABEL = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}


def obs(oid: str = "o1", code: str = "8480-6", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        **extra,
    }


def deny(**criteria: Any) -> dict[str, Any]:
    return {"type": "permit", "provision": [{"type": "deny", **criteria}]}


def permit(**criteria: Any) -> dict[str, Any]:
    return {"type": "deny", "provision": [{"type": "permit", **criteria}]}


def role_actor(ref: str, code: str) -> list[dict[str, Any]]:
    return [{"role": {"coding": [{"system": PT, "code": code}]}, "reference": {"reference": ref}}]


def datum(ref: str, meaning: str) -> list[dict[str, Any]]:
    return [{"meaning": meaning, "reference": {"reference": ref}}]


SMS_PUSH = ConsentRequest(frozenset(), "disclose", frozenset(), NOW, channel="sms")
DOC = {"resourceType": "DocumentReference", "id": "d1",
       "content": [{"attachment": {"contentType": "application/hl7-cda+xml"}}]}  # fmt: skip


@pytest.mark.parametrize(
    "provision, request_, rtype, content, expected",
    [
        # code: found in the resource, or not; without the resource a deny holds, a permit not
        (deny(code=[HIV]), DOCTOR, "Observation", obs(code="75622-1"), "deny"),
        (deny(code=[HIV]), DOCTOR, "Observation", obs(), "permit"),
        (deny(code=[HIV]), DOCTOR, "Observation", None, "deny"),
        (permit(code=[HIV]), DOCTOR, "Observation", obs(code="75622-1"), "permit"),
        (permit(code=[HIV]), DOCTOR, "Observation", None, "deny"),
        (deny(code=[{"coding": [{"code": "75622-1"}]}]), DOCTOR, "Observation", obs(code="75622-1"), "deny"),
        # securityLabel: in meta.security
        (deny(securityLabel=[R_LABEL]), DOCTOR, "Observation", obs(meta={"security": [R_LABEL]}), "deny"),
        (deny(securityLabel=[R_LABEL]), DOCTOR, "Observation", obs(), "permit"),
        (permit(securityLabel=[R_LABEL]), DOCTOR, "Observation", obs(meta={"security": [R_LABEL]}), "permit"),
        # dataPeriod: overlaps the clinical time; a resource without one is undecidable
        (deny(dataPeriod={"end": "2020-12-31"}), DOCTOR, "Observation", obs(effectiveDateTime="2019-05-01"), "deny"),
        (deny(dataPeriod={"end": "2020-12-31"}), DOCTOR, "Observation", obs(effectiveDateTime="2024-05-01"), "permit"),
        (deny(dataPeriod={"start": "2020"}), DOCTOR, "Observation",
         obs(effectivePeriod={"start": "2019-01-01", "end": "2020-02-01"}), "deny"),
        (deny(dataPeriod={"end": "2020"}), DOCTOR, "Observation", obs(), "deny"),
        (permit(dataPeriod={"end": "2020"}), DOCTOR, "Observation", obs(), "deny"),
        (permit(dataPeriod={"start": "2024"}), DOCTOR, "Observation", obs(issued="2025-01-01T08:00:00Z"), "permit"),
        # class: a profile the resource claims, a base type's definition, a MIME document type
        (deny(**{"class": [{"code": VITALS}]}), DOCTOR, "Observation", obs(meta={"profile": [VITALS]}), "deny"),
        (deny(**{"class": [{"code": VITALS}]}), DOCTOR, "Observation", obs(), "permit"),
        (deny(**{"class": [{"code": VITALS}]}), DOCTOR, "Observation", None, "deny"),
        (deny(**{"class": [{"code": "http://hl7.org/fhir/StructureDefinition/Observation"}]}), DOCTOR, "Encounter", None, "permit"),
        (deny(**{"class": [{"code": "http://hl7.org/fhir/StructureDefinition/Observation"}]}), DOCTOR, "Observation", None, "deny"),
        (deny(**{"class": [{"system": "urn:ietf:bcp:13", "code": "application/hl7-cda+xml"}]}), DOCTOR, "DocumentReference", DOC, "deny"),
        (deny(**{"class": [{"system": "urn:ietf:bcp:13", "code": "application/pdf"}]}), DOCTOR, "DocumentReference", DOC, "permit"),
        (deny(**{"class": [{"system": "urn:ietf:bcp:13", "code": "application/pdf"}]}), DOCTOR, "Observation", None, "permit"),
        (permit(**{"class": [{"system": "urn:x", "code": "lab"}]}), DOCTOR, "Observation", obs(), "deny"),
        # actor.role: a reader is an information recipient; another role is undecidable
        (deny(actor=role_actor("Organization/chc", "PRCP")), DOCTOR, "Observation", None, "deny"),
        (deny(actor=role_actor("Organization/chc", "IRCP")), HOSPITAL, "Observation", None, "permit"),
        (deny(actor=role_actor("Organization/chc", "CST")), DOCTOR, "Observation", None, "deny"),
        (permit(actor=role_actor("Practitioner/d1", "CST")), DOCTOR, "Observation", None, "deny"),
        (permit(actor=role_actor("Practitioner/d1", "IRCP")), DOCTOR, "Observation", None, "permit"),
        (permit(actor=role_actor("https://x.cn/fhir/Practitioner/d1", "PRCP")), DOCTOR, "Observation", None, "permit"),
        # data.meaning
        (deny(data=datum("Patient/p1", "dependents")), DOCTOR, "Observation", obs(), "deny"),
        (deny(data=datum("Patient/p2", "dependents")), DOCTOR, "Observation", obs(), "permit"),
        (deny(data=datum("Practitioner/x", "authoredby")), DOCTOR, "Observation",
         obs(performer=[{"reference": "Practitioner/x"}]), "deny"),
        (deny(data=datum("Practitioner/x", "authoredby")), DOCTOR, "Observation", obs(), "permit"),
        (permit(data=datum("Practitioner/x", "authoredby")), DOCTOR, "Observation", None, "deny"),
        (deny(data=datum("Observation/o1", "instance")), DOCTOR, "Observation", obs("o1"), "deny"),
        (deny(data=datum("Observation/o1", "instance")), DOCTOR, "Observation", obs("o2"), "permit"),
        (deny(data=datum("DiagnosticReport/r1", "related")), DOCTOR, "Observation", obs("o2"), "deny"),
        (permit(data=datum("DiagnosticReport/r1", "related")), DOCTOR, "Observation", obs("o2"), "deny"),
        (permit(data=datum("Observation/o2", "related")), DOCTOR, "Observation", obs("o2"), "permit"),
        # nested: a permit exception inside a deny inside a permit base
        ({"type": "permit", "provision": [{"type": "deny", "code": [HIV], "provision": [
            {"type": "permit", "actor": actor("Practitioner/d1")}]}]},
         DOCTOR, "Observation", obs(code="75622-1"), "permit"),
        ({"type": "permit", "provision": [{"type": "deny", "code": [HIV], "provision": [
            {"type": "permit", "actor": actor("Practitioner/d1")}]}]},
         HOSPITAL, "Observation", obs(code="75622-1"), "deny"),
        # push channels: only a push on that channel; never a read
        (deny(code=[{"coding": [{"system": PUSH, "code": "sms"}]}]), DOCTOR, "Observation", None, "permit"),
        (deny(code=[{"coding": [{"system": PUSH, "code": "sms"}]}]), SMS_PUSH, "Communication", None, "deny"),
        (deny(code=[{"coding": [{"system": PUSH, "code": "all"}]}]), SMS_PUSH, "Communication", None, "deny"),
        (deny(code=[{"coding": [{"system": PUSH, "code": "wechat"}]}]), SMS_PUSH, "Communication", None, "permit"),
        (deny(extension=[{"url": CHANNEL_EXT, "valueCode": "sms"}]), DOCTOR, "Observation", None, "permit"),
        (deny(extension=[{"url": CHANNEL_EXT, "valueCode": "sms"}]), SMS_PUSH, "Communication", None, "deny"),
        (deny(extension=[{"url": CHANNEL_EXT, "valueCode": "other"}]), SMS_PUSH, "Communication", None, "permit"),
    ],
)  # fmt: skip
def test_content_criteria(
    provision: dict[str, Any],
    request_: ConsentRequest,
    rtype: str,
    content: dict[str, Any] | None,
    expected: str,
) -> None:
    assert evaluate(c(provision), request_, rtype, None, content) == expected


def test_the_guides_channel_opt_out_hides_nothing_from_readers() -> None:
    """The guide's own `jiayi-push-channel-consent` example (an SMS opt-out: a permit base with a
    nested deny carrying only `consent-channel`) used to deny every reader everything."""
    import json

    from fhir_server.conformance.packages import ig_dir

    path = ig_dir("profiles") / "examples" / "Consent-example-push-consent.json"
    example = json.loads(path.read_text("utf-8"))
    for rtype in ("Observation", "Patient", "Communication"):
        assert evaluate(example, DOCTOR, rtype) == "permit"
    assert evaluate(example, SMS_PUSH, "Communication") == "deny"


def test_type_view_judges_each_resource_when_the_verdict_needs_content() -> None:
    hiv, bp = obs("hiv", code="75622-1"), obs("bp")
    consents = [c(deny(actor=actor("Organization/chc"), code=[HIV]))]
    loaded: list[str] = []

    def contents() -> list[dict[str, Any]]:
        loaded.append("x")
        return [hiv, bp]

    view = type_view(consents, DOCTOR, "Observation", contents)
    assert not view.denied and view.exceptions == {"hiv"}
    assert type_view(consents, DOCTOR, "Observation").denied  # without contents: conservative
    assert type_view(consents, HOSPITAL, "Observation", contents) == type_view(
        [], HOSPITAL, "Observation"
    )
    assert type_view([c(DENY_CHC_OBS)], DOCTOR, "Observation", contents).denied  # no content needed
    assert loaded == ["x"]


# -- health pushes: the same rules (`denied_push_channels`, for domain/pushes) ------------------------
def _push_consent(provision: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Consent", "status": status, "provision": provision}


def _deny_channels(*codes: str) -> dict[str, Any]:
    return {"type": "deny", "code": [{"coding": [{"system": PUSH, "code": x}]} for x in codes]}


def _nested_channels(*systems: str, period: dict[str, str] | None = None) -> dict[str, Any]:
    nested: list[dict[str, Any]] = [
        {"type": "deny", "extension": [{"url": CHANNEL_EXT, "valueCode": x}]} for x in systems
    ]
    for n in nested:
        if period:
            n["period"] = period
    return {"type": "permit", "provision": nested}


def _guide_example() -> dict[str, Any]:
    import json

    from fhir_server.conformance.packages import ig_dir

    path = ig_dir("profiles") / "examples" / "Consent-example-push-consent.json"
    return dict(json.loads(path.read_text("utf-8")))


ALL3 = {"app-inbox", "sms", "wechat"}
ON = datetime(2026, 6, 1).date()


@pytest.mark.parametrize(
    "consents, denied",
    [
        ([_guide_example()], {"sms"}),
        ([_push_consent(_deny_channels("app-inbox"))], {"app-inbox"}),
        ([_push_consent(_deny_channels("all"))], ALL3),
        ([_push_consent(_nested_channels("other"))], {"app-inbox", "wechat"}),
        ([_push_consent(_nested_channels("sms", "other"))], ALL3),
        ([_push_consent(_nested_channels("email", "phone"))], set()),
        ([_push_consent(_deny_channels("sms"), status="inactive")], set()),
        ([_push_consent(_nested_channels("sms", period={"start": "2026-07-01"}))], set()),
        ([_push_consent(_nested_channels("sms", period={"start": "2026-01-01", "end": "2026-06-01"}))], {"sms"}),
        ([_push_consent({"type": "permit", "code": [{"coding": [{"system": PUSH, "code": "sms"}]}]})], set()),
        ([_guide_example(), _push_consent(_deny_channels("app-inbox"))], {"sms", "app-inbox"}),
        # where the general rules go further than domain/pushes' own reading did:
        ([_push_consent({"type": "deny"})], ALL3),  # a base deny of everything covers pushes
        ([_push_consent({"type": "deny", "class": [{"system": RT, "code": "Communication"}],
                         "action": [{"coding": [{"code": "disclose"}]}]})], ALL3),  # withdrawal
        ([_push_consent({"type": "deny", "class": [{"system": RT, "code": "Observation"}]})], set()),
        ([_push_consent({"type": "deny", "actor": actor("Organization/chc")})], set()),
        ([{**_push_consent(_deny_channels("sms")), "scope": {"coding": [{"code": "research"}]}}], set()),
    ],
)  # fmt: skip
def test_denied_push_channels(consents: list[dict[str, Any]], denied: set[str]) -> None:
    assert denied_push_channels(consents, ON) == frozenset(denied)


def test_a_push_judged_on_its_content() -> None:
    """A deny of pushes about one topic (a code in the Communication) stops only those."""
    topic = {"coding": [{"system": "urn:topics", "code": "smoking"}]}
    consents = [_push_consent({"type": "permit", "provision": [{"type": "deny", "code": [topic]}]})]
    smoking = {"resourceType": "Communication", "id": "m1", "topic": topic}
    other = {"resourceType": "Communication", "id": "m2", "topic": {"text": "diet"}}
    assert denied_push_channels(consents, ON, communication=smoking) == ALL3
    assert denied_push_channels(consents, ON, communication=other) == set()
    assert denied_push_channels(consents, ON) == ALL3  # not shown the push: a deny holds
