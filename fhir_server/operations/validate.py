"""`$validate` at type and instance level for every resource type.

Spec: http://hl7.org/fhir/R4/resource-operation-validate.html (OperationDefinition
`Resource-validate`: in `resource` 0..1, `mode` 0..1 code create | update | delete, `profile` 0..1 uri;
out `return` OperationOutcome).  The body is the resource itself or a Parameters with `resource`.

The operation succeeds (200) whenever it could run, and the OperationOutcome lists every issue found
(severity, code, expression) — errors in the resource are its result, not a failure of the call.
Input the operation cannot act on at all (no resource for create/update, an unknown mode, a body of
another type than the URL) is a 400.

Beyond validation, each mode answers "would this write succeed?" by performing it in a unit of work
that is always rolled back (a dry run: nothing is stored, no event leaves): the version check
(`meta.versionId` of the body as an `If-Match`, 412), the business rules every write runs (e.g. an
immutable points-ledger entry, a booked slot), access, and `--referential-integrity strict` (dangling
references on create/update; on delete, live resources still referencing the target, 409).  Each
refusal becomes an error issue.  `mode=update` (instance level) also checks that the body's id
matches the URL and says when the update would create the resource.  Inside a transaction Bundle the
dry run is skipped (its writes could not be rolled back alone), leaving validation only.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..core.errors import Issue
from ..core.outcome import operation_outcome
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Resource-validate"
MODES = ("create", "update", "delete")


def handle_validate(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    mode = op.one("mode") or ("update" if op.id else "create")
    if mode not in MODES:
        raise E.bad_request(f"mode must be one of {', '.join(MODES)}, not '{mode}'", "mode")
    profile = op.one("profile")
    if mode == "delete":
        return _outcome(_delete_issues(repo, op))
    resource = op.one("resource")
    if not isinstance(resource, dict):
        raise E.bad_request("$validate needs the resource to validate", "resource")
    body_type = resource.get("resourceType")
    if op.resource_type is not None and body_type != op.resource_type:
        raise E.bad_request(
            f"The body holds a {body_type} but the URL names {op.resource_type}", "resourceType"
        )
    issues = _validate(repo, resource, [profile] if isinstance(profile, str) else [])
    if mode == "update":
        issues.extend(_update_issues(repo, op, resource))
    if not any(i.is_error for i in issues):
        issues.extend(_dry_run(repo, mode, resource, op.id))
    return _outcome(issues)


class _RollBack(Exception):
    """Raised to end a dry run: the unit of work is rolled back."""


def _dry_run(
    repo: FhirRepository, mode: str, resource: dict[str, Any] | None, rid: str | None
) -> list[Issue]:
    """The issues of a refused write, found by performing it in a rolled-back unit of work."""
    if repo.in_transaction:
        return []
    try:
        with repo.transaction() as tx:
            if mode == "delete":
                assert resource is not None
                tx.delete(resource["resourceType"], str(rid))
            elif mode == "update":
                assert resource is not None
                version = (resource.get("meta") or {}).get("versionId")
                if_match = version if isinstance(version, str) else None
                tx.update(
                    resource["resourceType"], str(rid or resource.get("id")), resource, if_match
                )
            else:
                assert resource is not None
                tx.create(
                    resource["resourceType"], {k: v for k, v in resource.items() if k != "id"}
                )
            raise _RollBack
    except _RollBack:
        return []
    except E.FhirError as exc:
        return [i for i in exc.issues if i.is_error] or list(exc.issues)


def _validate(repo: FhirRepository, resource: dict[str, Any], profiles: list[str]) -> list[Issue]:
    validator = repo.components.validator
    if profiles and hasattr(validator, "profiles"):
        return list(validator.validate(resource, profiles))  # type: ignore[call-arg]
    return list(validator.validate(resource))


def _update_issues(
    repo: FhirRepository, op: OperationInput, resource: dict[str, Any]
) -> list[Issue]:
    rtype = str(resource.get("resourceType"))
    body_id = resource.get("id")
    if op.id is None:
        if body_id is None:
            return [E.error("required", "An update needs the resource id", f"{rtype}.id")]
        return []
    if body_id != op.id:
        return [
            E.error(
                "invalid",
                f"The resource id '{body_id}' does not match the URL id '{op.id}'",
                f"{rtype}.id",
                message_id="JY-0400-ID",
            )
        ]
    if repo.current_or_none(rtype, op.id) is None:
        return [Issue("information", "informational", f"{rtype}/{op.id} would be created")]
    return []


def _delete_issues(repo: FhirRepository, op: OperationInput) -> list[Issue]:
    if op.resource_type is None or op.id is None:
        raise E.bad_request("mode=delete validates a stored resource: call it on an instance")
    record = repo.read(op.resource_type, op.id)  # 404/410 and access rules as for a read
    what = f"{record.resource_type}/{record.id}"
    refused = _dry_run(repo, "delete", record.content, record.id)
    if refused:
        return refused
    return [Issue("information", "informational", f"Nothing prevents deleting {what}")]


def _outcome(issues: list[Issue]) -> FhirResponse:
    return FhirResponse(200, operation_outcome(issues))


OPERATIONS = [
    OperationSpec(
        code="validate",
        definition=DEFINITION,
        handler=handle_validate,
        type_level=True,
        instance=True,
        resource_types=("*",),
        affects_state=False,
        documentation="Validate a resource (structure, invariants, bindings, profiles).",
    )
]
