"""The CapabilityStatement, generated from the tables of what is actually routed.

Given the interaction table, the resource types, and (once present) search parameters and
operations, it lists exactly what works — nothing more (http://hl7.org/fhir/R4/capabilitystatement.html).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import FHIR_VERSION, __version__

TYPE_LEVEL = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
SYSTEM_LEVEL = ("transaction", "batch", "search-system", "history-system")


def capability_statement(
    *,
    base_url: str,
    resource_types: Iterable[str],
    interactions: Iterable[str],
    search_params: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    operations: Sequence[Mapping[str, Any]] = (),
    resource_extras: Mapping[str, Mapping[str, Any]] | None = None,
    security: Mapping[str, Any] | None = None,
    formats: Sequence[str] = ("application/fhir+json", "json"),
    patch_formats: Sequence[str] = ("application/json-patch+json", "application/fhir+json"),
    software_date: str = "2026-11-23",
    references_enforced: bool = False,
) -> dict[str, Any]:
    codes = set(interactions)
    resources = []
    for rtype in sorted(resource_types):
        entry: dict[str, Any] = {
            "type": rtype,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
            "interaction": [{"code": c} for c in TYPE_LEVEL if c in codes],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalRead": "full-support",
            "referencePolicy": [
                "literal",
                "logical",
                "local",
                *(["enforced"] if references_enforced else []),
            ],
        }
        if search_params and rtype in search_params:
            entry["searchParam"] = list(search_params[rtype])
        entry.update((resource_extras or {}).get(rtype, {}))
        resources.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": "Jiayi FHIR R4 server",
        "resource": resources,
        "interaction": [{"code": c} for c in SYSTEM_LEVEL if c in codes],
    }
    if security:
        rest["security"] = dict(security)
    if operations:
        rest["operation"] = list(operations)
    return {
        "resourceType": "CapabilityStatement",
        "id": "jiayi",
        "url": "https://jiayi.health/fhir/CapabilityStatement/jiayi",
        "name": "JiayiServer",
        "title": "Jiayi (家医) FHIR server",
        "status": "active",
        "date": software_date,
        "publisher": "Jiayi",
        "kind": "instance",
        "software": {"name": "Jiayi", "version": __version__},
        "implementation": {"description": "Jiayi FHIR R4 server", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": list(formats),
        "patchFormat": list(patch_formats),
        "rest": [rest],
    }
