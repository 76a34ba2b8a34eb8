"""What contracting needs from other workflows, as a port (domain packages stay independent):
the care plan of one member, built by `domain.careplans` from the key populations of
`domain.populations`; the operations layer wires the implementation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from ...services.repository import FhirRepository


@dataclass(frozen=True)
class PlannedMember:
    packages: list[str]  # PlanDefinition canonicals applied (CarePlan.instantiatesCanonical)
    care_plan: dict[str, Any]  # the CarePlan to store (links included)
    populations: list[str]  # key-population codes derived (in any year of the term)
    #: definition canonical (package or item) → contract years it applies in: its fee quantity.
    years: Mapping[str, int] = field(default_factory=dict)


class MemberPlanner(Protocol):
    def __call__(
        self,
        repo: FhirRepository,
        patient: Mapping[str, Any],
        *,
        extra_packages: Sequence[str],
        items: Sequence[str],
        start: date,
        end: date,
        consent: bool,
        links: Mapping[str, Any],
    ) -> PlannedMember: ...
