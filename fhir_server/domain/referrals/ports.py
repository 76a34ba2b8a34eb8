"""Ports of the referral workflow (粤(四) 畅通双向转诊; 国卫办基层发〔2025〕21号 一(四)).

Business rules ride on *generic* writes through `services.context.WriteRule`: booking stays a
standard `POST Appointment` (INTERFACE.md), yet the slot checks, the reservation rules and the
notifications run in the same unit of work as the write.  `Repo` is the part of
`services.repository.FhirRepository` the rules and services use.
"""

from __future__ import annotations

from typing import Any, Protocol

from ...services.context import WriteRule

__all__ = ["Record", "Repo", "SearchPage", "WriteRule"]


class Record(Protocol):
    """`storage.ports.StoredResource`, as far as referrals read it."""

    id: str
    version_id: int
    content: dict[str, Any] | None


class SearchPage(Protocol):
    matches: list[Any]
    next_cursor: str | None


class Repo(Protocol):
    """A `FhirRepository`; inside a write rule it is bound to the writer's unit of work."""

    @property
    def components(self) -> Any: ...

    def read(self, resource_type: str, resource_id: str) -> Any: ...

    def current_or_none(self, resource_type: str, resource_id: str) -> Any: ...

    def search(self, resource_types: list[str] | None, query: list[tuple[str, str]]) -> Any: ...

    def create(self, resource_type: str, body: Any, resource_id: str | None = None) -> Any: ...

    def update(
        self, resource_type: str, resource_id: str, body: Any, if_match: str | None = None
    ) -> Any: ...

    def lock(self, key: str) -> None: ...

    def warn(self, issue: Any) -> None:
        """A warning about the write being ruled on (its response's OperationOutcome)."""
        ...

    def transaction(self) -> Any: ...
