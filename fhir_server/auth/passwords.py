"""Password and client-secret hashing with scrypt (RFC 7914), via the standard library.

Format: ``scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>``, so parameters can be raised later and
old hashes still verify.  Verification compares in constant time.  Opaque tokens (codes, refresh
tokens) are high-entropy and stored as plain SHA-256 digests (`token_digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_LOG_N, _R, _P = 14, 8, 1
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=2**_LOG_N, r=_R, p=_P, dklen=_DKLEN, maxmem=64 * 1024 * 1024
    )
    return f"scrypt${_LOG_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    try:
        scheme, log_n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=2 ** int(log_n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(expected)),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def dummy_verify(password: str) -> None:
    """Spend the same time as a real check (unknown users must not answer faster)."""
    verify_password(password, _DUMMY)


_DUMMY = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
