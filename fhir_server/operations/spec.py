"""`OperationSpec`: an operation declared as data (Blaze style)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..interactions.model import FhirRequest, FhirResponse
    from ..services.repository import FhirRepository
    from .parameters import OperationInput


@dataclass(frozen=True)
class OperationAccess:
    """Who may invoke an operation and as whom it runs (checked by `registry.handle_operation`,
    for HTTP requests and Bundle entries alike).

    - `"caller"` (default): runs as the caller; every read and write it makes passes the gate, so
      it can never see or change more than the caller could by plain REST.
    - `"admin"`: maintenance (e.g. `$reindex`): administrators (role `admin`) and back-end clients
      holding a `system/*` update scope only; it may touch every resource.
    - `"aggregate"`: callers with one of `aggregate_roles` (the health commission) run it as the
      system and get aggregates only: the response is stripped of contained resources and of every
      reference to an individual (Patient, RelatedPerson, Person), and a parameter naming an
      individual is refused (403).  Everyone else runs it as the caller.

    `roles`, when set, limits user principals to those roles (back-end clients are governed by
    their scopes through the gate).
    """

    kind: Literal["caller", "admin", "aggregate"] = "caller"
    aggregate_roles: frozenset[str] = frozenset({"commission"})
    roles: frozenset[str] | None = None


CALLER = OperationAccess()
ADMIN = OperationAccess("admin")
AGGREGATE = OperationAccess("aggregate")


@dataclass(frozen=True)
class OperationSpec:
    """`$code` at the given levels.  `handler(repo, input) -> FhirResponse`.

    - `resource_types`: empty for system-level only; `("*",)` for every type (e.g. `$validate`).
    - `definition`: canonical URL of the OperationDefinition (its `parameter` list is enforced).
    - `affects_state`: False operations may be invoked with GET.
    - `access`: who may invoke it and as whom it runs (`OperationAccess`; default: as the caller).
    """

    code: str
    definition: str
    handler: Callable[[FhirRepository, OperationInput], FhirResponse]
    system: bool = False
    type_level: bool = False
    instance: bool = False
    resource_types: tuple[str, ...] = ()
    affects_state: bool = True
    documentation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    access: OperationAccess = CALLER

    def applies(self, resource_type: str | None, instance: bool) -> bool:
        if resource_type is None:
            return self.system
        if instance and not self.instance:
            return False
        if not instance and not self.type_level:
            return False
        return "*" in self.resource_types or resource_type in self.resource_types


__all__ = ["ADMIN", "AGGREGATE", "CALLER", "OperationAccess", "OperationSpec", "FhirRequest"]
