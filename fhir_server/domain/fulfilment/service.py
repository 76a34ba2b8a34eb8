"""Fulfilment per contract, care team and institution, read through the repository gate
(`$fulfillment`; rules in `rules`; links per docs/DATA-MODEL.md "Care plan")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ...core import errors as E
from ...services.every_match import search_all
from ...services.repository import FhirRepository
from .rules import Tally, combine, tally_plan

_PAGE = 500
DELIVERY_TYPES = ("Encounter", "Observation", "Communication", "Procedure", "Immunization")
EXT_CARE_TEAM = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"
COUNTED_CONTRACT_STATUSES = ("executed", "renewed", "terminated")


def _plans(repo: FhirRepository, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
    ref = f"Contract/{contract['id']}"
    out = []
    for subject in contract.get("subject") or []:
        for plan in search_all(repo, "CarePlan", [("subject", subject.get("reference", ""))]):
            if any(s.get("reference") == ref for s in plan.get("supportingInfo") or []):
                out.append(plan)
    return out


def contract_tallies(repo: FhirRepository, contract: Mapping[str, Any], on: date) -> list[Tally]:
    tallies: list[Tally] = []
    for plan in _plans(repo, contract):
        patient = (plan.get("subject") or {}).get("reference", "")
        records = [
            r for rtype in DELIVERY_TYPES for r in search_all(repo, rtype, [("patient", patient)])
        ]
        tallies += tally_plan(plan, records, on)
    return combine(tallies)


def _contracts_of(repo: FhirRepository, resource_type: str, rid: str) -> list[dict[str, Any]]:
    if resource_type == "Contract":
        return [repo.read("Contract", rid).content or {}]
    repo.read(resource_type, rid)  # 404 for an unknown team or institution
    ref = f"{resource_type}/{rid}"
    status = [("status", ",".join(COUNTED_CONTRACT_STATUSES))]
    if resource_type == "Organization":
        return search_all(repo, "Contract", [("authority", ref), *status])
    if resource_type == "CareTeam":
        # Contract?care-team= (IG SearchParameter); the extension is checked again so that the
        # answer stays right even where the parameter is not indexed.
        contracts = search_all(repo, "Contract", [("care-team", ref), *status])
        return [
            c
            for c in contracts
            if any(
                e.get("url") == EXT_CARE_TEAM
                and (e.get("valueReference") or {}).get("reference") == ref
                for e in c.get("extension") or []
            )
        ]
    raise E.bad_request(f"$fulfillment is not defined for {resource_type}")


def fulfilment(repo: FhirRepository, resource_type: str, rid: str, on: date) -> list[Tally]:
    tallies: list[Tally] = []
    for contract in _contracts_of(repo, resource_type, rid):
        tallies += contract_tallies(repo, contract, on)
    return combine(tallies)
