"""Channel adapters (issue 7 "delivery through a channel adapter interface … with retries"): the local
inbox and the webhook (httpx.MockTransport), and how a receipt lands on the Communication."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.messaging.inbox import LocalInboxSender
from adapters.messaging.webhook import WebhookSender
from fhir_server.domain.pushes import messages as M
from fhir_server.domain.pushes.ports import OutboundMessage

MSG = OutboundMessage("push-1", "sms", "p1", "减盐", "每天不超过5克", addresses=("13800000000",))
NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


def _webhook(handler: object, attempts: int = 3) -> tuple[WebhookSender, list[float]]:
    slept: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    sender = WebhookSender(
        "sms",
        "https://gw.example/send",
        client=client,
        max_attempts=attempts,
        sleep=slept.append,
        clock=lambda: NOW,
    )
    return sender, slept


def test_webhook_retries_transient_failures_then_succeeds() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"received": "2026-03-01T01:00:05Z"})

    sender, slept = _webhook(handler)
    receipt = sender.send(MSG)
    assert receipt.ok and receipt.attempts == 3 and slept == [0.5, 1.0]
    assert receipt.received == datetime(2026, 3, 1, 1, 0, 5, tzinfo=UTC)
    assert {c.headers["Idempotency-Key"] for c in calls} == {"push-1"}
    assert b"13800000000" in calls[0].content


def test_webhook_gives_up_and_reports_the_reason() -> None:
    sender, _ = _webhook(lambda r: httpx.Response(502, text="bad gateway"), attempts=2)
    receipt = sender.send(MSG)
    assert not receipt.ok and not receipt.permanent and receipt.attempts == 2
    assert "502" in (receipt.reason or "")


def test_webhook_client_error_is_permanent() -> None:
    sender, slept = _webhook(lambda r: httpx.Response(400, text="unknown number"))
    receipt = sender.send(MSG)
    assert receipt.permanent and receipt.attempts == 1 and slept == []


def test_webhook_network_error_is_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    receipt = _webhook(handler)[0].send(MSG)
    assert not receipt.ok and "ConnectError" in (receipt.reason or "")


def test_inbox_is_idempotent(tmp_path: Path) -> None:
    inbox = LocalInboxSender(tmp_path, clock=lambda: NOW)
    assert inbox.send(MSG).ok and inbox.send(MSG).ok
    assert [m["id"] for m in inbox.messages("p1")] == ["push-1"]


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "sent"),
    [
        (M.Outcome("completed", 1, "sms", NOW, None), "completed", None, True),
        (
            M.Outcome("in-progress", 1, reason_code="delivery-failed", reason_text="HTTP 503"),
            "in-progress",
            "delivery-failed",
            False,
        ),
        (
            M.Outcome("not-done", 3, reason_code="delivery-failed", reason_text="x"),
            "not-done",
            "delivery-failed",
            False,
        ),
        (
            M.Outcome("not-done", 1, reason_code="opted-out", reason_text="y"),
            "not-done",
            "opted-out",
            False,
        ),
    ],
)
def test_status_recorded_on_the_communication(
    outcome: M.Outcome, status: str, reason: str | None, sent: bool
) -> None:
    body = {"resourceType": "Communication", "id": "x", "status": "preparation"}
    out = M.with_outcome(body, outcome, "2026-03-01T09:00:00+08:00", None)
    assert out["status"] == status and M.runs_of(out) == outcome.runs
    assert (out.get("statusReason") or {}).get("coding", [{}])[0].get("code") == reason
    assert ("sent" in out) is sent
    if outcome.channel:
        codes = [c["code"] for c in out["medium"][0]["coding"]]
        assert codes == ["sms", "WRITTEN"]  # push-channel, then the v3 ParticipationMode
    again = M.with_outcome(out, M.Outcome("completed", outcome.runs + 1, "app-inbox"), "s", "r")
    assert "statusReason" not in again and M.runs_of(again) == outcome.runs + 1


def test_waiting_for_a_channel_changes_nothing() -> None:
    body = {"resourceType": "Communication", "id": "x", "status": "preparation"}
    assert M.with_outcome(body, M.Outcome("preparation", 0), None, None) == body
