"""Sign, renew and terminate family-doctor contracts through the repository gate, all or nothing
(docs/DATA-MODEL.md "Contract"; rules and seed clauses in `rules`).

A signing writes, in one transaction: the Contract, one CarePlan per member (from the
`MemberPlanner` port), one Consent per member, and — with `transfer` — the termination of each
member's active contract (reason `transfer`).  At most one active contract per resident: 409.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ...core.ids import new_id
from ...services.repository import FhirRepository, WriteResult
from . import rules as R
from .ports import MemberPlanner

_PAGE = 1000
SIGNATURE_TYPE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}
SIGNER_TYPE = "http://terminology.hl7.org/CodeSystem/contractsignertypecodes"


@dataclass(frozen=True)
class SignRequest:
    subjects: list[str] = field(default_factory=list)  # Patient/<id>
    family: str | None = None  # Group/<id>
    care_team: str | None = None
    practitioner_role: str | None = None
    term: int = 1
    start: date | None = None
    packages: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    channel: dict[str, Any] | None = None
    consent: bool | None = None
    transfer: bool = False
    status_reason: str = "new-signing"
    previous: str | None = None  # Contract/<id> this one renews


def _fail(code: str, text: str, where: str, status: int = 422) -> E.FhirError:
    return E.FhirError(status, E.error(code, text, where, message_id="JY-6000"))


def _read(repo: FhirRepository, ref: str | None, rtype: str, where: str) -> dict[str, Any]:
    if not ref or not ref.startswith(f"{rtype}/"):
        raise _fail("invalid", f"{where} must reference a {rtype}", where)
    record = repo.current_or_none(rtype, ref.split("/", 1)[1])
    if record is None or record.deleted or not record.content:
        raise _fail("not-found", f"{ref} is not known", where)
    return record.content


def today(repo: FhirRepository) -> date:
    return repo.components.clock.now().date()


def _members(
    repo: FhirRepository, req: SignRequest
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if bool(req.subjects) == bool(req.family):
        raise _fail("required", "Give either subject (one or more) or family", "subject")
    group = _read(repo, req.family, "Group", "family") if req.family else None
    refs = req.subjects or [
        (m.get("entity") or {}).get("reference", "")
        for m in (group or {}).get("member") or []
        if not m.get("inactive")
    ]
    where = "subject" if req.subjects else "family"
    patients = [
        _read(repo, ref, "Patient", f"{where}[{i}]" if req.subjects else where)
        for i, ref in enumerate(refs)
    ]
    if not patients:
        raise _fail("required", "The family has no members", "family")
    return patients, group


def _provider(repo: FhirRepository, req: SignRequest) -> tuple[str | None, str, str]:
    """(care team ref, signing PractitionerRole ref, primary institution ref)."""
    if bool(req.care_team) == bool(req.practitioner_role):
        raise _fail("required", "Give either careTeam or practitionerRole", "careTeam")
    if req.care_team:
        team = _read(repo, req.care_team, "CareTeam", "careTeam")
        if team.get("status") not in (None, "active"):
            raise _fail("business-rule", f"{req.care_team} is not active", "careTeam")
        roles = [
            p["member"]["reference"]
            for p in team.get("participant") or []
            if (p.get("member") or {}).get("reference", "").startswith("PractitionerRole/")
        ]
        if not roles:
            raise _fail("business-rule", "The team has no PractitionerRole member", "careTeam")
        org_ref = ((team.get("managingOrganization") or [{}])[0]).get("reference")
        role_ref, team_ref, where = roles[0], req.care_team, "careTeam"
    else:
        role_ref, team_ref, where = req.practitioner_role or "", None, "practitionerRole"
        org_ref = None
    role = _read(repo, role_ref, "PractitionerRole", where)
    org_ref = org_ref or (role.get("organization") or {}).get("reference")
    organization = _read(repo, org_ref, "Organization", where)
    if not R.is_primary(organization):
        raise _fail("business-rule", f"{org_ref} is not a primary institution (粤(二))", where)
    if (role.get("organization") or {}).get("reference") != org_ref or role.get("active") is False:
        raise _fail("business-rule", f"{role_ref} has no active role at {org_ref}", where)
    if team_ref is None:
        found = repo.search(
            ["CareTeam"], [("participant", role_ref), ("status", "active")], page_size=10
        )
        team_ref = next((f"CareTeam/{m.id}" for m in found.matches), None)
    return team_ref, role_ref, org_ref or ""


def active_contracts(
    repo: FhirRepository, patient_ref: str, start: date, end: date
) -> list[dict[str, Any]]:
    page = repo.search(
        ["Contract"], [("subject", patient_ref), ("status", "executed")], page_size=_PAGE
    )
    return [m.content for m in page.matches if m.content and R.overlaps(m.content, start, end)]


def care_plans_of(repo: FhirRepository, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
    ref = f"Contract/{contract['id']}"
    out = []
    for subject in contract.get("subject") or []:
        page = repo.search(
            ["CarePlan"], [("subject", subject.get("reference", ""))], page_size=_PAGE
        )
        for m in page.matches:
            if m.content and any(
                s.get("reference") == ref for s in m.content.get("supportingInfo") or []
            ):
                out.append(m.content)
    return out


def _contract(
    cid: str,
    req: SignRequest,
    patients: Sequence[Mapping[str, Any]],
    group: Mapping[str, Any] | None,
    team_ref: str | None,
    role_ref: str,
    org_ref: str,
    start: date,
    end: date,
    now: str,
    fees: R.FeeBreakdown,
) -> dict[str, Any]:
    ext: list[dict[str, Any]] = []
    if team_ref:
        ext.append({"url": R.EXT_CARE_TEAM, "valueReference": {"reference": team_ref}})
    if group is not None:
        ext.append({"url": R.EXT_FAMILY, "valueReference": {"reference": f"Group/{group['id']}"}})
    if req.channel:
        ext.append({"url": R.EXT_CHANNEL, "valueCoding": req.channel})
    ext.append(
        {
            "url": R.EXT_STATUS_REASON,
            "valueCodeableConcept": {
                "coding": [{"system": R.STATUS_REASON, "code": req.status_reason}]
            },
        }
    )
    ext += R.fee_extensions(fees)
    first = f"Patient/{patients[0]['id']}"

    def signer(code: str, party: str) -> dict[str, Any]:
        return {
            "type": {"system": SIGNER_TYPE, "code": code},
            "party": {"reference": party},
            "signature": [{"type": [SIGNATURE_TYPE], "when": now, "who": {"reference": party}}],
        }

    contract: dict[str, Any] = {
        "resourceType": "Contract",
        "id": cid,
        "extension": ext,
        "status": "executed",
        "issued": now,
        "applies": {"start": start.isoformat(), "end": end.isoformat()},
        "subject": [{"reference": f"Patient/{p['id']}"} for p in patients],
        "authority": [{"reference": org_ref}],
        "title": "家庭医生签约服务协议",
        "signer": [signer("AUT", role_ref), signer("PRIMARY", first)],
    }
    if req.previous:
        contract["supportingInfo"] = [{"reference": req.previous}]
    terms = R.fee_terms(fees)
    if terms:
        contract["term"] = terms
    return contract


def _consent(
    patient_ref: str, contract_ref: str, org_ref: str, now: str, start: date, end: date
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": patient_ref},
        "dateTime": now,
        "performer": [{"reference": patient_ref}],
        "organization": [{"reference": org_ref}],
        "policyRule": {"text": "家庭医生签约服务协议（知情同意）"},
        "sourceReference": {"reference": contract_ref},
        "provision": {
            "type": "permit",
            "period": {"start": start.isoformat(), "end": end.isoformat()},
        },
    }


def _entry(result: WriteResult, base: str) -> dict[str, Any]:
    r = result.record
    return {
        "fullUrl": f"{base}/{r.resource_type}/{r.id}",
        "resource": r.content,
        "response": {
            "status": "201 Created" if result.created else "200 OK",
            "location": f"{r.resource_type}/{r.id}/_history/{r.version_id}",
            "etag": f'W/"{r.version_id}"',
            "lastModified": fhir_instant(r.last_updated),
        },
    }


def terminate_in(
    repo: FhirRepository, contract: dict[str, Any], reason: dict[str, Any], on: date
) -> list[WriteResult]:
    """Within a transaction: end `contract` (and its care plans) on `on` with `reason`.

    The end never falls before the start (a contract replaced on the day it began ends that day)."""
    begun = (contract.get("applies") or {}).get("start", "")[:10]
    if begun and on.isoformat() < begun:
        on = date.fromisoformat(begun)
    body = dict(contract)
    body["status"] = "terminated"
    body["applies"] = {**(contract.get("applies") or {}), "end": on.isoformat()}
    body["extension"] = [
        e for e in contract.get("extension") or [] if e.get("url") != R.EXT_TERMINATION
    ]
    body["extension"].append({"url": R.EXT_TERMINATION, "valueCodeableConcept": reason})
    written = [repo.update("Contract", contract["id"], body)]
    for plan in care_plans_of(repo, contract):
        plan = dict(plan)
        plan["status"] = "revoked"
        plan["period"] = {**(plan.get("period") or {}), "end": on.isoformat()}
        written.append(repo.update("CarePlan", plan["id"], plan))
    return written


def sign(
    repo: FhirRepository,
    req: SignRequest,
    planner: MemberPlanner,
    *,
    previous_status: str | None = None,
) -> dict[str, Any]:
    """Contract/$sign: the transaction-response Bundle (Contract, CarePlans, Consents, ended contracts)."""
    term = R.check_term(req.term)
    channel = R.check_channel(req.channel)
    if req.consent is not True:
        raise _fail(
            "business-rule", "The resident's consent is required (consent = true)", "consent"
        )
    req = SignRequest(**{**req.__dict__, "channel": channel})
    start = req.start or today(repo)
    end = R.add_years_end(start, term)
    now = fhir_instant(repo.components.clock.now())
    with repo.transaction() as tx:
        patients, group = _members(tx, req)
        team_ref, role_ref, org_ref = _provider(tx, req)
        written: list[WriteResult] = []
        for p in sorted(patients, key=lambda p: p["id"]):
            tx.lock(f"contract:Patient/{p['id']}")
        for i, p in enumerate(patients):
            current = [
                c
                for c in active_contracts(tx, f"Patient/{p['id']}", start, end)
                if c["id"] != (req.previous or "/").split("/")[-1]
            ]
            if current and not req.transfer:
                ids = ", ".join(f"Contract/{c['id']}" for c in current)
                raise _fail(
                    "conflict",
                    f"Patient/{p['id']} already has an active contract ({ids}); use transfer",
                    f"subject[{i}]",
                    409,
                )
            for c in current:
                written += terminate_in(
                    tx,
                    c,
                    {"coding": [{"system": R.TERMINATION_REASON, "code": "transfer"}]},
                    start - timedelta(days=1),
                )
        if previous_status and req.previous:
            old = _read(tx, req.previous, "Contract", "contract")
            written.append(tx.update("Contract", old["id"], {**old, "status": previous_status}))
        cid = new_id()
        links = {
            "care_team_ref": team_ref,
            "contract_ref": f"Contract/{cid}",
            "author_ref": role_ref,
            "created": now,
        }
        planned = [
            planner(
                tx,
                p,
                extra_packages=req.packages,
                items=req.items,
                start=start,
                end=end,
                consent=True,
                links=links,
            )
            for p in patients
        ]
        definitions = [
            [_definition(tx, url) for url in m.packages]
            + [_definition(tx, url, "ActivityDefinition") for url in req.items]
            for m in planned
        ]
        fees = R.fee_breakdown(definitions)
        contract = _contract(
            cid, req, patients, group, team_ref, role_ref, org_ref, start, end, now, fees
        )
        created = [tx.create("Contract", contract, resource_id=cid)]
        created += [tx.create("CarePlan", m.care_plan) for m in planned]
        created += [
            tx.create(
                "Consent",
                _consent(f"Patient/{p['id']}", f"Contract/{cid}", org_ref, now, start, end),
            )
            for p in patients
        ]
    base = repo.ctx.base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [_entry(w, base) for w in created + written],
    }


def _definition(
    repo: FhirRepository, canonical: str, rtype: str = "PlanDefinition"
) -> dict[str, Any]:
    record = repo.current_or_none(rtype, canonical.rstrip("/").rsplit("/", 1)[-1].split("|")[0])
    return record.content if record and record.content else {}


def _executed(repo: FhirRepository, contract_id: str) -> dict[str, Any]:
    contract = _read(repo, f"Contract/{contract_id}", "Contract", "id")
    if contract.get("status") != "executed":
        raise _fail(
            "business-rule",
            f"Contract/{contract_id} is {contract.get('status')}, not in force",
            "Contract.status",
            409,
        )
    return contract


def renew(
    repo: FhirRepository, contract_id: str, term: int, packages: list[str], planner: MemberPlanner
) -> dict[str, Any]:
    """Contract/{id}/$renew: the next period with the same members, team and doctor; populations re-derived."""
    old = _executed(repo, contract_id)
    ext = {e.get("url"): e for e in old.get("extension") or []}
    family = ((ext.get(R.EXT_FAMILY) or {}).get("valueReference") or {}).get("reference")
    team = ((ext.get(R.EXT_CARE_TEAM) or {}).get("valueReference") or {}).get("reference")
    role = next(
        (
            s["party"]["reference"]
            for s in old.get("signer") or []
            if s["party"].get("reference", "").startswith("PractitionerRole/")
        ),
        None,
    )
    start = date.fromisoformat(old["applies"]["end"][:10]) + timedelta(days=1)
    req = SignRequest(
        subjects=[] if family else [s["reference"] for s in old.get("subject") or []],
        family=family,
        care_team=team,
        practitioner_role=None if team else role,
        term=term,
        start=start,
        packages=packages,
        channel=(ext.get(R.EXT_CHANNEL) or {}).get("valueCoding"),
        consent=True,
        status_reason="renewal",
        previous=f"Contract/{contract_id}",
    )
    return sign(repo, req, planner, previous_status="renewed")


def terminate(
    repo: FhirRepository, contract_id: str, reason: Any, on: date | None = None
) -> dict[str, Any]:
    coded = R.check_reason(reason)
    with repo.transaction() as tx:
        contract = _executed(tx, contract_id)
        written = terminate_in(tx, contract, coded, on or today(repo))
    base = repo.ctx.base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [_entry(w, base) for w in written],
    }
