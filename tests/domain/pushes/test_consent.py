"""Channel opt-outs from `Consent` (issue 7), in both forms: the top-level deny with push-channel
codes, and the guide's profile `jiayi-push-channel-consent` (a permit base provision with nested
deny provisions carrying `consent-channel`), checked with the guide's own example."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from fhir_server.conformance.packages import ig_dir
from fhir_server.domain.pushes.record import opted_out_channels, opted_out_of_all

CHANNEL = "https://jiayi.health/fhir/CodeSystem/push-channel"
EXT = "https://jiayi.health/fhir/StructureDefinition/consent-channel"
ON = date(2026, 6, 1)


def _example() -> dict[str, Any]:
    path = ig_dir("profiles") / "examples" / "Consent-example-push-consent.json"
    return json.loads(path.read_text("utf-8"))


def _consent(provision: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {"resourceType": "Consent", "status": status, "provision": provision}


def _deny_codes(*codes: str) -> dict[str, Any]:
    return {"type": "deny", "code": [{"coding": [{"system": CHANNEL, "code": c}]} for c in codes]}


def _nested(*systems: str, period: dict[str, str] | None = None) -> dict[str, Any]:
    nested = [{"type": "deny", "extension": [{"url": EXT, "valueCode": s}]} for s in systems]
    if period:
        for n in nested:
            n["period"] = period
    return {"type": "permit", "provision": nested}


@pytest.mark.parametrize(
    ("consents", "denied"),
    [
        ([_example()], {"sms"}),  # the guide's example: SMS opt-out
        ([_consent(_deny_codes("app-inbox"))], {"app-inbox"}),
        ([_consent(_deny_codes("all"))], {"all", "app-inbox", "sms", "wechat"}),
        ([_consent(_nested("other"))], {"app-inbox", "wechat"}),
        ([_consent(_nested("sms", "other"))], {"app-inbox", "sms", "wechat"}),
        ([_consent(_nested("email", "phone"))], set()),  # no push goes out on those
        ([_consent(_deny_codes("sms"), status="inactive")], set()),
        ([_consent(_nested("sms", period={"start": "2026-07-01"}))], set()),
        ([_consent(_nested("sms", period={"start": "2026-01-01", "end": "2026-12-31"}))], {"sms"}),
        (
            [
                _consent(
                    {"type": "permit", "code": [{"coding": [{"system": CHANNEL, "code": "sms"}]}]}
                )
            ],
            set(),
        ),
        ([_consent({"type": "deny"})], set()),  # a deny of something else names no channel
        ([_example(), _consent(_deny_codes("app-inbox"))], {"sms", "app-inbox"}),
    ],
)
def test_opted_out_channels(consents: list[dict[str, Any]], denied: set[str]) -> None:
    assert opted_out_channels(consents, ON) == frozenset(denied)


def test_opted_out_of_every_channel() -> None:
    assert opted_out_of_all(opted_out_channels([_consent(_deny_codes("all"))], ON))
    assert opted_out_of_all(opted_out_channels([_consent(_nested("sms", "other"))], ON))
    assert not opted_out_of_all(opted_out_channels([_example()], ON))
