"""Jobs of the sync package:

- `provincial-reconcile --date D`: counts and checksums of days D-1 and D against the
  provincial platform; differences resent, records only on the platform repaired;
- `provincial-import`: the platform's doctor directory and platform-signed contracts;
- `outbox-dispatch`: every outbox consumer (subscriptions, adapters) drained now, and pending
  Bulk Data jobs run;
- `subscriptions`: one pass of the subscription rounds (handshakes, fan-out, notifications,
  heartbeats);
- `health-record-publish`: every resident published to (or withdrawn from) the health-record
  store in full — after configuring the store, or to repair it.

The server process runs the outbox rounds continuously (`app.background_workers`); these jobs
run them on demand (`jiayi jobs run NAME`) against the same database, safely alongside it
(leases).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ...core.jobs import JobSpec


def _integrations(ctx: Any) -> Any:
    return getattr(ctx.components, "integrations", None)


def _reconcile(ctx: Any, on: date) -> str:
    platform = getattr(_integrations(ctx), "signing_platform", None)
    if platform is None:
        return "provincial platform not configured (JIAYI_SIGNING_PLATFORM_URL): nothing to do"
    # The day before too: the scheduler runs daily jobs early in the day, when D has barely begun.
    return "; ".join(str(platform.reconcile(ctx.repo, d)) for d in (on - timedelta(days=1), on))


def _import(ctx: Any, _on: date) -> str:
    platform = getattr(_integrations(ctx), "signing_platform", None)
    if platform is None:
        return "provincial platform not configured (JIAYI_SIGNING_PLATFORM_URL): nothing to do"
    return str(platform.import_inbound(ctx.repo))


def _dispatch(ctx: Any, _on: date) -> str:
    integrations = _integrations(ctx)
    return "no outbox configured" if integrations is None else str(integrations.drain())


def _subscriptions(ctx: Any, _on: date) -> str:
    integrations = _integrations(ctx)
    if integrations is None:
        return "no outbox configured"
    return str(integrations.subscriptions.run_once())


def _publish(ctx: Any, _on: date) -> str:
    store = getattr(_integrations(ctx), "health_record", None)
    if store is None:
        return "health-record store not configured (JIAYI_HEALTH_RECORD_URL): nothing to do"
    return str(store.publish_all(ctx.repo))


JOBS = [
    JobSpec(
        "provincial-reconcile", "Reconcile a day with the provincial signing platform", _reconcile
    ),
    JobSpec("provincial-import", "Import the platform's doctor directory and contracts", _import),
    JobSpec(
        "outbox-dispatch", "Deliver every pending outbox event now", _dispatch, schedule="manual"
    ),
    JobSpec(
        "subscriptions",
        "One pass of the Subscription rounds (handshake, notify, heartbeat)",
        _subscriptions,
        schedule="manual",
    ),
    JobSpec(
        "health-record-publish",
        "Publish every resident's record to the health-record store",
        _publish,
        schedule="manual",
    ),
]
