"""What the edge answers when a request fails with something other than a `FhirError`.

- The database cannot be reached (connection refused or lost, pool exhausted, SQLite file gone or
  locked beyond the busy timeout): 503 with `Retry-After`; the client may try again.
- Anything else is a bug: 500.  Either way an OperationOutcome, never a stack trace.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc as sa

from ..core import errors as E

#: Seconds a client is asked to wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5

#: Raised by SQLAlchemy, or by a driver directly (e.g. from a connection event hook).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,
    sa.DisconnectionError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from) says the database cannot serve now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def failure_error(exc: BaseException) -> E.FhirError:
    """The `FhirError` the client sees for an unexpected exception."""
    if database_unavailable(exc):
        return E.FhirError(
            503,
            E.Issue(
                "error",
                "transient",
                "The database is unavailable at the moment; retry later",
                (),
                "JY-0503",
            ),
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return E.FhirError(500, E.Issue("fatal", "exception", "Internal server error", (), "JY-0500"))
