"""Ports of the referral workflow (粤(四) 畅通双向转诊; 国卫办基层发〔2025〕21号 一(四)).

`WriteRule` is the port through which business rules ride on *generic* writes: booking stays a
standard `POST Appointment` (INTERFACE.md), yet the slot checks, the reservation rules and the
notifications run in the same unit of work as the write.  The services layer owns the canonical
Protocol (proposed for `services/context.py`); this structural copy lets the domain package type its
rules without importing upwards.  `Repo` is the part of `services.repository.FhirRepository` the
rules and services use.
"""

from __future__ import annotations

from typing import Any, Protocol


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

    def transaction(self) -> Any: ...


class WriteRule(Protocol):
    """A business rule on generic writes, run inside the writer's unit of work.

    - `applies(resource_type, method)`: method is POST, PUT, PATCH or DELETE.
    - `before_write(tx, resource, current)`: `resource` is the content about to be stored (None for
      DELETE), `current` the stored content it replaces (None on create).  Returns the resource to
      store (possibly amended); may raise `FhirError` (409/422) to refuse the write, and may write
      related resources through `tx` (same transaction: all or nothing).  `tx.lock(key)` serialises
      concurrent writers deciding on `key` until the transaction ends.
    - `after_write(tx, stored, current)`: the stored content (None after DELETE), still inside the
      same transaction: writes that must reference the new resource (strict referential integrity)
      go here.
    """

    def applies(self, resource_type: str, method: str) -> bool: ...

    def before_write(
        self, tx: Repo, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None: ...

    def after_write(
        self, tx: Repo, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None: ...
