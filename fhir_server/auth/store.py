"""Persistence of the SMART authorisation server (clients, users, codes, tokens, keys, jti cache).

Spec: SMART App Launch 2.x (client registration, authorization codes, refresh tokens), SMART
Backend Services ("jti" replay: the server keeps each jti until its assertion expires), RFC 6749
§10.4 / OAuth 2.0 Security BCP §4.14 (refresh-token rotation with reuse detection).

Every method runs in its own short transaction; single-use operations (`take_code`,
`rotate_refresh`, `remember_jti`) are atomic conditional writes, so concurrent workers agree.
`add_client` and `add_user` are the functions behind `jiayi clients add` / `jiayi users add`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..core.clock import Clock, SystemClock
from .passwords import hash_password, new_token, token_digest
from .principal import PRACTITIONER_ROLES, ROLES
from .scopes import parse_scopes
from .tables import (
    auth_client,
    auth_code,
    auth_jti,
    auth_launch,
    auth_login_failure,
    auth_refresh_token,
    auth_revoked_token,
    auth_signing_key,
    auth_user,
)


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    scope: str
    redirect_uris: tuple[str, ...] = ()
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    organization: str | None = None  # back-end clients: the Organization id they act for

    @property
    def auth_method(self) -> str:
        """RFC 7591 token_endpoint_auth_method."""
        if self.jwks is not None or self.jwks_url:
            return "private_key_jwt"
        return "client_secret_basic" if self.secret_hash else "none"

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"


@dataclass(frozen=True)
class UserRecord:
    username: str
    password_hash: str
    role: str
    patient_id: str | None = None
    practitioner_id: str | None = None

    @property
    def fhir_user(self) -> str:
        if self.patient_id:
            return f"Patient/{self.patient_id}"
        return f"Practitioner/{self.practitioner_id}"


@dataclass(frozen=True)
class GrantRecord:
    """What an authorization code or refresh token stands for."""

    client_id: str
    scope: str
    username: str | None
    context: dict[str, Any] = field(default_factory=dict)
    redirect_uri: str = ""
    code_challenge: str | None = None
    family: str = ""
    expires_at: int = 0


class AuthStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()

    def now(self) -> int:
        return int(self._clock.now().timestamp())

    # -- clients and users -------------------------------------------------------------------------
    def add_client(self, client: ClientRecord) -> None:
        row = {
            "client_id": client.client_id,
            "secret_hash": client.secret_hash,
            "jwks": client.jwks,
            "jwks_url": client.jwks_url,
            "redirect_uris": list(client.redirect_uris),
            "scope": client.scope,
            "created_at": self.now(),
            "organization": client.organization,
        }
        self._insert_unique(auth_client, row, f"client '{client.client_id}' already exists")

    def client(self, client_id: str) -> ClientRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(auth_client).where(auth_client.c.client_id == client_id)
            ).first()
        if row is None:
            return None
        return ClientRecord(
            row.client_id,
            row.scope,
            tuple(row.redirect_uris or ()),
            row.secret_hash,
            row.jwks,
            row.jwks_url,
            row.organization,
        )

    def add_user(self, user: UserRecord) -> None:
        row = {
            "username": user.username,
            "password_hash": user.password_hash,
            "patient_id": user.patient_id,
            "practitioner_id": user.practitioner_id,
            "role": user.role,
            "created_at": self.now(),
        }
        self._insert_unique(auth_user, row, f"user '{user.username}' already exists")

    def user(self, username: str) -> UserRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(auth_user).where(auth_user.c.username == username)).first()
        if row is None:
            return None
        return UserRecord(
            row.username, row.password_hash, row.role, row.patient_id, row.practitioner_id
        )

    def _insert_unique(self, table: Any, row: dict[str, Any], message: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(table).values(**row))
        except IntegrityError as exc:
            raise ValueError(message) from exc

    # -- login throttling ---------------------------------------------------------------------------
    def login_failures(self, username: str, window: int = 60) -> int:
        since = self.now() - window
        query = select(func.count()).where(
            and_(auth_login_failure.c.username == username, auth_login_failure.c.at > since)
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def record_login_failure(self, username: str) -> None:
        now = self.now()
        with self._engine.begin() as conn:
            conn.execute(insert(auth_login_failure).values(username=username[:255], at=now))
            conn.execute(delete(auth_login_failure).where(auth_login_failure.c.at < now - 3600))

    # -- authorization codes ------------------------------------------------------------------------
    def save_code(self, grant: GrantRecord, lifetime: int) -> str:
        code = new_token()
        row = {
            "code_hash": token_digest(code),
            "client_id": grant.client_id,
            "username": grant.username or "",
            "redirect_uri": grant.redirect_uri,
            "scope": grant.scope,
            "code_challenge": grant.code_challenge,
            "context": grant.context,
            "expires_at": self.now() + lifetime,
            "used": False,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(auth_code).values(**row))
        return code

    def take_code(self, code: str) -> GrantRecord | None:
        """The code's grant, marking it used; None when unknown, used or expired (single use)."""
        digest = token_digest(code)
        t = auth_code.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(auth_code)
                .where(and_(t.code_hash == digest, t.used.is_(False), t.expires_at > self.now()))
                .values(used=True)
            )
            if done.rowcount != 1:
                return None
            row = conn.execute(select(auth_code).where(t.code_hash == digest)).one()
        return GrantRecord(
            row.client_id, row.scope, row.username or None, dict(row.context), row.redirect_uri,
            row.code_challenge, "", row.expires_at,
        )  # fmt: skip

    # -- refresh tokens -----------------------------------------------------------------------------
    def save_refresh(self, grant: GrantRecord, lifetime: int) -> str:
        token = new_token()
        row = {
            "token_hash": token_digest(token),
            "family": grant.family or new_token(16),
            "client_id": grant.client_id,
            "username": grant.username,
            "scope": grant.scope,
            "context": grant.context,
            "expires_at": self.now() + lifetime,
            "used": False,
            "revoked": False,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(auth_refresh_token).values(**row))
        return token

    def refresh(self, token: str) -> GrantRecord | None:
        """An active (unused, unrevoked, unexpired) refresh token's grant."""
        t = auth_refresh_token.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(auth_refresh_token).where(
                    and_(
                        t.token_hash == token_digest(token),
                        t.used.is_(False),
                        t.revoked.is_(False),
                        t.expires_at > self.now(),
                    )
                )
            ).first()
        return _grant_from_refresh(row) if row is not None else None

    def rotate_refresh(self, token: str) -> GrantRecord | None:
        """Consume a refresh token.  Presenting a rotated-away token revokes its whole family."""
        digest = token_digest(token)
        t = auth_refresh_token.c
        with self._engine.begin() as conn:
            done = conn.execute(
                update(auth_refresh_token)
                .where(
                    and_(
                        t.token_hash == digest,
                        t.used.is_(False),
                        t.revoked.is_(False),
                        t.expires_at > self.now(),
                    )
                )
                .values(used=True)
            )
            row = conn.execute(select(auth_refresh_token).where(t.token_hash == digest)).first()
            if done.rowcount == 1 and row is not None:
                return _grant_from_refresh(row)
            if row is not None and row.used:
                conn.execute(
                    update(auth_refresh_token).where(t.family == row.family).values(revoked=True)
                )
        if row is not None and row.used:
            self.revoke_family(row.family, int(row.expires_at))
        return None

    def reused(self, token: str) -> bool:
        """Was this refresh token rotated away already (a replay: its family is revoked)?"""
        t = auth_refresh_token.c
        with self._engine.connect() as conn:
            row = conn.execute(select(t.used).where(t.token_hash == token_digest(token))).first()
        return bool(row is not None and row.used)

    def revoke_refresh(self, token: str, client_id: str | None = None) -> bool:
        t = auth_refresh_token.c
        with self._engine.begin() as conn:
            row = conn.execute(
                select(auth_refresh_token).where(t.token_hash == token_digest(token))
            ).first()
            if row is None or (client_id is not None and row.client_id != client_id):
                return False
            conn.execute(
                update(auth_refresh_token).where(t.family == row.family).values(revoked=True)
            )
        self.revoke_family(row.family, int(row.expires_at))
        return True

    def revoke_family(self, family: str, expires_at: int) -> None:
        """Revoke every access token issued under one grant (its refresh-token family)."""
        horizon = max(expires_at, self.now() + 24 * 3600)
        self.revoke_access(f"family:{family}", horizon)

    # -- access tokens and assertions ---------------------------------------------------------------
    def remember_jti(self, issuer: str, jti: str, expires_at: int) -> bool:
        """Record an assertion's jti; False when it was seen before (replay)."""
        now = self.now()
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(auth_jti).where(auth_jti.c.expires_at < now - 300))
                conn.execute(insert(auth_jti).values(issuer=issuer, jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    def revoke_access(self, jti: str, expires_at: int) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(auth_revoked_token).values(jti=jti, expires_at=expires_at))
        except IntegrityError:
            pass

    def is_revoked(self, jti: str, family: str | None = None) -> bool:
        """Is the access token `jti` revoked, itself or through its grant's `family`?"""
        keys = [jti] + ([f"family:{family}"] if family else [])
        with self._engine.connect() as conn:
            found = conn.execute(
                select(auth_revoked_token.c.jti).where(auth_revoked_token.c.jti.in_(keys))
            ).first()
        return found is not None

    # -- signing keys and EHR launches --------------------------------------------------------------
    def signing_keys(self) -> list[tuple[str, str, str]]:
        """(kid, alg, private PEM), oldest first."""
        t = auth_signing_key.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.kid, t.alg, t.private_pem).order_by(t.created_at, t.kid)
            ).all()
        return [(r.kid, r.alg, r.private_pem) for r in rows]

    def add_signing_key(self, kid: str, alg: str, private_pem: str) -> bool:
        """False when a key with this kid exists already (another worker won the race)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(auth_signing_key).values(
                        kid=kid, alg=alg, private_pem=private_pem, created_at=self.now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def add_launch(
        self,
        context: dict[str, Any],
        lifetime: int = 300,
        *,
        client_id: str | None = None,
        username: str | None = None,
    ) -> str:
        """Register an EHR launch context; the returned id is the `launch` parameter.  Bound to
        `client_id` (only that app may use it) and to the EHR user who started it."""
        launch_id = new_token(16)
        with self._engine.begin() as conn:
            conn.execute(
                insert(auth_launch).values(
                    launch_id=launch_id,
                    context=context,
                    expires_at=self.now() + lifetime,
                    client_id=client_id,
                    username=username,
                    used=False,
                )
            )
        return launch_id

    def launch(self, launch_id: str, client_id: str | None = None) -> dict[str, Any] | None:
        """An unused, unexpired launch's context (for `client_id`, when it is bound to one);
        `_username` in the context names the EHR user who started it."""
        t = auth_launch.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.context, t.client_id, t.username).where(
                    and_(t.launch_id == launch_id, t.expires_at > self.now(), t.used.is_(False))
                )
            ).first()
        if row is None or (row.client_id is not None and row.client_id != client_id):
            return None
        return {**dict(row.context), **({"_username": row.username} if row.username else {})}

    def take_launch(self, launch_id: str, client_id: str | None) -> bool:
        """Mark a launch used (single use); False when it was used, expired or is another's."""
        t = auth_launch.c
        bound = or_(t.client_id.is_(None), t.client_id == client_id)
        with self._engine.begin() as conn:
            done = conn.execute(
                update(auth_launch)
                .where(
                    and_(
                        t.launch_id == launch_id,
                        t.used.is_(False),
                        t.expires_at > self.now(),
                        bound,
                    )
                )
                .values(used=True)
            )
        return done.rowcount == 1


