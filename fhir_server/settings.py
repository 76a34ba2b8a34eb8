"""Settings: one immutable value built by the CLI (or tests) and handed to `create_app`.

Every option of `jiayi serve` has a `JIAYI_*` environment twin (see INTERFACE.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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

    @property
    def public_base(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/fhir"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
