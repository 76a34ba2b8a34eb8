"""Contracting jobs: the yearly confirmation window and the contract quality audit.

- `renewal-window` (粤(十): 每年第四季度至次年初集中开展确认与续约; 国卫办基层发〔2025〕21号 (十)):
  on a date inside the window, every executed contract ending by the window's end gets one
  confirmation `Task` (profile jiayi-contract-confirmation: code `task-code|approve`,
  businessStatus `contract-status-reason|confirmation-pending`, `focus` the Contract, `owner` its
  team or signing doctor); idempotent (a confirmation Task already focused on the contract is kept).
- `contract-audit` (签约真实、履约务实): a `DetectedIssue` per finding of `rules.audit` on every
  contract in force at the date (executed, or renewed while it runs) — no Consent, no contact in
  the last year, a resident signed twice, a signer without a role at the contract's institution;
  idempotent per (contract, finding, resident).

Every search pages through all results (nothing is cut at a page size).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ...core.jobs import JobSpec
from ...services.repository import FhirRepository
from . import rules as R
from .service import search_all

AUDIT = "https://jiayi.health/fhir/CodeSystem/contract-audit"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
CONTACT_TYPES = ("Encounter", "Communication", "Procedure", "Observation")
_search = search_all


def _owner(contract: dict[str, Any]) -> dict[str, Any] | None:
    for ext in contract.get("extension") or []:
        if ext.get("url") == R.EXT_CARE_TEAM:
            return ext.get("valueReference")
    return next(
        (
            s["party"]
            for s in contract.get("signer") or []
            if s["party"].get("reference", "").startswith("PractitionerRole/")
        ),
        None,
    )


def renewal_window(ctx: Any, on: date) -> str:
    window = R.renewal_window(on)
    if window is None:
        return f"{on} is outside the confirmation window (Q4 to early next year): nothing to do"
    repo: FhirRepository = ctx.repo
    created = 0
    with repo.transaction() as tx:
        for contract in _search(tx, "Contract", [("status", "executed")]):
            if not R.due_for_renewal(contract, window):
                continue
            ref = f"Contract/{contract['id']}"
            if _search(tx, "Task", [("focus", ref), ("code", f"{TASK_CODE}|approve")]):
                continue
            task: dict[str, Any] = {
                "resourceType": "Task",
                "meta": {"profile": [R.CONFIRMATION_PROFILE]},
                "status": "requested",
                "businessStatus": {
                    "coding": [{"system": R.STATUS_REASON, "code": "confirmation-pending"}],
                    "text": "待年度确认",
                },
                "intent": "order",
                "code": {
                    "coding": [{"system": TASK_CODE, "code": "approve"}],
                    "text": "年度签约确认与续约",
                },
                "focus": {"reference": ref},
                "for": (contract.get("subject") or [{}])[0],
                "authoredOn": on.isoformat(),
                "restriction": {
                    "period": {"start": window[0].isoformat(), "end": window[1].isoformat()}
                },
            }
            owner = _owner(contract)
            if owner:
                task["owner"] = owner
            tx.create("Task", task)
            created += 1
    return f"renewal window {window[0]}..{window[1]}: {created} confirmation task(s) created"


def _last_contact(repo: FhirRepository, patient: str, since: date) -> date | None:
    dates = []
    for rtype in CONTACT_TYPES:
        for r in _search(repo, rtype, [("patient", patient)]):
            for key in ("sent", "effectiveDateTime", "performedDateTime"):
                if isinstance(r.get(key), str):
                    dates.append(r[key][:10])
            start = (r.get("period") or {}).get("start")
            if isinstance(start, str):
                dates.append(start[:10])
    dates = [d for d in dates if d >= since.isoformat()]
    return date.fromisoformat(max(dates)) if dates else None


def _role_ok(repo: FhirRepository, contract: dict[str, Any]) -> bool:
    org = ((contract.get("authority") or [{}])[0]).get("reference")
    for signer in contract.get("signer") or []:
        ref = signer["party"].get("reference", "")
        if ref.startswith("PractitionerRole/"):
            role = repo.current_or_none("PractitionerRole", ref.split("/", 1)[1])
            content = role.content if role and role.content else {}
            return (
                content.get("active") is not False
                and (content.get("organization") or {}).get("reference") == org
            )
    return False


def contract_audit(ctx: Any, on: date) -> str:
    repo: FhirRepository = ctx.repo
    recorded = 0
    with repo.transaction() as tx:
        contracts = [
            c
            for c in _search(tx, "Contract", [("status", ",".join(R.ACTIVE_STATUSES))])
            if R.is_active(c, on)
        ]
        for contract in contracts:
            ref = f"Contract/{contract['id']}"
            patients = [s["reference"] for s in contract.get("subject") or []]
            has_consent = bool(_search(tx, "Consent", [("source-reference", ref)]))
            findings = R.audit(
                contract,
                has_consent=has_consent,
                last_contact={p: _last_contact(tx, p, on - timedelta(days=365)) for p in patients},
                other_active={
                    p: [
                        f"Contract/{c['id']}"
                        for c in contracts
                        if c is not contract
                        and p in [s["reference"] for s in c.get("subject") or []]
                    ]
                    for p in patients
                },
                signer_role_ok=_role_ok(tx, contract),
                on=on,
            )
            existing = {
                (
                    ((i.get("code") or {}).get("coding") or [{}])[0].get("code"),
                    (i.get("patient") or {}).get("reference"),
                )
                for i in _search(tx, "DetectedIssue", [("implicated", ref)])
            }
            for f in findings:
                if (f.code, f.patient) in existing:
                    continue
                existing.add((f.code, f.patient))
                issue: dict[str, Any] = {
                    "resourceType": "DetectedIssue",
                    "meta": {"profile": [R.AUDIT_PROFILE]},
                    "status": "preliminary",
                    "code": {"coding": [{"system": AUDIT, "code": f.code}]},
                    "severity": "moderate",
                    "identifiedDateTime": on.isoformat(),
                    "implicated": [{"reference": ref}],
                    "detail": f.detail,
                }
                if f.patient:
                    issue["patient"] = {"reference": f.patient}
                tx.create("DetectedIssue", issue)
                recorded += 1
    return f"contract audit on {on}: {len(contracts)} contract(s) checked, {recorded} issue(s) recorded"


JOBS = [
    JobSpec(
        "renewal-window",
        "Confirmation tasks for contracts due in the Q4–Q1 window (粤(十))",
        renewal_window,
        "daily",
    ),
    JobSpec(
        "contract-audit",
        "DetectedIssues for contracts without consent, contact, or a valid signer",
        contract_audit,
        "monthly",
    ),
]
