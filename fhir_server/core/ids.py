"""Logical id and version rules (FHIR R4 `id` datatype: [A-Za-z0-9\\-\\.]{1,64})."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,17}$")


def is_valid_id(value: str) -> bool:
    return bool(_ID.match(value))


def is_valid_version(value: str) -> bool:
    return bool(_VERSION.match(value))


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
