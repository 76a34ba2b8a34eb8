"""What a request path names: the parts the router extracted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    interaction: str  # read vread update patch delete create search-type search-system history-*
    resource_type: str | None = None
    id: str | None = None
    version: str | None = None
    operation: str | None = None  # "$everything"
    compartment_type: str | None = None  # Patient/1/Observation → "Observation"
