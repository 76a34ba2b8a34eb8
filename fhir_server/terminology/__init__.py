"""The terminology engine: $expand, $lookup, $validate-code, $translate and $subsumes logic.

Spec: http://hl7.org/fhir/R4/terminology-service.html.  The data stays in the top-level
`terminology/` folder (the guide) and in `conformance/data/r4-terminology.json.gz` (R4 base); the
operations that expose this engine over HTTP are in `fhir_server/operations/`.

Use::

    from fhir_server.terminology import ChainSource, SearchSource, TerminologyService, package_source

    tx = TerminologyService(ChainSource(SearchSource(repo), package_source()))
    tx.is_in("https://jiayi.health/fhir/ValueSet/icd-10-hypertension",
             "http://hl7.org/fhir/sid/icd-10", "I10.x00")          # True (category prefix)
    tx.expand("http://hl7.org/fhir/ValueSet/administrative-gender", filter="fem")
"""

from .codesystem import ICD10, CodeSystemIndex, ConceptFilter, icd10_category
from .model import (
    Designation,
    ExpansionEntry,
    LookupResult,
    SubsumesOutcome,
    Translation,
    TranslationMatch,
    ValidationResult,
    ValueSetExpansion,
)
from .service import TerminologyService, TokenTerm
from .sources import (
    ChainSource,
    FetchSource,
    SearchSource,
    StaticSource,
    TerminologySource,
    package_source,
)

__all__ = [
    "ICD10",
    "ChainSource",
    "CodeSystemIndex",
    "ConceptFilter",
    "Designation",
    "ExpansionEntry",
    "FetchSource",
    "LookupResult",
    "SearchSource",
    "StaticSource",
    "SubsumesOutcome",
    "TerminologyService",
    "TerminologySource",
    "TokenTerm",
    "Translation",
    "TranslationMatch",
    "ValidationResult",
    "ValueSetExpansion",
    "icd10_category",
    "package_source",
]