def _grant_from_refresh(row: Any) -> GrantRecord:
    return GrantRecord(
        row.client_id,
        row.scope,
        row.username,
        dict(row.context),
        "",
        None,
        row.family,
        row.expires_at,
    )


def _engine(database: Any) -> Engine:
    return database if isinstance(database, Engine) else database.engine


def add_client(
    database: Any,
    client_id: str,
    *,
    scope: str,
    secret: str | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_url: str | None = None,
    redirect_uris: tuple[str, ...] | list[str] = (),
    organization: str | None = None,
) -> ClientRecord:
    """Register a client (public, `client_secret_basic`, or `private_key_jwt` by JWKS / JWKS URL)."""
    if sum(x is not None for x in (secret, jwks, jwks_url)) > 1:
        raise ValueError("give at most one of secret, jwks, jwks_url")
    if jwks is not None and not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWKS must be an object with a 'keys' array")
    parse_scopes(scope, strict=True)
    if secret is None and jwks is None and jwks_url is None and not redirect_uris:
        raise ValueError("a public client needs at least one redirect URI")
    if organization is not None and not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", organization):
        raise ValueError(f"'{organization}' is not an Organization id")
    client = ClientRecord(
        client_id,
        scope,
        tuple(redirect_uris),
        hash_password(secret) if secret else None,
        jwks,
        jwks_url,
        organization,
    )
    AuthStore(_engine(database)).add_client(client)
    return client


def add_user(
    database: Any,
    username: str,
    password: str,
    *,
    patient: str | None = None,
    practitioner: str | None = None,
    role: str | None = None,
) -> UserRecord:
    """Create a login: a resident (`patient`) or a member of staff (`practitioner`)."""
    if (patient is None) == (practitioner is None):
        raise ValueError("give exactly one of patient or practitioner")
    role = role or ("resident" if patient else "doctor")
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (one of {', '.join(ROLES)})")
    if patient and role != "resident":
        raise ValueError("a patient login has the role 'resident'")
    if practitioner and role not in PRACTITIONER_ROLES:
        raise ValueError(f"role '{role}' needs --patient")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    user = UserRecord(username, hash_password(password), role, patient, practitioner)
    AuthStore(_engine(database)).add_user(user)
    return user
