"""Typed request and response records of the transport-free core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.errors import Issue


@dataclass
class FhirRequest:
    method: str  # GET HEAD POST PUT PATCH DELETE
    path: str  # relative to the FHIR base, no leading slash: "Patient/1/_history"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None  # parsed JSON
    content_type: str | None = None
    # Set only by Bundle processing, never from HTTP: the entry's fullUrl and pre-assigned id.
    entry_full_url: str | None = None
    assigned_id: str | None = None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.strip("/").split("/") if s]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


@dataclass
class FhirResponse:
    status: int
    resource: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(
        default_factory=list
    )  # rendered as an OperationOutcome if no resource
