"""Sign, renew and terminate family-doctor contracts through the repository gate, all or nothing
(docs/DATA-MODEL.md "Contract"; rules and seed clauses in `rules`).

A signing writes, in one transaction: the Contract (claiming `jiayi-contract`), one CarePlan per
member (from the `MemberPlanner` port), one Consent per member, and — with `transfer` — the end of
each member's active contract: a contract whose members all leave is terminated (reason
`transfer`); from a family contract only the leaving members are removed (a new version of the
Contract without them, their CarePlan revoked and their Consent made inactive), the others keep
theirs.  At most one active contract per resident (executed, or renewed while its period runs): 409.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ...core.ids import new_id
from ...services.every_match import search_all
from ...services.repository import FhirRepository, WriteResult
from . import rules as R
from .ports import MemberPlanner

_PAGE = 500
SIGNATURE_TYPE = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}
SIGNER_TYPE = "http://terminology.hl7.org/CodeSystem/contractsignertypecodes"
TRANSFER = {"coding": [{"system": R.TERMINATION_REASON, "code": "transfer"}]}


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
    family_link: str | None = None  # Group/<id> named on a renewal of a family contract


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
    ids = [p["id"] for p in patients]
    if len(set(ids)) != len(ids):
        raise _fail("invalid", "A resident is named twice", where)
    return patients, group


def _team_roles(team: Mapping[str, Any]) -> list[str]:
    return [
        p["member"]["reference"]
        for p in team.get("participant") or []
        if (p.get("member") or {}).get("reference", "").startswith("PractitionerRole/")
    ]


def _provider(repo: FhirRepository, req: SignRequest) -> tuple[str, str, str]:
    """(care team ref, signing PractitionerRole ref, primary institution ref).

    A doctor signing alone (`practitionerRole`) signs for their active family-doctor team at the
    institution (the contract is with a team, jiayi-contract); a sinking doctor from a leading
    hospital qualifies through their role at the primary institution (粤(二))."""
    if bool(req.care_team) == bool(req.practitioner_role):
        raise _fail("required", "Give either careTeam or practitionerRole", "careTeam")
    where = "careTeam" if req.care_team else "practitionerRole"
    if req.care_team:
        team = _read(repo, req.care_team, "CareTeam", "careTeam")
        if team.get("status") not in (None, "active"):
            raise _fail("business-rule", f"{req.care_team} is not active", "careTeam")
        roles = _team_roles(team)
        if not roles:
            raise _fail("business-rule", "The team has no PractitionerRole member", "careTeam")
        role_ref, team_ref = roles[0], req.care_team
        org_ref = ((team.get("managingOrganization") or [{}])[0]).get("reference")
    else:
        role_ref = req.practitioner_role or ""
        team_ref, org_ref = "", None
    role = _read(repo, role_ref, "PractitionerRole", where)
    org_ref = org_ref or (role.get("organization") or {}).get("reference")
    organization = _read(repo, org_ref, "Organization", where)
    if not R.is_primary(organization):
        raise _fail("business-rule", f"{org_ref} is not a primary institution (粤(二))", where)
    if (role.get("organization") or {}).get("reference") != org_ref or role.get("active") is False:
        raise _fail("business-rule", f"{role_ref} has no active role at {org_ref}", where)
    if not team_ref:
        teams = search_all(repo, "CareTeam", [("participant", role_ref), ("status", "active")])
        team_ref = next(
            (
                f"CareTeam/{t['id']}"
                for t in teams
                if role_ref in _team_roles(t)
                and any(o.get("reference") == org_ref for o in t.get("managingOrganization") or [])
            ),
            "",
        )
        if not team_ref:
            raise _fail(
                "business-rule",
                f"{role_ref} belongs to no active family-doctor team of {org_ref}",
                where,
            )
    return team_ref, role_ref, org_ref or ""


def active_contracts(
    repo: FhirRepository, patient_ref: str, start: date, end: date
) -> list[dict[str, Any]]:
    """The resident's contracts in force at some day of [start, end] (executed or renewed)."""
    found = search_all(
        repo, "Contract", [("subject", patient_ref), ("status", ",".join(R.ACTIVE_STATUSES))]
    )
    return [
        c
        for c in found
        if c.get("status") in R.ACTIVE_STATUSES
        and any(s.get("reference") == patient_ref for s in c.get("subject") or [])
        and R.overlaps(c, start, end)
    ]


