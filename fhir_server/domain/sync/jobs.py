"""Jobs of the sync package: `jiayi jobs run provincial-reconcile --date D` (counts and checksums of
day D against the provincial platform, differences resent), `provincial-import` (doctor directory
and platform-signed contracts), `outbox-dispatch` (drain every outbox consumer now)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ...core.jobs import JobSpec


def _integrations(ctx: Any) -> Any:
    return getattr(ctx.components, "integrations", None)


def _reconcile(ctx: Any, on: date) -> str:
    platform = getattr(_integrations(ctx), "signing_platform", None)
    if platform is None:
        return "provincial platform not configured: nothing to reconcile"
    return str(platform.reconcile(ctx.repo, on))


def _import(ctx: Any, _on: date) -> str:
    platform = getattr(_integrations(ctx), "signing_platform", None)
    if platform is None:
        return "provincial platform not configured: nothing to import"
    return str(platform.import_inbound(ctx.repo))


def _dispatch(ctx: Any, _on: date) -> str:
    integrations = _integrations(ctx)
    return "no outbox configured" if integrations is None else str(integrations.drain())


JOBS = [
    JobSpec(
        "provincial-reconcile", "Reconcile a day with the provincial signing platform", _reconcile
    ),
    JobSpec("provincial-import", "Import the platform's doctor directory and contracts", _import),
    JobSpec(
        "outbox-dispatch", "Deliver every pending outbox event now", _dispatch, schedule="manual"
    ),
]
