"""Channel list for the composition root: `build_channels(inbox_dir, webhooks)` → `MessageSender`s in
preference order (the first a resident has not opted out of is used)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fhir_server.domain.pushes.ports import MessageSender

from .inbox import LocalInboxSender
from .webhook import WebhookSender


def build_channels(
    inbox_dir: Path | None, webhooks: Mapping[str, str] | None = None
) -> Sequence[MessageSender]:
    """`webhooks`: push-channel code (sms, wechat …) → gateway URL."""
    channels: list[MessageSender] = []
    if inbox_dir is not None:
        channels.append(LocalInboxSender(inbox_dir))
    for channel, url in (webhooks or {}).items():
        channels.append(WebhookSender(channel, url))
    return channels
