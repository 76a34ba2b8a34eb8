"""JSON in and out through orjson (fast, strict UTF-8, no NaN)."""

from __future__ import annotations

from typing import Any

import orjson

#: The deepest nesting of objects and arrays a request body may have.  The official R4 examples
#: nest at most 22 levels; storage (orjson, 254) and the validator's recursion cannot go much deeper.
MAX_DEPTH = 100


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)


def nests_deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects/arrays in `value` nest more than `limit` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
