"""SMART scope grammar, v1 and v2, table-driven.

Spec: SMART App Launch 2.x "Scopes and Launch Context" (scope syntax, v1↔v2 equivalence,
finer-grained constraints with search parameters).
"""

from __future__ import annotations

import pytest

from fhir_server.auth.scopes import Scope, ScopeError, narrow, parse_scope, parse_scopes, permits

PARSE = [
    ("patient/*.read", "patient", "*", "rs", (), 1),
    ("user/Observation.write", "user", "Observation", "cud", (), 1),
    ("system/*.*", "system", "*", "cruds", (), 1),
    ("patient/Observation.rs", "patient", "Observation", "rs", (), 2),
    ("user/*.cruds", "user", "*", "cruds", (), 2),
    ("system/Contract.r", "system", "Contract", "r", (), 2),
    ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
     "patient", "Observation", "rs",
     (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),), 2),
    ("user/Condition.r?clinical-status=active&category=problem-list-item", "user", "Condition", "r",
     (("clinical-status", "active"), ("category", "problem-list-item")), 2),
]  # fmt: skip


@pytest.mark.parametrize(("text", "context", "rtype", "perms", "query", "version"), PARSE)
def test_parse(text: str, context: str, rtype: str, perms: str, query: tuple, version: int) -> None:
    scope = parse_scope(text)
    assert isinstance(scope, Scope)
    assert (scope.context, scope.resource_type, scope.query, scope.version) == (
        context,
        rtype,
        query,
        version,
    )
    assert scope.permissions == frozenset(perms)


@pytest.mark.parametrize(
    "text",
    [
        "patient/*.rc",
        "patient/Observation",
        "doctor/*.read",
        "patient/observation.r",
        "patient/*.",
        "patient/*.read?x=1",
        "user/*.srd",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_non_clinical_and_lenient_parsing() -> None:
    scopes = parse_scopes("openid fhirUser launch/patient offline_access bogus patient/*.rs")
    assert scopes.other == {"openid", "fhirUser", "launch/patient", "offline_access"}
    assert [s.text for s in scopes.clinical] == ["patient/*.rs"]
    with pytest.raises(ScopeError):
        parse_scopes("bogus", strict=True)


PERMITS = [
    ("patient/*.read", "patient", "read", "Observation", True),
    ("patient/*.read", "patient", "search-type", "Observation", True),
    ("patient/*.read", "patient", "history-instance", "Observation", True),
    ("patient/*.read", "patient", "create", "Observation", False),
    ("patient/*.read", "user", "read", "Observation", False),
    ("user/Observation.write", "user", "update", "Observation", True),
    ("user/Observation.write", "user", "patch", "Observation", True),
    ("user/Observation.write", "user", "delete", "Observation", True),
    ("user/Observation.write", "user", "read", "Observation", False),
    ("user/Observation.write", "user", "create", "Patient", False),
    ("patient/Observation.rs", "patient", "search-type", "Observation", True),
    ("patient/Observation.r", "patient", "search-type", "Observation", False),
    ("patient/Observation.s", "patient", "vread", "Observation", False),
    ("user/*.cruds", "user", "conditional-delete", "Contract", True),
    ("system/Contract.r", "system", "read", "Contract", True),
    ("system/Contract.r", "system", "read", "Patient", False),
    ("system/Contract.r", "system", "history-type", "Contract", False),
    ("system/*.s", "system", "history-system", "Patient", True),
    ("user/*.cruds", "user", "operation", "Patient", False),  # operations are checked separately
]  # fmt: skip


@pytest.mark.parametrize(("scope", "context", "interaction", "rtype", "expected"), PERMITS)
def test_permits(scope: str, context: str, interaction: str, rtype: str, expected: bool) -> None:
    assert permits(parse_scopes(scope), context, interaction, rtype) is expected  # type: ignore[arg-type]


NARROW = [
    ("patient/*.rs openid", "patient/*.cruds openid", "patient/*.rs openid"),
    ("patient/*.read", "patient/*.rs", "patient/*.read"),
    ("patient/*.cruds", "patient/*.rs", ""),
    ("patient/Observation.rs", "patient/*.rs", "patient/Observation.rs"),
    ("patient/Observation.rs?category=vital-signs", "patient/Observation.rs", "patient/Observation.rs?category=vital-signs"),
    ("patient/Observation.rs", "patient/Observation.rs?category=vital-signs", ""),
    ("user/*.rs offline_access", "patient/*.rs", ""),
]  # fmt: skip


@pytest.mark.parametrize(("requested", "allowed", "granted"), NARROW)
def test_narrow(requested: str, allowed: str, granted: str) -> None:
    assert narrow(requested, allowed) == granted
