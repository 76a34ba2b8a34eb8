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


class WriteRule(Protocol):
    """A business rule on generic writes, run by `FhirRepository` inside the writer's unit of work
    (so a Bundle transaction stays all or nothing).  Domain packages declare theirs as
    `WRITE_RULES` in `rules_on_write.py`; `app.discover_write_rules` collects them.

    - `applies(resource_type, method)`: method is POST, PUT, PATCH or DELETE.
    - `before_write(tx, resource, current)`: `resource` is the content about to be stored (None for
      DELETE), `current` the stored content it replaces (None on create).  Returns the content to
      store (possibly amended, then validated again); may raise `FhirError` (409/422) to refuse the
      write, and may write related resources through `tx`, a repository bound to the same unit of
      work acting as the server (its own writes run no rules).  `tx.lock(key)` serialises
      concurrent writers deciding on `key` until the transaction ends.
    - `after_write(tx, stored, current)`: the stored content (None after DELETE), same transaction:
      writes that must reference the new resource go here.
    """

    def applies(self, resource_type: str, method: str) -> bool: ...

    def before_write(
        self, tx: Any, resource: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> dict[str, Any] | None: ...

    def after_write(
        self, tx: Any, stored: dict[str, Any] | None, current: dict[str, Any] | None
    ) -> None: ...


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
    write_rules: tuple[WriteRule, ...] = ()  # business rules on generic writes, in order
    # outbox.wiring.Integrations (domain.sync.ports.Integrations): outbox consumers and their pump
    integrations: Any = None
    settings: Any = None  # the Settings these were built from (deploy-time domain configuration)
    # Health-push delivery channels (domain.pushes.ports.MessageSender), in preference order;
    # built from the settings by adapters.messaging.registry.build_channels.
    messaging: tuple[Any, ...] = ()
    # The health-push planner's tables (storage.sql.push_plan.PushPlanFactory: uow → store).
    push_plans: Any = None


@dataclass(frozen=True)
class RequestContext:
    """One request: its public base URL, id and (once SMART lands) principal."""

    base_url: str
    request_id: str = "-"
    principal: Any = None
    system_name: str | None = None  # set for jobs and seeders acting as the system
    writer: RequestContext | None = None  # in a write rule's repository: the write it rules on
