"""`PlanDefinition/$apply` (R4 plandefinition-operation-apply.html and plandefinition.html
"Applying a PlanDefinition"): the package applied to each `subject`, evaluated against the
subject's record (key populations derived at the evaluation date), unsaved.

- Result per subject: a CarePlan (status draft, intent proposal; `instantiatesCanonical` the
  package) whose first activity references a contained RequestGroup with one action per
  applicable action; each action's ActivityDefinition is applied (a contained ServiceRequest, or a
  Task for kinds that are no request or need what a package cannot give); the scheduled
  activities follow as `activity.detail`, in the shape `Contract/$sign` stores.  The plan covers
  one year from today (`$apply` has no period parameter; a signed contract's plans cover its term).
- `subject`: Patient references, or a Group (each active Patient member); several subjects give a
  Bundle (type collection) of CarePlans.
- Type level: `planDefinition` is the package itself, inline (contained in each CarePlan when it
  has no `url`); instance level: the stored package (an inline one is then refused).
- `practitioner` (else `organization`) is the author and the requests' requester; `encounter` is
  set on the CarePlan, RequestGroup and requests.  The context parameters `userType`,
  `userLanguage`, `userTaskContext`, `setting`, `settingContext` are recorded (R4 `cqf-*`
  extensions on a contained Basic); `userLanguage` sets `language`, `setting` the requests'
  `locationCode`.  The packages carry no setting- or user-specific actions, so no action is
  filtered by them.
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..core.clock import fhir_instant
from ..domain.careplans import build
from ..domain.careplans import rules as plan_rules
from ..domain.careplans import service as plans
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from . import _planning
from .parameters import OperationInput
from .spec import OperationSpec

URL = "http://hl7.org/fhir/OperationDefinition/PlanDefinition-apply"
CONTEXT = ("userType", "userLanguage", "userTaskContext", "setting", "settingContext")


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("reference")
    return str(value) if value else None


def _concept(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict) and ("coding" in value or "text" in value):
        return value
    if isinstance(value, str) and value:
        return {"text": value}
    raise E.bad_request(f"'{name}' must be a CodeableConcept", name)


def _local(repo: FhirRepository, ref: str, rtype: str, where: str) -> dict[str, Any]:
    if not ref.startswith(f"{rtype}/"):
        raise E.unprocessable([E.error("invalid", f"{where} must reference a {rtype}", where)])
    record = repo.current_or_none(rtype, ref.split("/", 1)[1])
    if record is None or record.deleted or not record.content:
        raise E.unprocessable([E.error("not-found", f"{ref} is not known", where)])
    return record.content


def _patients(repo: FhirRepository, subjects: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, value in enumerate(subjects):
        ref = _ref(value) or ""
        where = f"subject[{i}]"
        if ref.startswith("Group/"):
            group = _local(repo, ref, "Group", where)
            members = [
                (m.get("entity") or {}).get("reference", "")
                for m in group.get("member") or []
                if not m.get("inactive")
            ]
            out += [_local(repo, m, "Patient", where) for m in members if m.startswith("Patient/")]
            continue
        if not ref.startswith("Patient/"):
            raise E.unprocessable(
                [E.error("not-supported", "subject must reference a Patient or a Group", where)]
            )
        out.append(_local(repo, ref, "Patient", where))
    return out


def _kinds(repo: FhirRepository, activities: list[plan_rules.Activity]) -> dict[str, str]:
    kinds = {}
    for a in activities:
        url = a.leaf.definition
        if url:
            ad = repo.current_or_none("ActivityDefinition", plan_rules.package_id(url))
            kinds[url] = ((ad.content if ad else None) or {}).get("kind", "ServiceRequest")
    return kinds


def _apply_one(
    repo: FhirRepository,
    package: dict[str, Any],
    inline: bool,
    patient: dict[str, Any],
    op: OperationInput,
) -> dict[str, Any]:
    on = repo.components.clock.now().date()
    end = plan_rules.term_end(on, 1)
    years, _codes, conditions = _planning.contract_years(repo, patient, on, end)
    member = plans.plan_member(repo, patient, conditions, years, [package], consent=False)
    context = {name: _concept(op.one(name), name) for name in CONTEXT}
    return build.applied_care_plan(
        patient_ref=f"Patient/{patient['id']}",
        canonical=package.get("url", ""),
        activities=member.activities,
        kinds=_kinds(repo, member.activities),
        start=on,
        end=end,
        author_ref=_ref(op.one("practitioner")) or _ref(op.one("organization")),
        encounter_ref=_ref(op.one("encounter")),
        created=fhir_instant(repo.components.clock.now()),
        context={k: v for k, v in context.items() if v},
        inline=package if inline and not package.get("url") else None,
    )


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    inline = op.one("planDefinition")
    if op.id is None:
        if not isinstance(inline, dict) or inline.get("resourceType") != "PlanDefinition":
            raise E.bad_request(
                "planDefinition (a PlanDefinition resource) is required at the type level",
                "planDefinition",
            )
        repo.validate({"id": "inline", **inline})
        package = inline
    else:
        if inline is not None:
            raise E.bad_request(
                "planDefinition is not allowed on an instance (the stored package is applied)",
                "planDefinition",
            )
        package = plans.read_package(repo, op.id, "id")
    patients = _patients(repo, op.all("subject"))
    results = [_apply_one(repo, package, op.id is None, p, op) for p in patients]
    by_group = any((_ref(s) or "").startswith("Group/") for s in op.all("subject"))
    if len(results) == 1 and not by_group:
        return FhirResponse(200, results[0])
    return FhirResponse(
        200,
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in results],
        },
    )


OPERATIONS = [
    OperationSpec(
        "apply",
        URL,
        _handle,
        type_level=True,
        instance=True,
        resource_types=("PlanDefinition",),
        affects_state=False,
        documentation="Apply a service package to a resident (R4 semantics: CarePlan + RequestGroup)",
    ),
]
