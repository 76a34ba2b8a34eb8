"""Errors as values: an `Issue` list plus an HTTP status, mapped to one OperationOutcome.

Handlers never build HTTP errors by hand; they raise `FhirError` (or return issues) and
`rest/errors.py` renders it.  Each issue may carry a stable message id (`JY-xxxx`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: severity, IssueType code, text, FHIRPath expression(s)."""

    severity: str  # fatal | error | warning | information
    code: str  # http://hl7.org/fhir/issue-type code
    diagnostics: str
    expression: tuple[str, ...] = ()
    message_id: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")


def error(code: str, diagnostics: str, *expression: str, message_id: str | None = None) -> Issue:
    return Issue("error", code, diagnostics, tuple(e for e in expression if e), message_id)


def warning(code: str, diagnostics: str, *expression: str, message_id: str | None = None) -> Issue:
    return Issue("warning", code, diagnostics, tuple(e for e in expression if e), message_id)


def information(diagnostics: str, code: str = "informational") -> Issue:
    return Issue("information", code, diagnostics)


@dataclass
class FhirError(Exception):
    """A request that cannot be served; rendered as an OperationOutcome with `status`."""

    status: int
    issues: list[Issue]
    headers: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        status: int,
        issues: Issue | Iterable[Issue],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.issues = [issues] if isinstance(issues, Issue) else list(issues)
        self.headers = dict(headers or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues)


# Constructors for the common cases, each with a stable message id.
def bad_request(diagnostics: str, *expression: str, code: str = "invalid") -> FhirError:
    return FhirError(400, error(code, diagnostics, *expression, message_id="JY-0400"))


def not_found(resource_type: str, resource_id: str, version: str | None = None) -> FhirError:
    what = f"{resource_type}/{resource_id}" + (f"/_history/{version}" if version else "")
    return FhirError(404, error("not-found", f"Resource {what} is not known", message_id="JY-0404"))


def unknown_type(resource_type: str) -> FhirError:
    return FhirError(
        404,
        error(
            "not-supported",
            f"Resource type '{resource_type}' is not supported",
            message_id="JY-0405",
        ),
    )


def gone(resource_type: str, resource_id: str, version: int) -> FhirError:
    return FhirError(
        410,
        error(
            "deleted",
            f"Resource {resource_type}/{resource_id} was deleted (version {version})",
            message_id="JY-0410",
        ),
        {"ETag": f'W/"{version}"'},
    )


def conflict(diagnostics: str, status: int = 409) -> FhirError:
    return FhirError(status, error("conflict", diagnostics, message_id=f"JY-0{status}"))


def unprocessable(issues: Iterable[Issue]) -> FhirError:
    return FhirError(422, list(issues))


def method_not_allowed(diagnostics: str) -> FhirError:
    return FhirError(405, error("not-supported", diagnostics, message_id="JY-0406"))
