"""`ConceptMap/$translate`: map a code through ConceptMaps.

Spec: http://hl7.org/fhir/R4/conceptmap-operation-translate.html.  The map is the instance, the
`conceptMap` in the body, `url` (+ `conceptMapVersion`), or — when none is named — every known map
with a group from the code's system (narrowed by `source`/`target` value sets and `targetsystem`).
The code: `code` + `system`, `coding` or `codeableConcept`.  `reverse=true` maps target → source.
Output: `result` (a match other than unmatched/disjoint), `message`, `match` (`equivalence` in R4
terms, `concept`, `source` = the map's url).  Unknown `url` → 404.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from ..terminology.model import TranslationMatch
from ._terminology import (
    body_resource,
    codes_of,
    coding_value,
    instance_resource,
    parameters,
    terminology,
)
from .parameters import OperationInput
from .spec import OperationSpec

DEFINITION = "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"


def _match(m: TranslationMatch) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": m.equivalence}]
    if m.code:
        parts.append({"name": "concept", **coding_value(m.system, m.code, m.display)})
    if m.source:
        parts.append({"name": "source", "valueUri": m.source})
    return {"part": parts}


def handle_translate(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    refs = codes_of(op)
    if not refs:
        raise E.bad_request(
            "$translate needs 'code' and 'system', 'coding' or 'codeableConcept'",
            "code",
            code="required",
        )
    concept_map: Any = instance_resource(repo, op) or body_resource(op, "conceptMap", "ConceptMap")
    if concept_map is None and op.one("url"):
        version = op.one("conceptMapVersion")
        concept_map = terminology(repo).concept_map(str(op.one("url")), version)
    tx = terminology(repo)
    matches: list[TranslationMatch] = []
    messages: list[str] = []
    result = False
    for ref in refs:
        if not ref.system:
            raise E.bad_request(f"$translate needs the system of '{ref.code}'", "system")
        translation = tx.translate(
            ref.system,
            ref.code,
            concept_map=concept_map,
            source=op.one("source"),
            target=op.one("target"),
            target_system=op.one("targetsystem"),
            reverse=bool(op.one("reverse", False)),
        )
        result = result or translation.result
        matches.extend(translation.matches)
        messages += [translation.message] if translation.message else []
    out: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": result})]
    if not result and messages:
        out.append(("message", {"valueString": "; ".join(messages)}))
    out += [("match", _match(m)) for m in matches]
    return parameters(out)


OPERATIONS = [
    OperationSpec(
        "translate",
        DEFINITION,
        handle_translate,
        type_level=True,
        instance=True,
        resource_types=("ConceptMap",),
        affects_state=False,
        documentation="Translate through ConceptMaps (ICD-10 by category prefix)",
    )
]