def care_plans_of(repo: FhirRepository, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The CarePlans of a contract (`supportingInfo` → the Contract), member by member."""
    ref = f"Contract/{contract['id']}"
    out = []
    for subject in contract.get("subject") or []:
        for plan in search_all(repo, "CarePlan", [("subject", subject.get("reference", ""))]):
            if any(s.get("reference") == ref for s in plan.get("supportingInfo") or []):
                out.append(plan)
    return out


def _contract(
    cid: str,
    req: SignRequest,
    patients: Sequence[Mapping[str, Any]],
    group: Mapping[str, Any] | None,
    team_ref: str,
    role_ref: str,
    org_ref: str,
    start: date,
    end: date,
    now: str,
    fees: R.FeeBreakdown,
    packages: Iterable[str],
    consents: Sequence[str],
) -> dict[str, Any]:
    ext: list[dict[str, Any]] = [
        {"url": R.EXT_CARE_TEAM, "valueReference": {"reference": team_ref}}
    ]
    family = f"Group/{group['id']}" if group is not None else req.family_link
    if family:
        ext.append({"url": R.EXT_FAMILY, "valueReference": {"reference": family}})
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
    ext += R.package_extensions(packages)
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
        "meta": {"profile": [R.CONTRACT_PROFILE]},
        "extension": ext,
        "status": "executed",
        "issued": now,
        "applies": {"start": start.isoformat(), "end": end.isoformat()},
        "subject": [{"reference": f"Patient/{p['id']}"} for p in patients],
        "authority": [{"reference": org_ref}],
        "title": "家庭医生签约服务协议",
        "supportingInfo": [{"reference": c} for c in consents]
        + ([{"reference": req.previous}] if req.previous else []),
        "signer": [signer("AUT", role_ref), signer("PRIMARY", first)],
    }
    return R.with_fees(contract, fees)


def _consent(
    patient_ref: str, contract_ref: str, org_ref: str, now: str, start: date, end: date
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "meta": {"profile": [R.CONSENT_PROFILE]},
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}
                ]
            }
        ],
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


def entry(result: WriteResult, base: str) -> dict[str, Any]:
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


def _bundle(repo: FhirRepository, written: Sequence[WriteResult]) -> dict[str, Any]:
    base = repo.ctx.base_url.rstrip("/")
    latest: dict[tuple[str, str], WriteResult] = {}
    for w in written:  # a resource written twice in the transaction is reported once, last version
        latest[(w.record.resource_type, w.record.id)] = w
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [entry(w, base) for w in latest.values()],
    }


def definition(repo: FhirRepository, ref: str) -> dict[str, Any]:
    """A package or item by `PlanDefinition/<id>`, `ActivityDefinition/<id>` or canonical."""
    rtype = "ActivityDefinition" if "ActivityDefinition/" in ref else "PlanDefinition"
    rid = ref.rstrip("/").rsplit("/", 1)[-1].split("|")[0]
    record = repo.current_or_none(rtype, rid)
    return record.content if record and record.content else {}


def fees_of(repo: FhirRepository, charged: Mapping[str, Mapping[str, int]]) -> R.FeeBreakdown:
    """The fee breakdown of member → {definition reference or canonical → years}."""
    charges = []
    for member, definitions in charged.items():
        for ref, years in definitions.items():
            found = definition(repo, ref)
            if found:
                charges.append(R.charge(member, found, years))
    return R.FeeBreakdown(tuple(charges))


def _end_consents(
    repo: FhirRepository, contract_ref: str, members: Iterable[str], on: date
) -> list[WriteResult]:
    written = []
    wanted = set(members)
    for consent in search_all(repo, "Consent", [("source-reference", contract_ref)]):
        patient = (consent.get("patient") or {}).get("reference")
        if consent.get("status") != "active" or patient not in wanted:
            continue
        provision = dict(consent.get("provision") or {})
        provision["period"] = {**(provision.get("period") or {}), "end": on.isoformat()}
        body = {**consent, "status": "inactive", "provision": provision}
        written.append(repo.update("Consent", consent["id"], body))
    return written


def _revoke(repo: FhirRepository, plan: Mapping[str, Any], on: date, why: str) -> WriteResult:
    body = dict(plan)
    body["status"] = "revoked"
    body["period"] = {**(plan.get("period") or {}), "end": on.isoformat()}
    body["note"] = [*(plan.get("note") or []), {"text": why}]
    return repo.update("CarePlan", plan["id"], body)


def _clamp(contract: Mapping[str, Any], on: date) -> date:
    """An end never falls before the start (a contract replaced on its first day ends that day)."""
    begun = (contract.get("applies") or {}).get("start", "")[:10]
    return date.fromisoformat(begun) if begun and on.isoformat() < begun else on


def _reason_text(reason: Mapping[str, Any]) -> str:
    code = ((reason.get("coding") or [{}])[0]).get("code", "")
    return f"签约解约原因 / contract ended: {code}"


def terminate_in(
    repo: FhirRepository, contract: dict[str, Any], reason: dict[str, Any], on: date
) -> list[WriteResult]:
    """Within a transaction: end `contract`, its care plans and consents on `on` with `reason`."""
    on = _clamp(contract, on)
    body = dict(contract)
    body["status"] = "terminated"
    body["applies"] = {**(contract.get("applies") or {}), "end": on.isoformat()}
    body["extension"] = [
        e for e in contract.get("extension") or [] if e.get("url") != R.EXT_TERMINATION
    ]
    body["extension"].append({"url": R.EXT_TERMINATION, "valueCodeableConcept": reason})
    ref = f"Contract/{contract['id']}"
    written = [repo.update("Contract", contract["id"], body)]
    for plan in care_plans_of(repo, contract):
        if plan.get("status") in ("active", "on-hold", "draft"):
            written.append(_revoke(repo, plan, on, _reason_text(reason)))
    members = [s.get("reference", "") for s in contract.get("subject") or []]
    written += _end_consents(repo, ref, members, on)
    return written


def remove_members(
    repo: FhirRepository,
    contract: dict[str, Any],
    leaving: Sequence[str],
    reason: dict[str, Any],
    on: date,
) -> list[WriteResult]:
    """Within a transaction: `leaving` members leave a contract the others keep — a new version
    without them (fees and packages recomputed from the remaining members), their CarePlans
    revoked and their Consents inactive."""
    on = _clamp(contract, on)
    ref = f"Contract/{contract['id']}"
    gone = set(leaving)
    body = dict(contract)
    body["subject"] = [s for s in contract.get("subject") or [] if s.get("reference") not in gone]
    charged = {m: d for m, d in R.charged(contract).items() if m not in gone}
    written: list[WriteResult] = []
    packages: list[str] = []
    for plan in care_plans_of(repo, contract):
        member = (plan.get("subject") or {}).get("reference")
        if member in gone and plan.get("status") in ("active", "on-hold", "draft"):
            written.append(_revoke(repo, plan, on, _reason_text(reason)))
        elif member not in gone:
            packages += plan.get("instantiatesCanonical") or []
    body["extension"] = [
        e for e in contract.get("extension") or [] if e.get("url") != R.EXT_PACKAGE
    ] + R.package_extensions(packages)
    body = R.with_fees(body, fees_of(repo, charged))
    written.insert(0, repo.update("Contract", contract["id"], body))
    written += _end_consents(repo, ref, gone, on)
    return written


def _end_for_transfer(
    repo: FhirRepository, current: Mapping[str, list[dict[str, Any]]], on: date
) -> list[WriteResult]:
    """End each resident's current contract(s): terminate a contract all of whose members leave,
    otherwise remove the leaving members only."""
    leaving: dict[str, set[str]] = {}
    contracts: dict[str, dict[str, Any]] = {}
    for patient, found in current.items():
        for c in found:
            leaving.setdefault(c["id"], set()).add(patient)
            contracts[c["id"]] = c
    written: list[WriteResult] = []
    for cid in sorted(contracts):
        c = contracts[cid]
        members = {s.get("reference") for s in c.get("subject") or []}
        if members <= leaving[cid]:
            written += terminate_in(repo, c, TRANSFER, on)
        else:
            written += remove_members(repo, c, sorted(leaving[cid]), TRANSFER, on)
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
    previous_id = (req.previous or "/").split("/")[-1]
    with repo.transaction() as tx:
        patients, group = _members(tx, req)
        team_ref, role_ref, org_ref = _provider(tx, req)
        written: list[WriteResult] = []
        for p in sorted(patients, key=lambda p: p["id"]):
            tx.lock(f"contract:Patient/{p['id']}")
        current: dict[str, list[dict[str, Any]]] = {}
        for i, p in enumerate(patients):
            ref = f"Patient/{p['id']}"
            found = [c for c in active_contracts(tx, ref, start, end) if c["id"] != previous_id]
            if found and not req.transfer:
                ids = ", ".join(f"Contract/{c['id']}" for c in found)
                raise _fail(
                    "conflict",
                    f"{ref} already has an active contract ({ids}); use transfer",
                    f"subject[{i}]" if req.subjects else "family",
                    409,
                )
            if found:
                current[ref] = found
        written += _end_for_transfer(tx, current, start - timedelta(days=1))
        if previous_status and req.previous:
            old = _read(tx, req.previous, "Contract", "contract")
            written.append(tx.update("Contract", old["id"], {**old, "status": previous_status}))
        cid = new_id()
        consent_ids = {p["id"]: new_id() for p in patients}
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
        charged = {
            f"Patient/{p['id']}": {url: years for url, years in m.years.items() if years}
            for p, m in zip(patients, planned, strict=True)
        }
        fees = fees_of(tx, charged)
        packages = [url for m in planned for url in m.packages]
        consents = [f"Consent/{consent_ids[p['id']]}" for p in patients]
        contract = _contract(
            cid,
            req,
            patients,
            group,
            team_ref,
            role_ref,
            org_ref,
            start,
            end,
            now,
            fees,
            packages,
            consents,
        )
        created = [tx.create("Contract", contract, resource_id=cid)]
        created += [tx.create("CarePlan", m.care_plan) for m in planned]
        created += [
            tx.create(
                "Consent",
                _consent(f"Patient/{p['id']}", f"Contract/{cid}", org_ref, now, start, end),
                resource_id=consent_ids[p["id"]],
            )
            for p in patients
        ]
    return _bundle(repo, created + written)


def _in_force(repo: FhirRepository, contract_id: str, statuses: Sequence[str]) -> dict[str, Any]:
    contract = _read(repo, f"Contract/{contract_id}", "Contract", "id")
    if contract.get("status") not in statuses:
        raise _fail(
            "business-rule",
            f"Contract/{contract_id} is {contract.get('status')}, not " + " or ".join(statuses),
            "Contract.status",
            409,
        )
    return contract


def renew(
    repo: FhirRepository,
    contract_id: str,
    term: int,
    packages: list[str],
    planner: MemberPlanner,
    consent: bool | None = None,
) -> dict[str, Any]:
    """Contract/{id}/$renew: the next period with the same members, team and doctor; populations
    re-derived; the residents' consent is required again (as for $sign)."""
    if consent is not True:
        raise _fail(
            "business-rule", "The resident's consent is required (consent = true)", "consent"
        )
    old = _in_force(repo, contract_id, ("executed",))
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
        subjects=[s["reference"] for s in old.get("subject") or []],
        care_team=team,
        practitioner_role=None if team else role,
        term=term,
        start=start,
        packages=packages,
        channel=(ext.get(R.EXT_CHANNEL) or {}).get("valueCoding"),
        consent=True,
        status_reason="renewal",
        previous=f"Contract/{contract_id}",
        family_link=family,  # the members still on the contract renew; the family stays named
    )
    return sign(repo, req, planner, previous_status="renewed")


def successors(repo: FhirRepository, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Executed renewals of `contract` (their supportingInfo names it)."""
    ref = f"Contract/{contract['id']}"
    out: dict[str, dict[str, Any]] = {}
    for subject in contract.get("subject") or []:
        for c in search_all(
            repo, "Contract", [("subject", subject.get("reference", "")), ("status", "executed")]
        ):
            if any(s.get("reference") == ref for s in c.get("supportingInfo") or []):
                out[c["id"]] = c
    return list(out.values())


def terminate(
    repo: FhirRepository, contract_id: str, reason: Any, on: date | None = None
) -> dict[str, Any]:
    """Contract/{id}/$terminate: a contract in force (executed, or renewed while it runs) ends with
    `reason`; ending a renewed contract ends its renewal too (the resident leaves the team)."""
    coded = R.check_reason(reason)
    with repo.transaction() as tx:
        contract = _in_force(tx, contract_id, R.ACTIVE_STATUSES)
        when = on or today(repo)
        written = []
        if contract.get("status") == "renewed":
            for later in successors(tx, contract):
                written += terminate_in(tx, later, coded, when)
        written = terminate_in(tx, contract, coded, when) + written
    return _bundle(repo, written)
