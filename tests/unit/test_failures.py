"""Which unexpected exceptions mean "the database cannot serve now" (503) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa

from fhir_server.rest.failures import database_unavailable, failure_error


def _wrapped(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except BaseException as result:
        return result


CASES: list[tuple[BaseException, bool]] = [
    (sa.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")), True),
    (sa.InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
    (sa.TimeoutError("QueuePool limit of size 20 overflow 50 reached"), True),
    (sa.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True), True),
    (sqlite3.OperationalError("database is locked"), True),
    (psycopg.OperationalError("server closed the connection unexpectedly"), True),
    (_wrapped(RuntimeError("while writing"), sqlite3.OperationalError("unable to open")), True),
    (sa.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    (sa.DataError("INSERT", {}, Exception("invalid input")), False),
    (sa.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=False), False),
    (RuntimeError("bug"), False),
    (KeyError("x"), False),
]


@pytest.mark.parametrize(("exc", "unavailable"), CASES)
def test_database_unavailable(exc: BaseException, unavailable: bool) -> None:
    assert database_unavailable(exc) is unavailable
    error = failure_error(exc)
    assert error.status == (503 if unavailable else 500)
    assert ("Retry-After" in error.headers) is unavailable
    assert error.issues[0].code == ("transient" if unavailable else "exception")
