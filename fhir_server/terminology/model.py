"""Result records of the terminology service and the errors it raises.

Spec: http://hl7.org/fhir/R4/terminology-service.html (the operations whose outputs these records
carry: $expand, $lookup, $validate-code, $translate, $subsumes).  Records are transport-free; the
operations in `fhir_server/operations/` turn them into `ValueSet`s and `Parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..core import errors as E

EN = "en"
ZH = "zh"


@dataclass(frozen=True, slots=True)
class Designation:
    language: str | None
    value: str
    use: dict[str, Any] | None = None

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.language:
            out["language"] = self.language
        if self.use:
            out["use"] = self.use
        out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True)
class ExpansionEntry:
    """One `ValueSet.expansion.contains`."""

    system: str
    code: str
    display: str | None = None
    version: str | None = None
    designations: tuple[Designation, ...] = ()
    abstract: bool = False
    inactive: bool = False

    def display_in(self, language: str | None) -> str | None:
        """The display for `language` (`en` → the English designation when there is one)."""
        return display_for(self.display, self.designations, language)

    def to_fhir(self, language: str | None, include_designations: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"system": self.system}
        if self.version:
            out["version"] = self.version
        if self.abstract:
            out["abstract"] = True
        if self.inactive:
            out["inactive"] = True
        out["code"] = self.code
        display = self.display_in(language)
        if display:
            out["display"] = display
        if include_designations and self.designations:
            out["designation"] = [d.to_fhir() for d in self.designations]
        return out


@dataclass(frozen=True)
class ValueSetExpansion:
    """An expansion page: `entries` is the requested slice, `total` counts every match."""

    url: str | None
    version: str | None
    entries: tuple[ExpansionEntry, ...]
    total: int
    offset: int
    parameters: tuple[tuple[str, Any], ...] = ()
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_valueset(
        self,
        *,
        identifier: str,
        timestamp: str,
        display_language: str | None = None,
        include_designations: bool = False,
    ) -> dict[str, Any]:
        """The ValueSet resource `$expand` returns (metadata of the source + `expansion`)."""
        keep = ("id", "url", "version", "name", "title", "status", "experimental", "publisher")
        out: dict[str, Any] = {"resourceType": "ValueSet"}
        out.update({k: self.source[k] for k in keep if k in self.source})
        out.setdefault("status", "active")
        params = [{"name": n, **_param_value(v)} for n, v in self.parameters]
        expansion: dict[str, Any] = {
            "identifier": identifier,
            "timestamp": timestamp,
            "total": self.total,
            "offset": self.offset,
        }
        if params:
            expansion["parameter"] = params
        contains = [e.to_fhir(display_language, include_designations) for e in self.entries]
        if contains:
            expansion["contains"] = contains
        out["expansion"] = expansion
        return out


@dataclass(frozen=True)
class LookupResult:
    """`$lookup` output: the code system's name and version, and the concept's details."""

    name: str
    version: str | None
    code: str
    display: str | None
    designations: tuple[Designation, ...]
    properties: tuple[tuple[str, dict[str, Any]], ...]  # (code, {"valueCode": …})
    definition: str | None = None
    matched_code: str | None = None  # the concept found when `code` matched by category prefix


@dataclass(frozen=True)
class ValidationResult:
    """`$validate-code` output.  `checked` is False when the answer could not be determined (a code
    system that is not available here): binding checks should then warn rather than refuse."""

    result: bool
    message: str | None = None
    display: str | None = None
    checked: bool = True
    system: str | None = None
    code: str | None = None


class SubsumesOutcome(StrEnum):
    """http://hl7.org/fhir/concept-subsumption-outcome"""

    EQUIVALENT = "equivalent"
    SUBSUMES = "subsumes"
    SUBSUMED_BY = "subsumed-by"
    NOT_SUBSUMED = "not-subsumed"


@dataclass(frozen=True)
class TranslationMatch:
    """One `$translate` match: equivalence (http://hl7.org/fhir/concept-map-equivalence)."""

    equivalence: str
    system: str | None
    code: str | None
    display: str | None
    source: str | None  # the ConceptMap's url
    comment: str | None = None


@dataclass(frozen=True)
class Translation:
    result: bool
    message: str | None
    matches: tuple[TranslationMatch, ...]


def display_for(
    display: str | None, designations: tuple[Designation, ...], language: str | None
) -> str | None:
    if language:
        wanted = language.lower()
        for d in designations:
            if d.language and _same_language(d.language, wanted):
                return d.value
    return display


def _same_language(have: str, wanted: str) -> bool:
    have = have.lower()
    return have == wanted or have.split("-")[0] == wanted.split("-")[0]


def _param_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, str) and value.startswith(("http://", "https://", "urn:")):
        return {"valueUri": value}
    return {"valueString": str(value)}


# -- errors (OperationOutcome codes of http://hl7.org/fhir/R4/valueset-issue-type) ---------------
def unknown_code_system(system: str, status: int = 404) -> E.FhirError:
    return E.FhirError(
        status,
        E.error(
            "not-found", f"Code system '{system}' is not known to this server", message_id="JY-TX01"
        ),
    )


def unknown_value_set(url: str, status: int = 404) -> E.FhirError:
    return E.FhirError(
        status,
        E.error(
            "not-found", f"Value set '{url}' is not known to this server", message_id="JY-TX02"
        ),
    )


def unknown_concept_map(url: str) -> E.FhirError:
    return E.FhirError(
        404,
        E.error(
            "not-found", f"Concept map '{url}' is not known to this server", message_id="JY-TX03"
        ),
    )


def unknown_code(system: str, code: str, status: int = 404) -> E.FhirError:
    return E.FhirError(
        status,
        E.error(
            "code-invalid",
            f"Code '{code}' is not in the code system '{system}'",
            message_id="JY-TX04",
        ),
    )


def too_costly(url: str, size: int, limit: int) -> E.FhirError:
    return E.FhirError(
        400,
        E.error(
            "too-costly",
            f"Expanding '{url}' yields more than {limit} codes ({size}); use filter or count",
            message_id="JY-TX05",
        ),
    )


def invalid_value_set(url: str, why: str) -> E.FhirError:
    return E.FhirError(
        400,
        E.error(
            "processing", f"Value set '{url}' cannot be evaluated: {why}", message_id="JY-TX06"
        ),
    )
