"""Server signing keys (kept in the database), JWT access tokens and OpenID Connect id_tokens.

Spec: SMART App Launch 2.x "App Launch" (access token response; the token is opaque to apps, ours
is an RS256 JWT whose claims rebuild the `Principal`), "Scopes for requesting identity data"
(`openid fhirUser`: a signed id_token carrying `fhirUser`), OpenID Connect Core §2 (id_token
claims) and RFC 7517 (the JWKS published at `/auth/jwks`).

The private key lives in `auth_signing_key`, created by the first worker that needs one, so every
worker signs and verifies with the same key.  A `SigningKeys` value is built by the composition
root (`SigningKeys.load_or_create`) and passed in; nothing is cached at module level.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from ..core.clock import Clock, SystemClock
from .principal import Principal
from .store import AuthStore

SIGNING_ALG = "RS256"


class InvalidToken(Exception):
    """A token that is malformed, wrongly signed, expired, revoked or for another audience."""


class SigningKeys:
    """The server's RSA keys; the newest one signs, all of them verify.

    `load_or_create(store)` reads (or creates) them now; `deferred(store)` on first use, for an
    app built before its database is migrated (`create_app(migrate=True)`).
    """

    def __init__(self, keys: tuple[RSAKey, ...] = (), store: AuthStore | None = None) -> None:
        self._keys = keys
        self._store = store
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, store: AuthStore) -> SigningKeys:
        return cls(_load_or_create(store))

    @classmethod
    def deferred(cls, store: AuthStore) -> SigningKeys:
        return cls((), store)

    @property
    def keys(self) -> tuple[RSAKey, ...]:
        if not self._keys:
            with self._lock:
                if not self._keys and self._store is not None:
                    self._keys = _load_or_create(self._store)
        return self._keys

    @property
    def current(self) -> RSAKey:
        return self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (RFC 7517 §5)."""
        out = []
        for key in self.keys:
            public: dict[str, Any] = dict(key.as_dict(private=False))
            public.update({"kid": key.kid, "alg": SIGNING_ALG, "use": "sig"})
            out.append(public)
        return {"keys": out}

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        header = {"alg": SIGNING_ALG, "kid": self.current.kid, "typ": typ}
        return jwt.encode(header, claims, self.current, algorithms=[SIGNING_ALG])

    def decode(self, token: str) -> dict[str, Any]:
        """Signature-checked claims (claims are validated by the caller)."""
        try:
            decoded = jwt.decode(token, KeySet(list(self.keys)), algorithms=[SIGNING_ALG])
        except (JoseError, ValueError) as exc:
            raise InvalidToken("token signature or format is invalid") from exc
        return dict(decoded.claims)


def _load_or_create(store: AuthStore) -> tuple[RSAKey, ...]:
    rows = store.signing_keys()
    if not rows:
        key = RSAKey.generate_key(2048, auto_kid=True)
        pem = key.as_pem(private=True).decode()
        store.add_signing_key(str(key.kid), SIGNING_ALG, pem)
        rows = store.signing_keys()  # another worker may have won: use what is stored
    return tuple(
        RSAKey.import_key(pem, parameters={"kid": kid, "alg": alg, "use": "sig"})
        for kid, alg, pem in rows
    )


@dataclass(frozen=True)
class TokenService:
    """Issues and verifies this server's tokens.

    `issuer` is the FHIR base URL (also the OpenID issuer); access tokens carry `aud` = the FHIR
    base.  `store`, when given, lets `verify` honour revocations (one primary-key lookup).
    """

    keys: SigningKeys
    issuer: str
    access_lifetime: int = 900
    store: AuthStore | None = None
    clock: Clock = field(default_factory=SystemClock)

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def access_token(self, principal: Principal, family: str | None = None) -> tuple[str, int, str]:
        """(token, expires_in, jti).  `family`: the grant's refresh-token family, so revoking the
        refresh token (or detecting its reuse) revokes the access tokens issued with it."""
        now = self._now()
        jti = uuid.uuid4().hex
        claims = {
            **principal.to_claims(),
            "iss": self.issuer,
            "aud": self.issuer,
            "iat": now,
            "exp": now + self.access_lifetime,
            "jti": jti,
        }
        if family:
            claims["fam"] = family
        return self.keys.sign(claims, typ="at+jwt"), self.access_lifetime, jti

    def id_token(self, principal: Principal, nonce: str | None = None) -> str:
        now = self._now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": principal.subject,
            "aud": principal.client_id,
            "iat": now,
            "exp": now + self.access_lifetime,
            "fhirUser": f"{self.issuer}/{principal.fhir_user}" if principal.fhir_user else None,
        }
        if nonce:
            claims["nonce"] = nonce
        return self.keys.sign({k: v for k, v in claims.items() if v is not None})

    def claims(self, token: str) -> dict[str, Any]:
        """Claims of a valid, unexpired, unrevoked access token of this server."""
        claims = self.keys.decode(token)
        if claims.get("iss") != self.issuer or claims.get("aud") != self.issuer:
            raise InvalidToken("token was not issued for this server")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self._now():
            raise InvalidToken("token has expired")
        jti = claims.get("jti")
        if not isinstance(jti, str) or "kind" not in claims:
            raise InvalidToken("not an access token")
        family = claims.get("fam") if isinstance(claims.get("fam"), str) else None
        if self.store is not None and self.store.is_revoked(jti, family):
            raise InvalidToken("token has been revoked")
        return claims

    def verify(self, token: str) -> Principal:
        claims = self.claims(token)
        try:
            return Principal.from_claims(claims)
        except ValueError as exc:
            raise InvalidToken(str(exc)) from exc
