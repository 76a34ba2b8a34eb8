"""Channel opt-outs from `Consent` (issue 5 gap 4 / issue 7) as domain/pushes judges them: through
services/consent.py's `denied_push_channels`, the R4 evaluator of every access decision, with
the guide's profile `jiayi-push-channel-consent` (a permit base provision with nested deny
provisions carrying `consent-channel`), the top-level deny with push-channel codes, a withdrawal
from pushes, and an `OPTOUT`; a push is judged as a disclosure for purpose TREAT."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from fhir_server.conformance.packages import ig_dir
from fhir_server.services.consent import PUSH_CHANNELS, denied_push_channels, push_request

CHANNEL = "https://jiayi.health/fhir/CodeSystem/push-channel"
EXT = "https://jiayi.health/fhir/StructureDefinition/consent-channel"
RT = "http://hl7.org/fhir/resource-types"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
POLICY = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ON = date(2026, 6, 1)
ALL3 = {"app-inbox", "sms", "wechat"}


def _example() -> dict[str, Any]:
    path = ig_dir("profiles") / "examples" / "Consent-example-push-consent.json"
    return dict(json.loads(path.read_text("utf-8")))


def _consent(
    provision: dict[str, Any] | None, status: str = "active", **more: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Consent", "status": status, **more}
    if provision is not None:
        out["provision"] = provision
    return out


def _deny_codes(*codes: str) -> dict[str, Any]:
    return {"type": "deny", "code": [{"coding": [{"system": CHANNEL, "code": c}]} for c in codes]}


def _nested(*systems: str, period: dict[str, str] | None = None) -> dict[str, Any]:
    nested: list[dict[str, Any]] = [
        {"type": "deny", "extension": [{"url": EXT, "valueCode": s}]} for s in systems
    ]
    if period:
        for n in nested:
            n["period"] = period
    return {"type": "permit", "provision": nested}


def _purpose_deny(code: str) -> dict[str, Any]:
    return {"type": "deny", "purpose": [{"system": PURPOSE, "code": code}]}


WITHDRAWAL = {
    "type": "deny",
    "class": [{"system": RT, "code": "Communication"}],
    "action": [{"coding": [{"code": "disclose"}]}],
}
OPTOUT = {"coding": [{"system": POLICY, "code": "OPTOUT"}]}
OPTIN = {"coding": [{"system": POLICY, "code": "OPTIN"}]}


@pytest.mark.parametrize(
    ("consents", "denied"),
    [
        ([_example()], {"sms"}),  # the guide's example: SMS opt-out
        ([_consent(_deny_codes("app-inbox"))], {"app-inbox"}),
        ([_consent(_deny_codes("all"))], ALL3),  # `all` is every real channel, not a channel
        ([_consent(_nested("other"))], {"app-inbox", "wechat"}),
        ([_consent(_nested("sms", "other"))], ALL3),
        ([_consent(_nested("email", "phone"))], set()),  # no push goes out on those
        ([_consent(_deny_codes("sms"), status="inactive")], set()),
        ([_consent(_nested("sms", period={"start": "2026-07-01"}))], set()),
        ([_consent(_nested("sms", period={"start": "2026-01-01", "end": "2026-12-31"}))], {"sms"}),
        ([_consent({"type": "permit", "code": _deny_codes("sms")["code"]})], set()),
        ([_example(), _consent(_deny_codes("app-inbox"))], {"sms", "app-inbox"}),
        # the R4 reading (services/consent.py) where domain/pushes' own copy differed:
        ([_consent({"type": "deny"})], ALL3),  # a bare deny denies everything, pushes too
        ([_consent(WITHDRAWAL)], ALL3),  # withdrawn from pushes: deny Communication, disclose
        ([_consent(None, policyRule=OPTOUT)], ALL3),  # an OPTOUT without provisions
        ([_consent(None, policyRule=OPTIN)], set()),
        ([_consent(_deny_codes("sms"), scope={"coding": [{"code": "research"}]})], set()),
        ([_consent(_deny_codes("sms"), scope={"coding": [{"code": "patient-privacy"}]})], {"sms"}),
        ([_consent({"type": "deny", "class": [{"system": RT, "code": "Observation"}]})], set()),
        ([_consent({"type": "deny", "action": [{"coding": [{"code": "access"}]}]})], set()),
        ([_consent(_purpose_deny("TREAT"))], ALL3),  # pushes are part of treatment
        ([_consent(_purpose_deny("HRESCH"))], set()),  # a research-only deny spares them
    ],
)  # fmt: skip
def test_denied_push_channels(consents: list[dict[str, Any]], denied: set[str]) -> None:
    assert denied_push_channels(consents, ON) == frozenset(denied)


def test_opted_out_of_every_channel() -> None:
    """compliance's "opted out of all": every real channel denied (no `all` in the set)."""
    for consents in ([_consent(_deny_codes("all"))], [_consent(_nested("sms", "other"))]):
        denied = denied_push_channels(consents, ON)
        assert denied >= PUSH_CHANNELS
        assert "all" not in denied
    assert not denied_push_channels([_example()], ON) >= PUSH_CHANNELS


def test_a_push_is_a_treatment_disclosure() -> None:
    request = push_request("sms", ON)
    assert request.purposes == frozenset({"TREAT"})
    assert request.action == "disclose"
    assert request.channel == "sms"


def test_a_push_is_judged_on_its_content() -> None:
    """A deny of pushes on one topic stops only those (the Communication is given)."""
    topic = {"coding": [{"system": "urn:topics", "code": "smoking"}]}
    consents = [_consent({"type": "permit", "provision": [{"type": "deny", "code": [topic]}]})]
    smoking = {"resourceType": "Communication", "id": "m1", "topic": topic}
    other = {"resourceType": "Communication", "id": "m2", "topic": {"text": "diet"}}
    assert denied_push_channels(consents, ON, communication=smoking) == ALL3
    assert denied_push_channels(consents, ON, communication=other) == set()
