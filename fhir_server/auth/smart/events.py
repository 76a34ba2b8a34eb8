"""What the authorisation server reports to the audit trail (issue 5: login failures,
throttling, invalid clients, refresh-token reuse, token issuance).

The composition root (`app.create_app`) adapts an `AuthEvents` callback to the server's audit
writer; the authorisation server itself stays free of the services layer.  Nothing secret is ever
passed: no password, secret, code or token — only names, outcomes and the source address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Origin:
    """Where an authorisation request came from."""

    source_ip: str | None = None
    request_id: str = "-"


class AuthEvents(Protocol):
    def __call__(
        self,
        origin: Origin,
        event: str,
        status: int,
        *,
        username: str | None = None,
        client_id: str | None = None,
        principal: Any = None,
        detail: str = "",
    ) -> None:
        """`event`: login, login-throttled, launch-refused, token, token-refused,
        invalid-client, refresh-reuse, revoke, introspect-refused."""
        ...


def no_events(origin: Origin, event: str, status: int, **_: Any) -> None:
    """The default sink: nothing is recorded (tests of the bare authorisation server)."""
