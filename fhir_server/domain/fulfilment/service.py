"""Fulfilment per contract, care team and institution, read through the repository gate
(`$fulfillment`; rules in `rules`; links per docs/DATA-MODEL.md "Care plan").

Read in batches, not per contract: the contracts in chunks of `CHUNK`, their CarePlans by
`CarePlan?contract=<a>,<b>,…`, the delivered-service records of their members by
`<Type>?patient=<a>,<b>,…` (one search per type and chunk), and the ActivityDefinitions the
activities instantiate once (`ActivityDefinition?url=…`, for their clinical codes) — a team of
thousands of contracts costs a few searches per hundred contracts, not a few per member."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from ...core import errors as E
from ...services.every_match import iter_matches, search_all
from ...services.repository import FhirRepository
from .rules import Coding, Tally, canonical_key, clinical_codings, combine, tally_plan

CHUNK = 100  # contracts (and members, definitions) per batched search
DELIVERY_TYPES = ("Encounter", "Observation", "Communication", "Procedure", "Immunization")
EXT_CARE_TEAM = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"
COUNTED_CONTRACT_STATUSES = ("executed", "renewed", "terminated")
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _subject_of(record: Mapping[str, Any]) -> str:
    return str((record.get("subject") or record.get("patient") or {}).get("reference", ""))


def _plans(repo: FhirRepository, contracts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The CarePlans of `contracts` (one `CarePlan?contract=` search)."""
    wanted = {f"Contract/{c['id']}" for c in contracts}
    found = search_all(repo, "CarePlan", [("contract", ",".join(sorted(wanted)))])
    return [
        plan
        for plan in found
        if any(s.get("reference") in wanted for s in plan.get("supportingInfo") or [])
    ]


def _records(repo: FhirRepository, patients: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Delivered-service records by patient reference (one search per type)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not patients:
        return out
    wanted = set(patients)
    value = ",".join(sorted(wanted))
    for rtype in DELIVERY_TYPES:
        for record in iter_matches(repo, rtype, [("patient", value)]):
            if (subject := _subject_of(record)) in wanted:
                out[subject].append(record)
    return out


class Definitions:
    """The clinical codes of the ActivityDefinitions activities instantiate, fetched once each."""

    def __init__(self, repo: FhirRepository) -> None:
        self.repo = repo
        self.known: dict[str, frozenset[Coding]] = {}

    def of(self, plans: Iterable[Mapping[str, Any]]) -> Mapping[str, frozenset[Coding]]:
        urls = {
            canonical_key(url)
            for plan in plans
            for activity in plan.get("activity") or []
            for url in (activity.get("detail") or {}).get("instantiatesCanonical") or []
        }
        missing = sorted(u for u in urls if u not in self.known)
        for part in chunks(missing):
            for ad in search_all(self.repo, "ActivityDefinition", [("url", ",".join(part))]):
                key = canonical_key(str(ad.get("url", "")))
                self.known[key] = self.known.get(key, frozenset()) | clinical_codings(
                    ad.get("code")
                )
        for url in missing:
            self.known.setdefault(url, frozenset())
        return self.known


def tallies_of(
    repo: FhirRepository,
    contracts: Iterable[Mapping[str, Any]],
    on: date,
    definitions: Definitions | None = None,
) -> list[Tally]:
    """The combined tallies of `contracts` at `on`, read `CHUNK` contracts at a time."""
    definitions = definitions or Definitions(repo)
    tallies: list[Tally] = []
    batch: list[Mapping[str, Any]] = []

    def flush() -> None:
        plans = _plans(repo, batch)
        records = _records(repo, sorted({_subject_of(p) for p in plans} - {""}))
        codes = definitions.of(plans)
        for plan in plans:
            tallies.extend(tally_plan(plan, records.get(_subject_of(plan), []), on, codes))
        batch.clear()

    for contract in contracts:
        batch.append(contract)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return combine(tallies)


def contract_tallies(repo: FhirRepository, contract: Mapping[str, Any], on: date) -> list[Tally]:
    return tallies_of(repo, [contract], on)


def _contracts_of(repo: FhirRepository, resource_type: str, rid: str) -> Iterator[dict[str, Any]]:
    if resource_type == "Contract":
        yield repo.read("Contract", rid).content or {}
        return
    if resource_type not in ("Organization", "CareTeam"):
        raise E.bad_request(f"$fulfillment is not defined for {resource_type}")
    repo.read(resource_type, rid)  # 404 for an unknown team or institution
    ref = f"{resource_type}/{rid}"
    status = [("status", ",".join(COUNTED_CONTRACT_STATUSES))]
    if resource_type == "Organization":
        yield from iter_matches(repo, "Contract", [("authority", ref), *status])
        return
    # Contract?care-team= (IG SearchParameter); the extension is checked again so that the
    # answer stays right even where the parameter is not indexed.
    for c in iter_matches(repo, "Contract", [("care-team", ref), *status]):
        if any(
            e.get("url") == EXT_CARE_TEAM
            and (e.get("valueReference") or {}).get("reference") == ref
            for e in c.get("extension") or []
        ):
            yield c


def fulfilment(repo: FhirRepository, resource_type: str, rid: str, on: date) -> list[Tally]:
    return tallies_of(repo, _contracts_of(repo, resource_type, rid), on)
