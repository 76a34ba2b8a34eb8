"""`OperationSpec`: an operation declared as data (Blaze style)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..interactions.model import FhirRequest, FhirResponse
    from ..services.repository import FhirRepository
    from .parameters import OperationInput


@dataclass(frozen=True)
class OperationSpec:
    """`$code` at the given levels.  `handler(repo, input) -> FhirResponse`.

    - `resource_types`: empty for system-level only; `("*",)` for every type (e.g. `$validate`).
    - `definition`: canonical URL of the OperationDefinition (its `parameter` list is enforced).
    - `affects_state`: False operations may be invoked with GET.
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

    def applies(self, resource_type: str | None, instance: bool) -> bool:
        if resource_type is None:
            return self.system
        if instance and not self.instance:
            return False
        if not instance and not self.type_level:
            return False
        return "*" in self.resource_types or resource_type in self.resource_types


__all__ = ["OperationSpec", "FhirRequest"]
