"""Logical id and version rules (FHIR R4 `id` datatype: [A-Za-z0-9\\-\\.]{1,64})."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,17}$")
#: The largest value a database BIGINT (and SQLite INTEGER) holds.
MAX_INT64 = 2**63 - 1


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def is_valid_version(value: str) -> bool:
    return bool(_VERSION.match(value))


def parse_counter(value: str) -> int | None:
    """A non-negative decimal that fits a BIGINT (`_page` cursors, `_count`); None otherwise."""
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if number <= MAX_INT64 else None


def new_id() -> str:
    return str(uuid.uuid4())


def etag(version_id: int) -> str:
    return f'W/"{version_id}"'


def parse_etag(value: str) -> str | None:
    """`W/"3"` or `"3"` or `3` → `"3"`; None when the header holds no version."""
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"').strip()
    return v or None
