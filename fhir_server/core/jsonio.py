"""JSON in and out through orjson (fast, strict UTF-8, no NaN)."""

from __future__ import annotations

from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
