"""Issue list → OperationOutcome resource (the one mapping used by every response)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import Issue

MESSAGE_ID_SYSTEM = "https://jiayi.health/fhir/CodeSystem/message-id"


def issue_json(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": issue.severity, "code": issue.code}
    if issue.message_id:
        out["details"] = {"coding": [{"system": MESSAGE_ID_SYSTEM, "code": issue.message_id}]}
    out["diagnostics"] = issue.diagnostics
    if issue.expression:
        out["expression"] = list(issue.expression)
    return out


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    items = [issue_json(i) for i in issues]
    if not items:
        items = [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]
    return {"resourceType": "OperationOutcome", "issue": items}


def success_outcome(diagnostics: str) -> dict[str, Any]:
    return operation_outcome([Issue("information", "informational", diagnostics)])
