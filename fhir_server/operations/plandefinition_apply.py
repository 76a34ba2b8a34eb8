"""`PlanDefinition/{id}/$apply` (R4 plandefinition-operation-apply.html): the package applied to
each `subject`, evaluated against the subject's record (key populations derived at the evaluation
date), as an unsaved CarePlan with one scheduled activity per applicable action.

The plan covers one year from today (`$apply` has no period parameter; a signed contract's plans
cover its term).  `practitioner` becomes `author`, `encounter` `encounter`.  With several subjects
the result is a Bundle of CarePlans (type collection).
"""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..domain.careplans import rules as plan_rules
from ..domain.careplans import service as plans
from ..domain.populations import service as populations
from ..interactions.model import FhirResponse
from ..services.repository import FhirRepository
from .parameters import OperationInput
from .spec import OperationSpec

URL = "http://hl7.org/fhir/OperationDefinition/PlanDefinition-apply"


def _ref(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("reference", "")
    return str(value)


def _apply_one(
    repo: FhirRepository, canonical: str, subject: str, op: OperationInput
) -> dict[str, Any]:
    if not subject.startswith("Patient/"):
        raise E.unprocessable(
            [E.error("not-supported", "subject must be a Patient reference", "subject")]
        )
    record = repo.current_or_none("Patient", subject.split("/", 1)[1])
    if record is None or record.deleted or not record.content:
        raise E.unprocessable([E.error("not-found", f"{subject} is not known", "subject")])
    patient = record.content
    on = repo.components.clock.now().date()
    end = plan_rules.term_end(on, 1)
    memberships, rec = populations.key_populations(repo, patient, on)
    member = plans.plan_member(
        repo,
        patient,
        rec.conditions,
        [m.coding() for m in memberships],
        [canonical],
        on,
        end,
        consent=False,
    )
    author = _ref(op.one("practitioner")) or _ref(op.one("organization")) or None
    plan = plans.care_plan_for(member, subject, on, end, author_ref=author)
    if op.one("encounter"):
        plan["encounter"] = {"reference": _ref(op.one("encounter"))}
    return plan


def _handle(repo: FhirRepository, op: OperationInput) -> FhirResponse:
    if op.id is None:
        definition = op.one("planDefinition")
        if not isinstance(definition, dict) or not definition.get("url"):
            raise E.bad_request(
                "planDefinition (a stored package) is required at the type level", "planDefinition"
            )
        canonical = definition["url"]
    else:
        canonical = plans.read_package(repo, op.id, "id")["url"]
    results = [_apply_one(repo, canonical, _ref(s), op) for s in op.all("subject")]
    if len(results) == 1:
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
        documentation="Apply a service package to a resident",
    ),
]
