"""Who is asking, from where, and with which shared components: passed to every service call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.clock import Clock, SystemClock
from ..core.errors import Issue
from ..storage.ports import Database


class ResourceTypes(Protocol):
    def is_resource_type(self, name: str) -> bool: ...


class ResourceValidator(Protocol):
    def validate(self, resource: dict[str, Any]) -> list[Issue]: ...


@dataclass(frozen=True)
class ServerComponents:
    """Everything a request may use, built once by the composition root (`app.py`)."""

    database: Database
    types: ResourceTypes
    validator: ResourceValidator
    clock: Clock = field(default_factory=SystemClock)
    referential_integrity: str = "lenient"
    default_page_size: int = 50
    max_page_size: int = 1000
    search: Any = None  # search service (fhir_server.search), wired by app.py when present
    interactions: Mapping[str, Any] = field(default_factory=dict)  # code → InteractionSpec
    capability_statement: Mapping[str, Any] = field(default_factory=dict)
    operations: Any = None  # operations.registry.OperationRegistry
    compartment: Any = None  # auth.compartments.PatientCompartment (membership for access control)
    audit: Any = None  # services.audit.AuditSink (None: no audit trail)


@dataclass(frozen=True)
class RequestContext:
    """One request: its public base URL, id and (once SMART lands) principal."""

    base_url: str
    request_id: str = "-"
    principal: Any = None
    system_name: str | None = None  # set for jobs and seeders acting as the system
