"""Push compliance (`Measure/push-compliance/$evaluate-measure`): per contracted resident over a period,
delivered pushes ≥ 12, every required topic, ≥ 1 personalised (国卫办基层发〔2025〕21号（三）; 粤(三));
residents who opted out of every channel are exceptions with their reason.  Residents are selected by
`subject`: `Patient/<id>`, `CareTeam/<id>` (the contract's team extension), `Organization/<id>` (the
contract's authority), a GB/T 2260 code (the division code of the resident's address, a city code
covering its districts), or none (everyone with a contract in force during the period).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ..alerts.rules import area_covers, is_area_code
from . import messages as M
from .content import TOPIC_SYSTEM, ContentLibrary
from .loading import by_patient, search_all
from .record import division_codes
from .rules import PushFact, assess
from .service import contract_team
from .solar_terms import CHINA_TZ

MEASURE_URL = "https://jiayi.health/fhir/Measure/push-compliance"
POP = "http://terminology.hl7.org/CodeSystem/measure-population"
SHORTFALL_EXT = "https://jiayi.health/fhir/StructureDefinition/measure-shortfall"
_CONTRACT_STATUSES = "executed,terminated,renewed"


@dataclass(frozen=True)
class ResidentResult:
    patient_id: str
    count: int
    missing_topics: tuple[str, ...]
    personalised: int
    compliant: bool
    exception: str | None
    shortfalls: tuple[str, ...]


def _overlaps(contract: Mapping[str, Any], start: date, end: date) -> bool:
    applies = contract.get("applies") or {}
    lo, hi = str(applies.get("start") or ""), str(applies.get("end") or "")
    return bool(lo) and lo[:10] <= end.isoformat() and (not hi or hi[:10] >= start.isoformat())


def _residents(repo: Any, start: date, end: date, subject: str | None) -> list[str]:
    query = [("status", _CONTRACT_STATUSES)]
    kind, _, ident = (subject or "").partition("/")
    if kind == "Patient":
        query.append(("subject", subject or ""))
    elif subject and not ident and not is_area_code(subject):
        raise E.bad_request(
            "subject must be Patient/<id>, CareTeam/<id>, Organization/<id> or a GB/T 2260 code",
            "subject",
        )
    contracts = [c for c in search_all(repo, "Contract", query) if _overlaps(c, start, end)]
    if kind == "CareTeam":
        contracts = [c for c in contracts if (contract_team(c) or {}).get("reference") == subject]
    elif kind == "Organization":
        contracts = [
            c
            for c in contracts
            if any(a.get("reference") == subject for a in c.get("authority", []))
        ]
    ids = sorted(
        {
            str(s["reference"]).split("/", 1)[1]
            for c in contracts
            for s in c.get("subject", [])
            if str(s.get("reference", "")).startswith("Patient/")
        }
    )
    if kind == "Patient":
        ids = [i for i in ids if i == ident]
    if subject and is_area_code(subject):
        ids = [
            p["id"]
            for p in _patients(repo, ids)
            if any(area_covers(subject, d) for d in division_codes(p))
        ]
    return ids


def _patients(repo: Any, ids: list[str]) -> Iterable[dict[str, Any]]:
    for i in range(0, len(ids), 200):
        yield from search_all(repo, "Patient", [("_id", ",".join(ids[i : i + 200]))])


def _day(instant: str) -> date:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(CHINA_TZ).date()


def resident_results(
    repo: Any, library: ContentLibrary, start: date, end: date, subject: str | None
) -> list[ResidentResult]:
    ids = _residents(repo, start, end, subject)
    pushes = by_patient(repo, "Communication", "subject", ids, [])
    consents = by_patient(repo, "Consent", "patient", ids, [("status", "active")])
    out = []
    for pid in ids:
        facts, opted = [], False
        for c in pushes.get(pid, []):
            if M.kind_of(c) is None:
                continue
            if c.get("status") == "completed" and c.get("sent") and start <= _day(c["sent"]) <= end:
                topics = library.roots(M.topics_of(c))
                facts.append(PushFact(_day(c["sent"]), topics, M.kind_of(c) == "personalised"))
            reason = (c.get("statusReason") or {}).get("coding", [{}])[0].get("code")
            opted = opted or (c.get("status") == "not-done" and reason == "opted-out")
        opted = opted or any(_denies_all(c) for c in consents.get(pid, []))
        a = assess(facts)
        out.append(
            ResidentResult(
                pid,
                a.count,
                a.missing_topics,
                a.personalised,
                a.compliant,
                "opted-out" if opted and not a.compliant else None,
                tuple(a.shortfalls()),
            )
        )
    return out


def _denies_all(consent: Mapping[str, Any]) -> bool:
    provision = consent.get("provision") or {}
    return provision.get("type") == "deny" and any(
        c.get("code") == "all" for cc in provision.get("code", []) for c in cc.get("coding", [])
    )


def _pop(code: str, count: int, ref: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": {"coding": [{"system": POP, "code": code}]}, "count": count}
    if ref:
        out["subjectResults"] = {"reference": ref}
    return out


def _group(
    text: str, den: int, num: int, exc: int = 0, extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    pops = [_pop("initial-population", den), _pop("denominator", den)] + (extra or [])
    pops.append(_pop("numerator", num))
    score = num / (den - exc) if den - exc > 0 else 0.0
    return {"code": {"text": text}, "population": pops, "measureScore": {"value": round(score, 4)}}


def measure_report(
    results: list[ResidentResult], start: date, end: date, subject: str | None, now: datetime
) -> dict[str, Any]:
    den = len(results)
    exceptions = [r for r in results if r.exception]
    short = [r for r in results if not r.compliant and not r.exception]
    contained = [
        _list(
            "shortfall",
            "未达标居民",
            [(r.patient_id, "; ".join(r.shortfalls), r.missing_topics) for r in short],
        ),
        _list(
            "exceptions",
            "例外（已退订）",
            [(r.patient_id, "opted-out: " + "; ".join(r.shortfalls), ()) for r in exceptions],
        ),
    ]
    main = _group(
        "compliant",
        den,
        sum(r.compliant for r in results),
        len(exceptions),
        [_pop("denominator-exception", len(exceptions), "#exceptions")],
    )
    main["extension"] = [{"url": SHORTFALL_EXT, "valueReference": {"reference": "#shortfall"}}]
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "contained": contained,
        "status": "complete",
        "type": "individual" if subject and subject.startswith("Patient/") else "summary",
        "measure": MEASURE_URL,
        "date": fhir_instant(now),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "group": [
            main,
            _group("count-12", den, sum(r.count >= 12 for r in results)),
            _group("topics", den, sum(not r.missing_topics for r in results)),
            _group("personalised", den, sum(r.personalised >= 1 for r in results)),
        ],
    }
    if subject and "/" in subject:
        report["subject"] = {"reference": subject}
    elif subject:
        report["subject"] = {
            "identifier": {
                "system": "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong",
                "value": subject,
            },
            "display": f"GB/T 2260 {subject}",
        }
    return report


def _list(list_id: str, title: str, rows: list[tuple[str, str, tuple[str, ...]]]) -> dict[str, Any]:
    entries = []
    for pid, text, missing in rows:
        flag: dict[str, Any] = {"text": text}
        if missing:
            flag["coding"] = [{"system": TOPIC_SYSTEM, "code": t} for t in missing]
        entries.append({"flag": flag, "item": {"reference": f"Patient/{pid}"}})
    out: dict[str, Any] = {
        "resourceType": "List",
        "id": list_id,
        "status": "current",
        "mode": "snapshot",
        "title": title,
    }
    if entries:
        out["entry"] = entries
    else:
        out["emptyReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "nilknown",
                }
            ]
        }
    return out
