"""`_summary` and `_elements` applied to a resource on its way out (search.html#summary)."""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..services.repository import FhirRepository
from .model import FhirRequest

SUMMARY_MODES = ("true", "text", "data", "count", "false")


def summary_mode(req: FhirRequest) -> str | None:
    mode = req.param("_summary")
    if mode is None:
        return None
    if mode not in SUMMARY_MODES:
        raise E.bad_request(f"_summary must be one of {', '.join(SUMMARY_MODES)}", "_summary")
    return mode


def element_names(req: FhirRequest) -> list[str] | None:
    values = req.params("_elements")
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def shape_resource(
    repo: FhirRepository, req: FhirRequest, resource: dict[str, Any]
) -> dict[str, Any]:
    mode = summary_mode(req)
    names = element_names(req)
    if mode in (None, "false", "count") and names is None:
        return resource
    from ..services import elements

    defs = repo.components.types
    if mode not in (None, "false", "count"):
        return elements.summary(resource, mode, defs)  # type: ignore[arg-type]
    assert names is not None
    return elements.elements(resource, names, defs)  # type: ignore[arg-type]
