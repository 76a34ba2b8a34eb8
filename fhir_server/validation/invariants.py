"""FHIRPath invariants (`ElementDefinition.constraint`) via fhirpathpy, compiled once per instance.

Spec: http://hl7.org/fhir/R4/conformance-rules.html#constraints (an invariant is a FHIRPath boolean
over the element it is declared on; `%resource` / `%rootResource`), http://hl7.org/fhir/R4/
fhirpath.html and http://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.constraint.

The base stage evaluates, on every element of a resource (walked with `validation/walk.py`), the base
R4 invariants declared at its element path (`Patient.contact`: pat-1) and on its type and the type's
ancestors (`Period`: per-1; `Age`: age-1 plus Quantity's qty-3; resources: their own plus
DomainResource's dom-*).  `ele-1` and `ext-1` are checked natively by `validation/structure.py`.

Invariants fhirpathpy cannot evaluate faithfully are listed in `NATIVE_INVARIANTS` (implemented here
in Python) and `SKIPPED_INVARIANTS` (not evaluated), each with its reason; a base expression that
raises at run time is recorded in `Invariants.unevaluated` (fhirpathpy's limits must not refuse valid
official examples).  `Invariants.check` is reused by the profile validator for the guide's own
invariants with `strict=True`: a guide invariant that does not compile, raises, or yields something
other than one boolean is reported (`JY-INV-EVAL`, at the invariant's severity) — never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.core.errors import Issue

from .library import Constraint, DefinitionLibrary
from .walk import Visit, walk

_R4_MODEL = models["r4"]

#: Base invariants not evaluated with fhirpathpy, and why.  Checked natively where marked.
NATIVE_INVARIANTS: Mapping[str, str] = MappingProxyType(
    {
        "dom-3": "uses `as(canonical)` on a collection, which fhirpathpy rejects (it requires a "
        "singleton, as FHIRPath N1 does); implemented natively: every contained resource is "
        "referenced as '#id' from the rest of the resource, or refers to its container ('#')",
    }
)
SKIPPED_INVARIANTS: Mapping[str, str] = MappingProxyType(
    {
        "txt-1": "narrative XHTML rules (only the allowed elements, no scripts) use FHIRPath "
        "`htmlChecks()`, which fhirpathpy does not implement",
        "txt-2": "`htmlChecks()` is not implemented by fhirpathpy",
        "ctm-1": "`resolve()` (the CareTeam member must be a person or an organization) is not "
        "implemented by fhirpathpy, and the target may not be local",
        "rng-2": "`low <= high` compares Quantities, which fhirpathpy 2.2 does not support "
        "(raises TypeError)",
    }
)

#: Base invariants whose published expression fhirpathpy misreads, with an equivalent it evaluates.
EXPRESSION_OVERRIDES: Mapping[str, str] = MappingProxyType(
    {
        # The published R4 text `(operator = 'exists') = (answer is Boolean)` refuses `=` with a
        # boolean answer (official example Questionnaire-zika-virus-exposure-assessment); R5 fixed
        # it to `implies`.  Also fhirpathpy types `answerBoolean` as FHIR.boolean only, so
        # `is Boolean` (System.Boolean) is false where FHIRPath's implicit conversion makes it true.
        "que-7": "operator = 'exists' implies (answer is FHIR.boolean)",
    }
)

Evaluator = Callable[[Any, Mapping[str, Any]], list[Any]]

# `a.b.empty() or …` / `a.b.exists() implies …` hold when the value has no `a` at all: a sound
# shortcut that skips the (slow, pure-Python) FHIRPath engine for most elements.
_GUARD = re.compile(r"^([A-Za-z]+)(?:\.[A-Za-z]+)*\.(?:empty\(\) or |exists\(\) implies )")
# `a.b.empty()` and `a.c.d.empty() and …` (every term under the same `a`): true without `a`
# (dom-2, dom-4, dom-5 on every resource without contained resources)
_EMPTIES = re.compile(
    r"^([A-Za-z]+)(?:\.[A-Za-z]+)+\.empty\(\)(?: and \1(?:\.[A-Za-z]+)+\.empty\(\))*$"
)


def _present(value: dict[str, Any], name: str) -> bool:
    return value.get(name) is not None or f"_{name}" in value


def _dom_6(value: dict[str, Any]) -> bool | None:
    """`text.div.exists()`: true with a narrative div, false with no `text` at all."""
    text = value.get("text")
    if isinstance(text, dict) and isinstance(text.get("div"), str):
        return True
    return False if "text" not in value and "_text" not in value else None


def _cpt_2(value: dict[str, Any]) -> bool | None:
    """`value.empty() or system.exists()`: true without a value or with a system."""
    return True if not _present(value, "value") or _present(value, "system") else None


def _ref_1(value: dict[str, Any]) -> bool | None:
    """`reference.startsWith('#').not() or (… in %rootResource.contained.id)`: true (or empty,
    which holds too) without a reference or with one that is not local."""
    reference = value.get("reference")
    if "_reference" in value:
        return None
    if reference is None or (isinstance(reference, str) and not reference.startswith("#")):
        return True
    return None


#: Base invariants decided in Python where the answer is plain from the JSON (True holds, False
#: fails); None leaves the value to the FHIRPath engine.  Keyed by the published R4 expression,
#: so a constraint reusing a key with other text is never shortcut; each gives that expression's
#: answer (tests/unit/validation/test_invariant_shortcuts.py compares them with fhirpathpy).
SHORTCUTS: Mapping[str, Callable[[dict[str, Any]], bool | None]] = MappingProxyType(
    {
        "text.`div`.exists()": _dom_6,
        "value.empty() or system.exists()": _cpt_2,
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))": _ref_1,
    }
)


def _has_value(inputs: list[Any]) -> list[bool]:
    """FHIRPath `hasValue()` (not built into fhirpathpy 2.2): a single primitive with a value."""
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


_OPTIONS = {
    "traceFn": lambda *_: None,  # FHIRPath trace() must not print
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
}


class Invariants:
    """Compiled FHIRPath invariants: one compiled function per expression, kept on the instance."""

    def __init__(self, library: DefinitionLibrary) -> None:
        self.library = library
        self._compiled: dict[str, Evaluator | None] = {}
        self._guards: dict[str, str | None] = {}
        # key → first error message of invariants fhirpathpy could not evaluate (diagnostics only)
        self.unevaluated: dict[str, str] = {}
        self.compile_errors: dict[str, str] = {}  # expression → why it does not compile
        self._type_constraints: dict[str, tuple[Constraint, ...]] = {}

    def compiled(self, expression: str) -> Evaluator | None:
        if expression not in self._compiled:
            try:
                self._compiled[expression] = fhirpathpy.compile(expression, _R4_MODEL, _OPTIONS)
            except Exception as exc:  # an expression fhirpathpy cannot parse is not evaluated
                self._compiled[expression] = None
                self.compile_errors[expression] = f"{type(exc).__name__}: {exc}"[:200]
        return self._compiled[expression]

    def check(
        self,
        constraint: Constraint,
        value: Any,
        type_path: str,
        expression: str,
        resource: dict[str, Any],
        root: dict[str, Any],
        strict: bool = False,
    ) -> Issue | None:
        """The issue when `constraint` fails on `value` (None when it holds).  An invariant that
        cannot be evaluated is None for base invariants, an issue when `strict`."""
        key, severity, fhirpath, human = constraint
        fhirpath = EXPRESSION_OVERRIDES.get(key, fhirpath)
        level = "error" if severity == "error" else "warning"
        if self._vacuous(fhirpath, value):
            return None
        shortcut = SHORTCUTS.get(fhirpath)
        decided = shortcut(value) if shortcut is not None and isinstance(value, dict) else None
        if decided is True:
            return None
        if decided is False:
            return Issue(level, "invariant", f"{key}: {human}", (expression,), f"JY-INV-{key}")
        fn = self.compiled(fhirpath)
        if fn is None:
            why = self.compile_errors.get(fhirpath, "does not compile")
            return self._unevaluable(key, level, f"does not compile ({why})", expression, strict)
        node = value if "resourceType" in value else ResourceNode.create_node(value, type_path)
        try:
            result = fn(node, {"resource": resource, "rootResource": root})
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"[:200]
            self.unevaluated.setdefault(key, why)
            return self._unevaluable(key, level, f"raised {why}", expression, strict)
        if result == [] or result == [True]:
            return None
        if strict and result != [False]:
            shown = repr(result)[:80]
            text = f"yielded {shown} instead of one boolean"
            return self._unevaluable(key, level, text, expression, strict)
        return Issue(level, "invariant", f"{key}: {human}", (expression,), f"JY-INV-{key}")

    @staticmethod
    def _unevaluable(key: str, level: str, why: str, expression: str, strict: bool) -> Issue | None:
        if not strict:
            return None
        text = (
            f"{key}: the invariant could not be evaluated: {why}; the value is not shown to conform"
        )
        return Issue(level, "invariant", text, (expression,), "JY-INV-EVAL")

    def _vacuous(self, expression: str, value: Any) -> bool:
        if expression not in self._guards:
            match = _GUARD.match(expression)
            rest = expression[match.end() :] if match else ""
            safe = match is not None and " implies " not in rest and " xor " not in rest
            if safe and match is not None and match.group(0).endswith("or "):
                safe = " implies " not in expression
            name = match.group(1) if safe and match is not None else None
            if name is None and (empties := _EMPTIES.match(expression)) is not None:
                name = empties.group(1)
            self._guards[expression] = name
        name = self._guards[expression]
        if name is None or not isinstance(value, dict):
            return False
        return not any(k.startswith(name) or k.startswith("_" + name) for k in value)

    def for_type(self, type_name: str) -> tuple[Constraint, ...]:
        """Base invariants of a type and its ancestors (cached)."""
        found = self._type_constraints.get(type_name)
        if found is None:
            found = tuple(
                c for t in self.library.type_chain(type_name) for c in self.library.constraints(t)
            )
            self._type_constraints[type_name] = found
        return found


class BaseInvariantStage:
    """Validation stage: every base R4 invariant on every element of the resource."""

    def __init__(self, defs: R4Definitions, invariants: Invariants) -> None:
        self.defs = defs
        self.invariants = invariants

    def __call__(self, resource: dict[str, Any]) -> list[Issue]:
        return self.examine(list(walk(resource, self.defs)))

    def examine(self, visits: Sequence[Visit]) -> list[Issue]:
        """The issues of a walk of the resource (`Validator` walks once for every stage)."""
        issues: list[Issue] = []
        for visit in visits:
            if not isinstance(visit.value, dict):
                continue
            for constraint in self._constraints(visit):
                if constraint[0] in SKIPPED_INVARIANTS or constraint[0] in NATIVE_INVARIANTS:
                    continue
                issue = self.invariants.check(
                    constraint,
                    visit.value,
                    visit.node_key,
                    visit.expression,
                    visit.resource,
                    visit.root,
                )
                if issue is not None:
                    issues.append(issue)
            if visit.element is None:
                issues.extend(_dom_3(visit))
        return issues

    def _constraints(self, visit: Visit) -> tuple[Constraint, ...]:
        if visit.element is None:
            return self.invariants.for_type(visit.type)
        own = self.invariants.library.constraints(visit.element.path)
        if visit.element.node == visit.element.path:  # backbone: no type-level invariants
            return own
        return own + self.invariants.for_type(visit.type)


def _dom_3(visit: Visit) -> list[Issue]:
    """dom-3, natively: each contained resource is referenced from elsewhere in the resource."""
    resource = visit.value
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return []
    rest = {k: v for k, v in resource.items() if k != "contained"}
    used = _local_refs(rest)
    issues = []
    for i, item in enumerate(contained):
        if not isinstance(item, dict):
            continue
        cid = item.get("id")
        others = [c for j, c in enumerate(contained) if j != i]
        if f"#{cid}" in used or f"#{cid}" in _local_refs(others) or "#" in _local_refs(item):
            continue
        issues.append(
            Issue(
                "error",
                "invariant",
                "dom-3: If the resource is contained in another resource, it SHALL be referred to "
                "from elsewhere in the resource or SHALL refer to the containing resource",
                (f"{visit.expression}.contained[{i}]",),
                "JY-INV-dom-3",
            )
        )
    return issues


def _local_refs(value: Any) -> set[str]:
    """Every string value beginning with '#' anywhere below `value` (references, canonicals, uris)."""
    out: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item.startswith("#"):
            out.add(item)
    return out
