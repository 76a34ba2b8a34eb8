"""Tables of the SMART authorisation server, on the shared `metadata` (migration 0003 creates them).

Spec: SMART App Launch 2.x (clients, authorization codes, refresh tokens) and SMART Backend
Services ("jti" replay protection).  Opaque tokens and codes are stored only as SHA-256 digests,
passwords and client secrets only as scrypt hashes.  Times are Unix epoch seconds (BigInteger) so
SQLite and PostgreSQL compare them identically.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from ..storage.sql.tables import JsonDocument, metadata

_Serial = BigInteger().with_variant(Integer(), "sqlite")

auth_client = Table(
    "auth_client",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("secret_hash", String(255), nullable=True),
    Column("jwks", JsonDocument, nullable=True),
    Column("jwks_url", String(2048), nullable=True),
    Column("redirect_uris", JsonDocument, nullable=False),
    Column("scope", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("organization", String(64), nullable=True),  # migration 0007
)

auth_user = Table(
    "auth_user",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("patient_id", String(64), nullable=True),
    Column("practitioner_id", String(64), nullable=True),
    Column("role", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

auth_code = Table(
    "auth_code",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(255), nullable=False),
    Column("username", String(255), nullable=False),
    Column("redirect_uri", String(2048), nullable=False),
    Column("scope", Text, nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("context", JsonDocument, nullable=False),  # patient, encounter, nonce, aud …
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)

auth_refresh_token = Table(
    "auth_refresh_token",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family", String(64), nullable=False),  # all rotations of one grant
    Column("client_id", String(255), nullable=False),
    Column("username", String(255), nullable=True),
    Column("scope", Text, nullable=False),
    Column("context", JsonDocument, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),  # rotated away
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_auth_refresh_family", "family"),
)

auth_jti = Table(
    "auth_jti",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

auth_revoked_token = Table(
    "auth_revoked_token",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

auth_signing_key = Table(
    "auth_signing_key",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

auth_login_failure = Table(
    "auth_login_failure",
    metadata,
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_auth_login_failure_user", "username", "at"),
)

auth_launch = Table(
    "auth_launch",
    metadata,
    Column("launch_id", String(64), primary_key=True),
    Column("context", JsonDocument, nullable=False),  # patient, encounter
    Column("expires_at", BigInteger, nullable=False),
    # migration 0007: bound to the client and the EHR user who started it; taken once
    Column("client_id", String(255), nullable=True),
    Column("username", String(255), nullable=True),
    Column("used", Boolean, nullable=False, default=False),
)
