"""The validation pipeline run on every write: an ordered list of stages, each `resource → [Issue]`.

Spec: http://hl7.org/fhir/R4/validation.html (structure, cardinality, values, bindings, invariants,
profiles) and http://hl7.org/fhir/R4/resource.html#profile (`meta.profile` claims).
`build_validator(defs, ig_resources)` assembles the full pipeline: structure (`structure.py`) →
base invariants (`invariants.py`) → base required bindings and the codes of the guide's own code
systems wherever they occur (`bindings.py`) → claimed profiles
(`profiles.py`, via `stages.py`) → the guide's extensions → resident ID numbers and division codes
(`identifiers.py`).  A stage after `structure` only runs when the resource is structurally readable
(no `structure` issue), so later stages may rely on the JSON shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue
from fhir_server.validation.structure import validate_structure
from fhir_server.validation.walk import Visit, walk

if TYPE_CHECKING:
    from fhir_server.validation.profiles import ProfileValidator

#: A stage; one with an `examine(visits)` method is given the pipeline's single walk of the
#: resource (`walk.py`) instead of walking it again.
Stage = Callable[[dict[str, Any]], list[Issue]]


def is_unreadable(issues: Sequence[Issue]) -> bool:
    """True when an issue means the body cannot be read as the R4 resource (answer 400, not 422)."""
    return any(i.is_error and i.code == "structure" for i in issues)


class Validator:
    """Runs the validation stages in order and collects their issues."""

    def __init__(
        self,
        defs: R4Definitions,
        stages: Sequence[Stage] = (),
        profiles: ProfileValidator | None = None,
    ) -> None:
        self.defs = defs
        self.stages: tuple[Stage, ...] = (self._structure, *stages)
        self.profiles = profiles  # for `$validate?profile=`: validation against a named profile

    def _structure(self, resource: dict[str, Any]) -> list[Issue]:
        return validate_structure(resource, self.defs)

    def validate(self, resource: dict[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
        """All issues found; stages after an unreadable structure are skipped.  `profiles` adds
        profiles to check besides those the resource claims (unknown → error at `profile[i]`)."""
        issues: list[Issue] = []
        visits: list[Visit] | None = None  # one walk of the resource for every stage that walks
        for stage in self.stages:
            examine = getattr(stage, "examine", None)
            if examine is not None:
                if visits is None:
                    visits = list(walk(resource, self.defs))
                issues.extend(examine(visits))
            else:
                issues.extend(stage(resource))
            if is_unreadable(issues):
                return issues
        for i, url in enumerate(profiles):
            if self.profiles is None:
                break
            issues.extend(self.profiles.validate(resource, url, f"profile[{i}]"))
        return list(dict.fromkeys(issues))  # the same finding from two profiles is listed once


def build_validator(
    defs: R4Definitions,
    ig_resources: Iterable[Mapping[str, Any]] | None = None,
    terminology: Callable[[str], frozenset[str] | None] | None = None,
) -> Validator:
    """The full validation pipeline over the R4 definitions and the guide's resources
    (`conformance.ig.load_ig_resources()` when `ig_resources` is None).  `terminology`, when given,
    expands a ValueSet URL to `system|code` members (None: unknown) for binding checks."""
    from fhir_server.conformance.ig import load_ig_resources
    from fhir_server.validation.bindings import BaseBindingStage, Bindings, GuideCodeStage
    from fhir_server.validation.identifiers import IdentifierStage
    from fhir_server.validation.invariants import BaseInvariantStage, Invariants
    from fhir_server.validation.library import DefinitionLibrary, load_r4_validation
    from fhir_server.validation.profiles import ProfileValidator
    from fhir_server.validation.stages import GuideExtensionStage, MetaProfileStage

    resources = list(load_ig_resources() if ig_resources is None else ig_resources)
    library = DefinitionLibrary(load_r4_validation(), resources, terminology)
    invariants = Invariants(library)
    bindings = Bindings(library)
    profiles = ProfileValidator(library, invariants, bindings)
    stages: list[Stage] = [
        BaseInvariantStage(defs, invariants),
        BaseBindingStage(defs, bindings),
        GuideCodeStage(defs, library),
        MetaProfileStage(profiles),
        GuideExtensionStage(defs, profiles),
        IdentifierStage(defs, resources),
    ]
    return Validator(defs, stages, profiles)
