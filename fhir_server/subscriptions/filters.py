"""Subscription filters (`backport-filter-criteria`), resolved per event.

Spec: Subscriptions R5 Backport IG, "Filtering": a filter is `[resourceType]?[parameter]=[value]`
and must be one the topic allows (`SubscriptionTopic.canFilterBy`).  How a filter holds on an
event of some trigger type:

- `patient` (the resident filter every topic offers): the event's resource must be in the
  Patient compartment of the named patient (R4 CompartmentDefinition-patient, the parameters of
  the event's own type: `Contract.subject`, `Observation.subject`/`performer`, `Task.for` …).
  A Patient event matches its own id.
- any other parameter: the search parameter of that name on the event's type, with search
  semantics (`auth.matching.RestrictionMatcher`: token, string, reference, uri).  A type without
  that parameter does not match: a filter never lets through what it cannot test.

All filters must hold (AND).  A deleted resource is tested by the content it deleted, so a
deletion reaches only the subscribers its last version reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..auth.compartments import PatientCompartment
from ..auth.matching import RestrictionMatcher
from ..search.references import parse_reference
from ..search.registry import SearchRegistry

Filter = tuple[str, str, str]  # (resource type, parameter, value)
RESIDENT_FILTER = "patient"


class FilterResolver:
    def __init__(
        self,
        registry: SearchRegistry,
        compartment: PatientCompartment | None = None,
        base_url: str | None = None,
    ) -> None:
        self._compartment = compartment or PatientCompartment(registry, base_url=base_url)
        self._matcher = RestrictionMatcher(registry, base_url)
        self._base_url = base_url

    def _patient_id(self, value: str) -> str | None:
        parsed = parse_reference(value, self._base_url)
        if parsed is not None and parsed.type == "Patient" and parsed.id:
            return parsed.id
        return value if value and "/" not in value else None

    def holds(self, filters: Sequence[Filter], content: Mapping[str, Any] | None) -> bool:
        """Do all filters hold on `content` (the event's version, or the deleted content)?"""
        if not filters:
            return True
        if content is None:
            return False  # nothing to test: not let through
        for _rtype, param, value in filters:
            if param == RESIDENT_FILTER:
                pid = self._patient_id(value)
                if pid is None or pid not in self._compartment.patients(content):
                    return False
            elif not self._matcher.holds(content, [(param, value)]):
                return False
        return True
