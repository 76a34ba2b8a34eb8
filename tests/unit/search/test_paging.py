"""Paging cursors: opaque, signed, bound to their search, carrying the first page's `_total`."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.search.paging import (
    Cursor,
    carried_total,
    decode_cursor,
    encode_cursor,
    query_hash,
)

SECRET = b"s3cret"
QH = query_hash([("name", "wang")])


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(("1950-01-01", "Patient", "a"), QH),
        Cursor(("Patient", "a"), QH, 12, "accurate"),
        Cursor(("Patient", "a"), QH, 3000, "estimate"),
    ],
)
def test_round_trip(cursor: Cursor) -> None:
    assert decode_cursor(encode_cursor(cursor, SECRET), QH, SECRET) == cursor


def test_total_cannot_be_forged() -> None:
    token = encode_cursor(Cursor(("Patient", "a"), QH, 12, "accurate"), SECRET)
    with pytest.raises(FhirError) as err:
        decode_cursor(token, QH, b"other")
    assert err.value.status == 400 and err.value.issues[0].expression == ("_cursor",)


@pytest.mark.parametrize(
    ("total", "kind", "wanted", "expected"),
    [
        (12, "accurate", "accurate", 12),
        (12, "accurate", "estimate", 12),  # an exact count is a fine estimate
        (12, "estimate", "estimate", 12),
        (12, "estimate", "accurate", None),  # an estimate is not an accurate total: count
        (12, "accurate", "none", None),
        (12, "accurate", None, None),
        (None, None, "accurate", None),
    ],
)
def test_carried_total(
    total: int | None, kind: str | None, wanted: str | None, expected: int | None
) -> None:
    assert carried_total(Cursor(("Patient", "a"), QH, total, kind), wanted) == expected


def test_no_cursor_no_total() -> None:
    assert carried_total(None, "accurate") is None
