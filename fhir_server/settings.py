"""Settings: one immutable value built by the CLI (or tests) and handed to `create_app`.

Every option of `jiayi serve` has a `JIAYI_*` environment twin (see INTERFACE.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, FilePath, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _empty_is_none(value: Any) -> Any:
    """An option set to the empty string (e.g. `JIAYI_PUSH_INBOX_DIR=`) is switched off."""
    return None if value == "" else value


OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_none)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIAYI_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///./var/jiayi.db"
    auth: Literal["smart", "off"] = "smart"
    workers: int = Field(default=1, ge=1)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    referential_integrity: Literal["lenient", "strict"] = "lenient"
    base_url: str | None = None
    # Paging defaults for search and history bundles.
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    # Background loops of the server process (outbox delivery, scheduled jobs); tests turn them off.
    background_tasks: bool = True
    # Database connection pool (PostgreSQL).
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=50, ge=0)
    # Outside systems kept in step through the outbox (issue 9); an adapter is off while its URL
    # is unset.  Provincial signing platform: mutual TLS (cert + key [+ CA]) and/or signed
    # requests (HMAC key); health-record store: a FHIR base, an optional bearer token, and the
    # store's Organization id (the actor a resident's Consent may deny).
    signing_platform_url: str | None = None
    signing_platform_key: SecretStr | None = None
    signing_platform_cert: FilePath | None = None
    signing_platform_cert_key: FilePath | None = None
    signing_platform_ca: FilePath | None = None
    health_record_url: str | None = None
    health_record_token: SecretStr | None = None
    health_record_organization: str | None = None
    # Seconds between outbox pump passes (it also wakes after every commit that recorded one).
    outbox_interval: float = Field(default=2.0, gt=0)
    # Reserved referral capacity: a JSON file shaped like profiles/referrals/reservation-policy.json
    # (shares and release lead times per hospital/department/kind); None: the shipped policy.
    reservation_policy: FilePath | None = None
    # Health-push delivery channels (issue 7), in preference order: the local app inbox (one NDJSON
    # file per resident under this folder; empty string: off), then one webhook gateway per
    # push-channel code, e.g. JIAYI_PUSH_WEBHOOKS='{"sms": "https://sms.example/send"}'.
    push_inbox_dir: OptionalPath = Path("./var/push-inbox")
    push_webhooks: dict[str, str] = Field(default_factory=dict)
    push_webhook_token: SecretStr | None = None  # bearer token sent to the webhook gateways

    # SMART authorisation server (issue 5): lifetimes in seconds, login throttling, CORS.
    access_token_lifetime: int = Field(default=900, ge=30, le=86400)
    refresh_token_lifetime: int = Field(default=30 * 24 * 3600, ge=60)  # offline_access
    online_refresh_lifetime: int = Field(default=12 * 3600, ge=60)  # online_access
    code_lifetime: int = Field(default=60, ge=5, le=600)
    launch_lifetime: int = Field(default=300, ge=5, le=3600)  # EHR launch ids
    login_failures_allowed: int = Field(default=5, ge=1)  # per user name per window
    login_failure_window: int = Field(default=60, ge=1)
    # Origins allowed to call /fhir and /auth from a browser ("*": any; empty: no CORS).
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])

    @property
    def public_base(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/fhir"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
