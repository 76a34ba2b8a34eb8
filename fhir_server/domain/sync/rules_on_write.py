"""Subscription writes (the `WriteRule` port): what a client may create or change, and who the
subscriber is.

- `SubscriptionRule.before_write`: a client's Subscription is checked by
  `subscriptions.validation.check_subscription` (known topic, filters the topic offers, a
  rest-hook to an https endpoint, `status` `requested` — only the server activates after the
  handshake); any problem → 422 with an `expression` at the element, nothing written.
- `after_write`: the writer's principal is recorded as the subscriber in the same transaction
  (`subscription_owner`), so notifications carry only what the subscriber may read.  A server
  component's write (the subscription manager runs without rules; seeders as the system) keeps a
  recorded subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core import errors as E
from ...subscriptions.state import record_owner
from ...subscriptions.topics import TopicCatalog
from ...subscriptions.validation import check_subscription


def _writer(tx: Any) -> Any:
    """The RequestContext of the write being ruled on (None when the gate does not say)."""
    return getattr(tx.ctx, "writer", None)


def _by_server(writer: Any) -> bool:
    return writer is not None and writer.principal is None and writer.system_name is not None


@dataclass
class SubscriptionRule:
    catalog: TopicCatalog = field(default_factory=TopicCatalog.load)

    def applies(self, resource_type: str, method: str) -> bool:
        return resource_type == "Subscription" and method != "DELETE"

    def before_write(
        self, tx: Any, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if resource is None or _by_server(_writer(tx)):
            return resource
        issues = check_subscription(resource, self.catalog, current)
        if issues:
            raise E.unprocessable(issues)
        return resource

    def after_write(
        self, tx: Any, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None:
        if stored is None:
            return
        writer = _writer(tx)
        principal = writer.principal if writer is not None else None
        # The SQL unit of work the rule runs in: the subscriber row commits with the write.
        conn = getattr(getattr(tx, "_uow", None), "connection", None)
        if conn is None:
            return
        record_owner(
            conn,
            conn.dialect.name,
            str(stored["id"]),
            principal.to_claims() if principal is not None else None,
            tx.components.clock.now(),
            replace=not _by_server(writer),
        )


WRITE_RULES = [SubscriptionRule()]
