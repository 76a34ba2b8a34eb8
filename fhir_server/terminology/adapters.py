"""The engine in the shapes its two in-process clients already expect.

- Search (`:in`, `:not-in`, `:below`, `:above`; http://hl7.org/fhir/R4/search.html#token):
  `concept_resolver(tx)` is a `storage.sql.search_resolve.ConceptResolver` (`ConceptValue` →
  `CodeSetValue`) that expands with this engine — the guide's and R4's package data as well as the
  database — and marks ICD-10 codes as prefixes (`I10` also finds `I10.x00`).  A value set the engine
  cannot evaluate (a whole external system such as SNOMED CT) falls back to the pure expander of
  `search.concepts`, which can say "the whole system".
- Validation (bindings; http://hl7.org/fhir/R4/terminologies.html#strength): `members(tx, url)` is
  the `system|code` set `validation.library` works with, or None when not locally expandable; prefer
  `tx.membership(url, system, code)` where one code is checked (it honours ICD-10 prefixes and
  enumerated includes of unavailable systems).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import FhirError, bad_request
from ..search import concepts
from ..search.values import CodeSetValue, ConceptValue
from .codesystem import ICD10
from .service import TerminologyService

ConceptResolver = Callable[[ConceptValue], CodeSetValue]


def concept_resolver(tx: TerminologyService) -> ConceptResolver:
    def fetch(resource_type: str, canonical: str) -> dict | None:
        found = tx.source.find(resource_type, canonical)
        return dict(found) if found is not None else None

    def resolve(value: ConceptValue) -> CodeSetValue:
        if value.op in ("in", "not-in"):
            assert value.valueset is not None
            if tx.value_set(value.valueset) is None:
                raise bad_request(f"ValueSet '{value.valueset}' is not known to this server")
            try:
                terms = tx.token_terms(value.valueset)
            except FhirError as exc:
                if exc.status != 400:
                    raise
                return concepts.expand(dict(tx.require_value_set(value.valueset)), fetch)
            return CodeSetValue(
                codes=frozenset((t.system, t.code) for t in terms),
                prefixes=frozenset((t.system, t.code) for t in terms if t.prefix),
            )
        if value.system and value.code and tx.code_system(value.system) is not None:
            return _hierarchy(tx, value)
        return concepts.hierarchy_set(value, fetch)

    return resolve


def _hierarchy(tx: TerminologyService, value: ConceptValue) -> CodeSetValue:
    assert value.system and value.code
    system, code = value.system, value.code
    if value.op == "below":
        terms = tx.below_terms(system, code)
        return CodeSetValue(
            codes=frozenset((t.system, t.code) for t in terms),
            prefixes=frozenset((t.system, t.code) for t in terms if t.prefix),
        )
    cs = tx.require_code_system(system)
    concept = cs.get(code)
    above = {code, *(cs.ancestors(concept.code) if concept else ())}
    return CodeSetValue(
        codes=frozenset((system, c) for c in above),
        above=frozenset({(system, code)}) if system == ICD10 else frozenset(),
    )


def members(tx: TerminologyService, valueset: str) -> frozenset[str] | None:
    """`system|code` of every code in `valueset`; None when unknown or not expandable here."""
    if tx.value_set(valueset) is None:
        return None
    try:
        return frozenset(f"{e.system}|{e.code}" for e in tx.entries(valueset))
    except FhirError:
        return None
