"""Channel list for the composition root: `build_channels(inbox_dir, webhooks)` → `MessageSender`s in
preference order (the pushes job tries them in this order, skipping those a resident opted out
of).  `fhir_server.app.push_channels` calls it with the `push_*` settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fhir_server.domain.pushes.ports import MessageSender

from .inbox import LocalInboxSender
from .webhook import WebhookSender


def build_channels(
    inbox_dir: Path | None,
    webhooks: Mapping[str, str] | None = None,
    *,
    token: str | None = None,
) -> Sequence[MessageSender]:
    """`webhooks`: push-channel code (sms, wechat …) → gateway URL; `token`: their bearer token."""
    channels: list[MessageSender] = []
    if inbox_dir is not None:
        channels.append(LocalInboxSender(inbox_dir))
    for channel, url in (webhooks or {}).items():
        channels.append(WebhookSender(channel, url, token=token))
    return channels
