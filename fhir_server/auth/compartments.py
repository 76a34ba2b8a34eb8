"""Patient compartment membership: is this resource inside Patient/<id>'s compartment?

Spec: FHIR R4 CompartmentDefinition-patient (http://hl7.org/fhir/R4/compartmentdefinition-patient.html)
and SMART App Launch 2.x "patient/" scopes, which limit access to the in-context patient's
compartment.  The compartment lists, per resource type, the search parameters whose references
make a resource a member; we evaluate those parameters' FHIRPath expressions with the search
engine's extractor (`search.extract`), so membership here and compartment search agree.

The data file is the search engine's `conformance/data/r4-compartments.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..search.extract import Extractor
from ..search.references import parse_reference
from ..search.registry import SearchRegistry, load_compartments


class PatientCompartment:
    """Membership tests and search restrictions for the R4 Patient compartment."""

    def __init__(
        self,
        registry: SearchRegistry,
        compartments: Mapping[str, Mapping[str, list[str]]] | None = None,
        base_url: str | None = None,
    ) -> None:
        data = compartments if compartments is not None else load_compartments()
        self._params: dict[str, tuple[str, ...]] = {
            rtype: tuple(codes) for rtype, codes in data.get("Patient", {}).items()
        }
        self._registry = registry
        self._extractor = Extractor(registry, base_url)
        self._base_url = base_url

    @classmethod
    def for_access(
        cls, registry: SearchRegistry, base_url: str | None = None
    ) -> PatientCompartment:
        """The R4 Patient compartment plus the guide's additions for access control
        (`profiles/access/CompartmentDefinition-patient-access.json`: the contract, referral
        tasks), so a resident reaches their own contract and a doctor their residents'."""
        from ..conformance.packages import ig_dir

        data = {k: dict(v) for k, v in load_compartments().items()}
        extra = json.loads(
            (ig_dir("profiles") / "access" / "CompartmentDefinition-patient-access.json").read_text(
                encoding="utf-8"
            )
        )
        patient = data.setdefault("Patient", {})
        for item in extra.get("resource", []):
            codes = list(dict.fromkeys([*patient.get(item["code"], []), *item.get("param", [])]))
            patient[item["code"]] = codes
        return cls(registry, data, base_url)

    @property
    def registry(self) -> SearchRegistry:
        return self._registry

    def has_members(self, resource_type: str) -> bool:
        """Can a resource of this type be in some patient's compartment at all?"""
        return resource_type == "Patient" or bool(self._params.get(resource_type))

    def params(self, resource_type: str) -> tuple[str, ...]:
        """The compartment's search parameters for `resource_type` ("{def}" → `_id` for Patient)."""
        if resource_type == "Patient":
            return ("_id", *[p for p in self._params.get("Patient", ()) if p != "{def}"])
        return self._params.get(resource_type, ())

    def search_restriction(self, resource_type: str, patient_id: str) -> list[tuple[str, str]]:
        """Search parameters, ORed, that select the patient's compartment for `resource_type`.

        Empty when no resource of the type can be in the compartment (the search must then
        return nothing).  Example: Observation → [("subject", "Patient/1"), ("performer", "Patient/1")].
        """
        out: list[tuple[str, str]] = []
        for code in self.params(resource_type):
            out.append((code, patient_id if code == "_id" else f"Patient/{patient_id}"))
        return out

    def patients(self, resource: Mapping[str, Any]) -> frozenset[str]:
        """Ids of every patient whose compartment holds `resource`."""
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str):
            return frozenset()
        found: set[str] = set()
        if resource_type == "Patient" and isinstance(resource.get("id"), str):
            found.add(resource["id"])
        for code in self._params.get(resource_type, ()):
            if code == "{def}":
                continue
            param = self._registry.get(resource_type, code)
            if param is None or param.type != "reference":
                continue
            for node in self._extractor.values(dict(resource), param):
                found.update(self._patient_ids(node.data))
        return frozenset(found)

    def contains(self, resource: Mapping[str, Any], patient_id: str) -> bool:
        """Is `resource` inside Patient/`patient_id`'s compartment?"""
        return patient_id in self.patients(resource)

    def _patient_ids(self, data: Any) -> list[str]:
        ref = data.get("reference") if isinstance(data, dict) else data
        if not isinstance(ref, str):
            return []
        parsed = parse_reference(ref, self._base_url)
        if parsed is None or parsed.type != "Patient" or parsed.id is None:
            return []
        return [parsed.id]
