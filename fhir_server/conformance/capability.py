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

#: Canonical URL of the guide this server implements (profiles/fsh/sushi-config.yaml: canonical + id).
IMPLEMENTATION_GUIDE = "https://jiayi.health/fhir/ImplementationGuide/jiayi.health.fhir"
#: CapabilityStatements this server instantiates, keyed by the OperationDefinition URL prefix that
#: shows the capability is routed.
_INSTANTIATES = {
    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/": (
        "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
    ),
}


def guide_profiles(resources: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Resource type → canonical URLs of the guide's profiles on it (constraint
    StructureDefinitions of kind resource), for `rest.resource.supportedProfile`."""
    out: dict[str, list[str]] = {}
    for r in resources:
        if (
            r.get("resourceType") == "StructureDefinition"
            and r.get("kind") == "resource"
            and r.get("derivation") == "constraint"
            and isinstance(r.get("type"), str)
            and isinstance(r.get("url"), str)
        ):
            out.setdefault(r["type"], []).append(r["url"])
    return {t: sorted(urls) for t, urls in out.items()}


def _instantiates(operations: Sequence[Mapping[str, Any]], extras: Mapping[str, Any]) -> list[str]:
    definitions = [str(o.get("definition", "")) for o in operations] + [
        str(o.get("definition", "")) for e in extras.values() for o in e.get("operation", [])
    ]
    found = {
        url
        for prefix, url in _INSTANTIATES.items()
        if any(d.startswith(prefix) for d in definitions)
    }
    return sorted(found)


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
    supported_profiles: Mapping[str, Sequence[str]] | None = None,
    implementation_guides: Sequence[str] = (IMPLEMENTATION_GUIDE,),
    system_search_params: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """`interactions` are the codes of the routed interaction table (plus transaction/batch);
    the conditional flags follow from it: conditional create is part of create (`If-None-Exist`),
    conditional delete removes up to 100 matches (`multiple`), conditional read honours both
    `If-None-Match` and `If-Modified-Since` (`full-support`).  `system_search_params`: the
    parameters of system-level search (`rest.searchParam`, search.capability)."""
    codes = set(interactions)
    resources = []
    for rtype in sorted(resource_types):
        entry: dict[str, Any] = {
            "type": rtype,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
        }
        if supported_profiles and supported_profiles.get(rtype):
            entry["supportedProfile"] = list(supported_profiles[rtype])
        entry["interaction"] = [{"code": c} for c in TYPE_LEVEL if c in codes]
        entry["versioning"] = "versioned-update" if "update" in codes else "versioned"
        entry["readHistory"] = "vread" in codes
        entry["updateCreate"] = "update" in codes
        entry["conditionalCreate"] = "create" in codes
        entry["conditionalRead"] = "full-support" if "read" in codes else "not-supported"
        entry["conditionalUpdate"] = "conditional-update" in codes
        entry["conditionalDelete"] = (
            "multiple" if "conditional-delete" in codes else "not-supported"
        )
        entry["referencePolicy"] = [
            "literal",
            "logical",
            "local",
            *(["enforced"] if references_enforced else []),
        ]
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
    if system_search_params and "search-system" in codes:
        rest["searchParam"] = list(system_search_params)
    if security:
        rest["security"] = dict(security)
    if operations:
        rest["operation"] = list(operations)
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "id": "jiayi",
        "url": "https://jiayi.health/fhir/CapabilityStatement/jiayi",
        "name": "JiayiServer",
        "title": "Jiayi (家医) FHIR server",
        "status": "active",
        "date": software_date,
        "publisher": "Jiayi",
        "kind": "instance",
        "software": {"name": "Jiayi", "version": __version__, "releaseDate": software_date},
        "implementation": {"description": f"Jiayi FHIR R4 server at {base_url}", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": list(formats),
        "patchFormat": list(patch_formats),
        "implementationGuide": list(implementation_guides),
        "rest": [rest],
    }
    if instantiates := _instantiates(operations, resource_extras or {}):
        statement["instantiates"] = instantiates
    return statement
