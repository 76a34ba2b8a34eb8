"""Access control inside the gate: the caller's SMART policy applied to every read and write.

Built once per request from `RequestContext.principal` (None: authorisation off, or the server
itself acting as a named system context).  Reads of a resource outside the caller's reach answer
404, never 403, so nothing leaks; an interaction the scopes do not grant answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..auth.compartments import PatientCompartment
from ..auth.gate import AccessGate
from ..auth.policy import Decision
from ..storage.ports import StoredResource
from .relationships import CareRelationships, Finder


class AccessControl:
    def __init__(self, principal: Any, compartment: PatientCompartment, find: Finder) -> None:
        self.principal = principal
        self.compartment = compartment
        related = CareRelationships(principal.fhir_user, find, compartment.patients)
        self.gate = AccessGate.for_principal(principal, compartment, related)
        self._decisions: dict[tuple[str, str], Decision] = {}

    def require(self, interaction: str, resource_type: str) -> Decision:
        key = (interaction, resource_type)
        if key not in self._decisions:
            self._decisions[key] = self.gate.require(interaction, resource_type)
        return self._decisions[key]

    def check(self, interaction: str, resource: Mapping[str, Any]) -> None:
        """404 unless `resource` is within the caller's reach for `interaction`."""
        decision = self.require(interaction, str(resource.get("resourceType")))
        self.gate.check_resource(decision, resource)

    def permits(self, interaction: str, record: StoredResource) -> bool:
        if record.content is None:
            return True  # a deletion tombstone shows no content
        try:
            decision = self.require(interaction, record.resource_type)
        except Exception:  # noqa: BLE001 - a type the caller may not touch at all
            return False
        return self.gate.permits(decision, record.content)

    def keep(self, interaction: str, records: Iterable[StoredResource]) -> list[StoredResource]:
        return [r for r in records if self.permits(interaction, r)]

    def compartment_restriction(self, decision: Decision) -> tuple[str, str] | None:
        """("Patient", id) when every grant confines the caller to one patient's compartment."""
        patients = {g.patient for g in decision.grants}
        if len(patients) == 1 and None not in patients:
            return ("Patient", str(next(iter(patients))))
        return None


AccessFactory = Callable[[Any, Finder], AccessControl]
