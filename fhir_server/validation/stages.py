"""Profile stages of the pipeline: the profiles a resource claims, and the guide's extensions.

Spec: http://hl7.org/fhir/R4/resource.html#profile (a resource claiming a profile in `meta.profile`
SHALL conform to it; an unknown profile cannot be checked, so it is refused with the expression
`<Type>.meta.profile[i]`) and http://hl7.org/fhir/R4/extensibility.html#Extension (an extension is
defined by the StructureDefinition at its `url`).  Every extension whose url lies under the guide's
canonical base is validated against its definition wherever it appears; an unknown one is a
warning (it may come from a newer guide version).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue

from .profiles import ProfileValidator, _Run
from .walk import Visit, walk

GUIDE_EXTENSIONS = "https://jiayi.health/fhir/StructureDefinition/"


class MetaProfileStage:
    """Validates the resource against every profile in `meta.profile`."""

    def __init__(self, profiles: ProfileValidator) -> None:
        self.profiles = profiles

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        meta = resource.get("meta")
        claimed = meta.get("profile") if isinstance(meta, dict) else None
        if not isinstance(claimed, list):
            return []
        rtype = resource["resourceType"]
        issues: list[Issue] = []
        for i, url in enumerate(claimed):
            if isinstance(url, str):
                where = f"{rtype}.meta.profile[{i}]"
                issues.extend(self.profiles.validate(resource, url, where))
        return issues


class GuideExtensionStage:
    """Validates each extension of the guide against its definition, wherever it occurs."""

    def __init__(self, defs: R4Definitions, profiles: ProfileValidator) -> None:
        self.defs = defs
        self.profiles = profiles

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        return self.examine(list(walk(resource, self.defs)))

    def examine(self, visits: Sequence[Visit]) -> list[Issue]:
        """The issues of a walk of the resource (`Validator` walks once for every stage)."""
        issues: list[Issue] = []
        for visit in visits:
            value = visit.value
            if visit.type != "Extension" or not isinstance(value, dict):
                continue
            url = value.get("url")
            if not isinstance(url, str) or not url.startswith(GUIDE_EXTENSIONS):
                continue
            if not self.profiles.library.is_known(url):
                issues.append(
                    Issue(
                        "warning",
                        "not-supported",
                        f"Extension {url} is not defined by this guide",
                        (visit.expression,),
                        "JY-EXT-UNKNOWN",
                    )
                )
                continue
            run = _Run(visit.resource, visit.root)
            issues.extend(
                self.profiles.validate_value(url, value, "Extension", visit.expression, run)
            )
        return issues
