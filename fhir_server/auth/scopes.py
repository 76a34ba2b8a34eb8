"""SMART scope grammar (v1 and v2) → typed `Scope` records, and the scope check.

Spec: SMART App Launch 2.x, "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/STU2.1/scopes-and-launch-context.html):

- v1 clinical scopes: ``(patient|user|system)/(Type|*).(read|write|*)``;
- v2 clinical scopes: ``(patient|user|system)/(Type|*).[c][r][u][d][s]`` (letters in that order), with
  optional query restrictions ``?param=value&param2=value`` (section "Finer-grained resource
  constraints using search parameters");
- other scopes: ``openid``, ``fhirUser``, ``profile``, ``launch``, ``launch/patient``,
  ``launch/encounter``, ``offline_access``, ``online_access``.

v1 ``read`` means v2 ``rs`` and v1 ``write`` means ``cud`` (section "Scope equivalence").  This module is
pure: no I/O, no state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

ContextKind = Literal["patient", "user", "system"]
CONTEXT_KINDS: tuple[ContextKind, ...] = ("patient", "user", "system")
PERMISSION_LETTERS = "cruds"

#: FHIR interaction code → the SMART v2 permission letter that grants it.
INTERACTION_PERMISSION: dict[str, str] = {
    "create": "c",
    "conditional-create": "c",
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "update": "u",
    "conditional-update": "u",
    "patch": "u",
    "conditional-patch": "u",
    "delete": "d",
    "conditional-delete": "d",
    "search-type": "s",
    "search-system": "s",
    "search-compartment": "s",
    "history-type": "s",
    "history-system": "s",
}

#: Scopes that carry no resource permission.
NON_CLINICAL = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
    }
)

_CLINICAL = re.compile(
    r"^(?P<ctx>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{0,63})\."
    r"(?P<perm>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?$"
)


class ScopeError(ValueError):
    """A scope string that is not valid SMART syntax."""


@dataclass(frozen=True)
class Scope:
    """One clinical scope: who it speaks for, which type, which interactions, which restrictions."""

    context: ContextKind
    resource_type: str  # "*" for every type
    permissions: frozenset[str]  # subset of "cruds"
    query: tuple[tuple[str, str], ...] = ()  # v2 restrictions: all must hold (AND)
    version: Literal[1, 2] = 2
    text: str = ""

    def covers(self, context: ContextKind, interaction: str, resource_type: str) -> bool:
        letter = INTERACTION_PERMISSION.get(interaction)
        return (
            letter is not None
            and self.context == context
            and self.resource_type in ("*", resource_type)
            and letter in self.permissions
        )


@dataclass(frozen=True)
class ScopeSet:
    """A parsed scope string: clinical scopes plus the other (launch, identity, refresh) scopes."""

    clinical: tuple[Scope, ...] = ()
    other: frozenset[str] = frozenset()

    @property
    def text(self) -> str:
        return " ".join([*sorted(self.other), *(s.text for s in self.clinical)])

    def has(self, name: str) -> bool:
        return name in self.other

    def contexts(self) -> frozenset[str]:
        return frozenset(s.context for s in self.clinical)


def parse_scope(text: str) -> Scope | str:
    """A clinical `Scope`, or the text itself for a recognised non-clinical scope."""
    if text in NON_CLINICAL:
        return text
    match = _CLINICAL.match(text)
    if match is None or match.group("perm") == "":
        raise ScopeError(f"'{text}' is not a SMART scope")
    perm = match.group("perm")
    version: Literal[1, 2] = 1 if perm in ("read", "write", "*") else 2
    permissions = {"read": "rs", "write": "cud", "*": "cruds"}.get(perm, perm)
    query: tuple[tuple[str, str], ...] = ()
    if match.group("query"):
        if version == 1:
            raise ScopeError(f"'{text}': query restrictions need v2 permissions")
        query = tuple(parse_qsl(match.group("query"), keep_blank_values=False, strict_parsing=True))
    return Scope(
        context=match.group("ctx"),  # type: ignore[arg-type]
        resource_type=match.group("type"),
        permissions=frozenset(permissions),
        query=query,
        version=version,
        text=text,
    )


def parse_scopes(text: str | Iterable[str], *, strict: bool = False) -> ScopeSet:
    """Parse a space-separated scope string; unknown scopes are dropped unless `strict`."""
    items = text.split() if isinstance(text, str) else list(text)
    clinical: list[Scope] = []
    other: set[str] = set()
    for item in dict.fromkeys(items):
        try:
            parsed = parse_scope(item)
        except ScopeError:
            if strict:
                raise
            continue
        if isinstance(parsed, Scope):
            clinical.append(parsed)
        else:
            other.add(parsed)
    return ScopeSet(tuple(clinical), frozenset(other))


def permits(
    scopes: ScopeSet | Iterable[Scope],
    context_kind: ContextKind,
    interaction: str,
    resource_type: str,
) -> bool:
    """Does any scope grant `interaction` on `resource_type` in this context (ignoring restrictions)?"""
    items = scopes.clinical if isinstance(scopes, ScopeSet) else scopes
    return any(s.covers(context_kind, interaction, resource_type) for s in items)


def matching(
    scopes: ScopeSet | Iterable[Scope],
    context_kind: ContextKind,
    interaction: str,
    resource_type: str,
) -> list[Scope]:
    """Every scope that grants the interaction; an unrestricted one makes restrictions moot."""
    items = scopes.clinical if isinstance(scopes, ScopeSet) else scopes
    return [s for s in items if s.covers(context_kind, interaction, resource_type)]


def _within(requested: Scope, allowed: Scope) -> bool:
    return (
        requested.context == allowed.context
        and allowed.resource_type in ("*", requested.resource_type)
        and requested.permissions <= allowed.permissions
        and set(allowed.query) <= set(requested.query)
    )


def narrow(requested: str, allowed: str) -> str:
    """The part of the `requested` scope string that `allowed` (a client's registration) permits.

    A requested clinical scope is granted when one allowed scope covers it; otherwise it is
    dropped (RFC 6749 §3.3 lets the server grant fewer scopes than asked for).
    """
    allowed_set = parse_scopes(allowed)
    granted: list[str] = []
    for item in dict.fromkeys(requested.split()):
        try:
            parsed = parse_scope(item)
        except ScopeError:
            continue
        if isinstance(parsed, str):
            if parsed in allowed_set.other:
                granted.append(parsed)
        elif any(_within(parsed, a) for a in allowed_set.clinical):
            granted.append(item)
    return " ".join(granted)
