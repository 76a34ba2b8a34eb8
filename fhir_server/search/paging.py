"""Opaque keyset cursors for search paging (stable while other clients insert).

Spec: http://hl7.org/fhir/R4/http.html#paging and http://hl7.org/fhir/R4/search.html#count

A cursor holds the sort-key values of the last entry of a page plus its (type, id), and a hash of
the query it belongs to, so it cannot be replayed against a different search.  When a secret is
given the cursor is HMAC-signed.  Encoding: base64url(JSON).  It also carries the `_total` the
first page computed (and whether it was `accurate` or an `estimate`), so later pages report it
without counting again (the total as of the first page, as the pages themselves are).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import bad_request


@dataclass(frozen=True)
class Cursor:
    key: tuple[Any, ...]  # sort values of the last entry, then res_type, res_id
    query_hash: str
    #: the first page's `_total` and its kind ("accurate" | "estimate"); None: not computed
    total: int | None = None
    total_kind: str | None = None


def query_hash(query: Sequence[tuple[str, str]]) -> str:
    """A short, order-insensitive fingerprint of the search (paging params excluded)."""
    kept = sorted((k, val) for k, val in query if k not in ("_cursor", "_count", "_total"))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def _sign(payload: bytes, secret: bytes | None) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()[:24] if secret else ""


def encode_cursor(cursor: Cursor, secret: bytes | None = None) -> str:
    parts: list[Any] = [list(cursor.key), cursor.query_hash]
    if cursor.total is not None:
        parts += [cursor.total, cursor.total_kind]
    payload = json.dumps(parts, separators=(",", ":")).encode()
    body = {"p": payload.decode(), "s": _sign(payload, secret)}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def decode_cursor(token: str, expected_hash: str, secret: bytes | None = None) -> Cursor:
    """The cursor, or a 400 when it is malformed, forged or belongs to another search."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        payload = body["p"].encode()
        key, qhash, *counted = json.loads(payload)
        total, kind = counted if counted else (None, None)
        if not (total is None or (isinstance(total, int) and kind in ("accurate", "estimate"))):
            raise ValueError("bad total")
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request("Invalid paging cursor", "_cursor") from exc
    if not hmac.compare_digest(body.get("s", ""), _sign(payload, secret)):
        raise bad_request("Invalid paging cursor (signature)", "_cursor")
    if qhash != expected_hash:
        raise bad_request("The paging cursor belongs to a different search", "_cursor")
    return Cursor(tuple(key), qhash, total, kind)


def carried_total(cursor: Cursor | None, wanted: str | None) -> int | None:
    """The total a later page reports from its cursor: an accurate one for `accurate` or
    `estimate`, an estimate only for `estimate`; None: compute it."""
    if cursor is None or cursor.total is None:
        return None
    if wanted == "accurate" and cursor.total_kind == "accurate":
        return cursor.total
    return cursor.total if wanted == "estimate" else None
