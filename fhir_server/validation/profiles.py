"""Validation of a resource against a profile (a StructureDefinition snapshot) by canonical URL.

Spec: http://hl7.org/fhir/R4/profiling.html (cardinality, types and profiled types, targetProfile,
fixed[x] and pattern[x], slicing with discriminators value/pattern/type/profile/exists, closed/open
rules), http://hl7.org/fhir/R4/terminologies.html#strength (required/extensible bindings),
http://hl7.org/fhir/R4/conformance-rules.html#constraints (invariants; the base ones are run by
`invariants.BaseInvariantStage`, so only keys the base does not declare are evaluated here) and
http://hl7.org/fhir/R4/resource.html#profile (`meta.profile`: claims are checked on write).

`ProfileValidator.validate(resource, url)` returns issues with FHIRPath expressions at the element.
Profiles compile once per URL and are kept on the instance.  Slices are assigned with
`validation/slicing.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.core.errors import Issue

from .bindings import Bindings
from .elements import ElementNode, Item, compile_tree, contains, items_of
from .invariants import Invariants
from .library import CORE, DefinitionLibrary
from .slicing import assign_slices

_MAX_DEPTH = 8  # nested profiles (extension → extension …) followed at most this deep


@dataclass(slots=True)
class _Run:
    resource: dict[str, Any]
    root: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    depth: int = 0

    def error(self, code: str, text: str, expr: str, mid: str) -> None:
        self.issues.append(Issue("error", code, text, (expr,), mid))


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    url: str
    type: str
    root: ElementNode
    nodes: dict[str, ElementNode]
    is_base: bool  # a core specialization (`…/StructureDefinition/Patient`): base stages cover it


class ProfileValidator:
    def __init__(
        self, library: DefinitionLibrary, invariants: Invariants, bindings: Bindings
    ) -> None:
        self.library = library
        self.invariants = invariants
        self.bindings = bindings
        self._compiled: dict[str, CompiledProfile | None] = {}
        self._base_keys = library.base_constraint_keys()

    def profile(self, url: str) -> CompiledProfile | None:
        url = url.split("|", 1)[0]
        if url not in self._compiled:
            sd = self.library.structure(url)
            compiled = None
            if sd is not None:
                root, nodes = compile_tree(sd["snapshot"]["element"])
                is_base = sd.get("derivation") == "specialization" and url.startswith(CORE)
                compiled = CompiledProfile(url, str(sd["type"]), root, nodes, is_base)
            self._compiled[url] = compiled
        return self._compiled[url]

    # -- entry points ---------------------------------------------------------------------------
    def validate(self, resource: dict[str, Any], url: str, expression: str = "") -> list[Issue]:
        """Issues of `resource` against the profile at `url` (unknown → one error at `expression`)."""
        profile = self.profile(url)
        rtype = str(resource.get("resourceType"))
        if profile is None:
            return [
                Issue(
                    "error",
                    "invalid",
                    f"Profile {url} is not known to this server",
                    (expression or rtype,),
                    "JY-PROFILE-UNKNOWN",
                )
            ]
        if profile.type != rtype:
            text = f"Profile {url} constrains {profile.type}, not {rtype}"
            return [Issue("error", "invalid", text, (expression or rtype,), "JY-PROFILE-TYPE")]
        if profile.is_base:
            return []
        run = _Run(resource, resource)
        self._value(profile.root, profile, (resource, rtype, rtype), run)
        return run.issues

    def conforms(self, url: str, value: Any, type_code: str, run: _Run) -> bool:
        """Whether a datatype value (e.g. an Extension) meets the profile at `url`."""
        return not any(i.is_error for i in self.validate_value(url, value, type_code, "", run))

    def validate_value(
        self, url: str, value: Any, type_code: str, expr: str, run: _Run
    ) -> list[Issue]:
        profile = self.profile(url)
        if profile is None:
            text = f"Profile {url} is not known to this server"
            return [Issue("error", "invalid", text, (expr,), "JY-PROFILE-UNKNOWN")]
        if run.depth >= _MAX_DEPTH or profile.is_base:
            return []
        inner = _Run(run.resource, run.root, depth=run.depth + 1)
        self._value(profile.root, profile, (value, expr, type_code), inner)
        return inner.issues

    def probe(
        self, node: ElementNode, profile: CompiledProfile, item: Item, run: _Run
    ) -> list[Issue]:
        """Issues of one value against one element (used to match slices by fit)."""
        inner = _Run(run.resource, run.root, depth=run.depth + 1)
        self._value(node, profile, item, inner)
        return inner.issues

    # -- the walk -------------------------------------------------------------------------------
    def _element(
        self,
        node: ElementNode,
        profile: CompiledProfile,
        items: list[Item],
        where: str,
        run: _Run,
    ) -> None:
        """All values of one element: cardinality, slicing, then each value."""
        self._cardinality(node, len(items), where, run)
        if node.slices and node.slicing is not None:
            assigned, rest = assign_slices(self, profile, node, items, run)
            rules = node.slicing.get("rules", "open")
            for _value, expr, _ in rest:
                if rules == "closed":
                    text = f"{expr} matches no slice of {node.path} (slicing is closed)"
                    run.error("invalid", text, expr, "JY-PROFILE-SLICE-CLOSED")
            for slice_node, slice_items in assigned:
                self._cardinality(slice_node, len(slice_items), where, run)
                for item in slice_items:
                    self._value(slice_node, profile, item, run)
            items = rest
        for item in items:
            self._value(node, profile, item, run)

    def _cardinality(self, node: ElementNode, count: int, where: str, run: _Run) -> None:
        what = f"slice '{node.slice_name}' of {node.path}" if node.slice_name else node.path
        if count < node.min:
            text = f"{what} requires at least {node.min} item(s), found {count}"
            run.error("required", text, where, "JY-PROFILE-MIN")
        elif node.max is not None and count > node.max:
            text = f"{what} allows at most {node.max} item(s), found {count}"
            run.error("invalid", text, where, "JY-PROFILE-MAX")

    def _value(self, node: ElementNode, profile: CompiledProfile, item: Item, run: _Run) -> None:
        value, expr, type_code = item
        if (
            node.types
            and type_code
            and type_code not in node.type_codes()
            and not (
                node.types[0].code.startswith("http://hl7.org/fhirpath/")
                or node.id == profile.root.id
            )
        ):
            allowed = ", ".join(sorted(node.type_codes()))
            text = f"Type {type_code} is not allowed for {node.path} (allowed: {allowed})"
            run.error("invalid", text, expr, "JY-PROFILE-TYPE")
            return
        self._fixed_pattern(node, value, expr, run)
        if node.binding is not None:
            issue = self.bindings.issue(*node.binding, type_code, value, expr)
            if issue is not None:
                run.issues.append(issue)
        self._typed(node, value, expr, type_code, run)
        self._constraints(node, value, expr, type_code, run)
        if isinstance(value, dict):
            children = self._children_of(node, profile)
            for child in children:
                items = list(items_of(value, child, expr))
                where = f"{expr}.{child.name[:-3] if child.is_choice else child.name}"
                self._element(child, profile, items, where, run)

    def _children_of(self, node: ElementNode, profile: CompiledProfile) -> list[ElementNode]:
        if node.children or node.content_ref is None:
            return node.children
        target = profile.nodes.get(node.content_ref)
        return target.children if target is not None else []

    def _fixed_pattern(self, node: ElementNode, value: Any, expr: str, run: _Run) -> None:
        if node.fixed is not None and value != node.fixed[1]:
            text = f"{node.path} must be exactly {node.fixed[1]!r} ({node.fixed[0]})"
            run.error("value", text, expr, "JY-PROFILE-FIXED")
        if node.pattern is not None and not contains(value, node.pattern[1]):
            text = f"{node.path} must match the pattern {node.pattern[1]!r} ({node.pattern[0]})"
            run.error("value", text, expr, "JY-PROFILE-PATTERN")

    def _typed(self, node: ElementNode, value: Any, expr: str, type_code: str, run: _Run) -> None:
        """Profiled types (validated against their profile) and reference target profiles."""
        for t in node.types:
            if type_code and t.code != type_code:
                continue
            if t.profiles and isinstance(value, dict):
                results = [self.validate_value(p, value, t.code, expr, run) for p in t.profiles]
                if all(any(i.is_error for i in r) for r in results):
                    run.issues.extend(results[0])
            if t.targets and t.code == "Reference" and isinstance(value, dict):
                self._target(t.targets, value, expr, run)

    def _target(
        self, targets: tuple[str, ...], value: dict[str, Any], expr: str, run: _Run
    ) -> None:
        ref = value.get("reference")
        if not isinstance(ref, str) or ref.startswith(("#", "urn:")):
            return
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) < 2:
            return
        ref_type = parts[-2]
        allowed = {self.library.type_of(t) for t in targets}
        if None in allowed or "Resource" in allowed or ref_type in allowed:
            return
        names = ", ".join(sorted(str(a) for a in allowed))
        text = f"Reference to {ref_type} is not allowed here (allowed targets: {names})"
        run.error("invalid", text, f"{expr}.reference", "JY-PROFILE-TARGET")

    def _constraints(
        self, node: ElementNode, value: Any, expr: str, type_code: str, run: _Run
    ) -> None:
        if not isinstance(value, dict):
            return
        type_path = (
            node.path if node.children and type_code in ("", "BackboneElement") else type_code
        )
        for constraint in node.constraints:
            if constraint[0] in self._base_keys:
                continue
            issue = self.invariants.check(
                constraint, value, type_path or node.path, expr, run.resource, run.root, strict=True
            )
            if issue is not None:
                run.issues.append(issue)
