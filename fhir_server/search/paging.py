"""Opaque keyset cursors for search paging (stable while other clients insert).

Spec: http://hl7.org/fhir/R4/http.html#paging and http://hl7.org/fhir/R4/search.html#count

A cursor holds the sort-key values of the last entry of a page plus its (type, id), and a hash of
the query it belongs to, so it cannot be replayed against a different search.  When a secret is
given the cursor is HMAC-signed.  Encoding: base64url(JSON).
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


def query_hash(query: Sequence[tuple[str, str]]) -> str:
    """A short, order-insensitive fingerprint of the search (paging params excluded)."""
    kept = sorted((k, val) for k, val in query if k not in ("_cursor", "_count", "_total"))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()[:16]


def _sign(payload: bytes, secret: bytes | None) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()[:24] if secret else ""


def encode_cursor(cursor: Cursor, secret: bytes | None = None) -> str:
    payload = json.dumps([list(cursor.key), cursor.query_hash], separators=(",", ":")).encode()
    body = {"p": payload.decode(), "s": _sign(payload, secret)}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def decode_cursor(token: str, expected_hash: str, secret: bytes | None = None) -> Cursor:
    """The cursor, or a 400 when it is malformed, forged or belongs to another search."""
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        payload = body["p"].encode()
        key, qhash = json.loads(payload)
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request("Invalid paging cursor", "_cursor") from exc
    if not hmac.compare_digest(body.get("s", ""), _sign(payload, secret)):
        raise bad_request("Invalid paging cursor (signature)", "_cursor")
    if qhash != expected_hash:
        raise bad_request("The paging cursor belongs to a different search", "_cursor")
    return Cursor(tuple(key), qhash)
