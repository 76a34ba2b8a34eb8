"""Push compliance (`Measure/push-compliance/$evaluate-measure`): per contracted resident over a
period, the planned pushes delivered against the months due, the required topics, personalised
guidance (国卫办基层发〔2025〕21号（三）; 粤(三)); residents who opted out of every channel are
exceptions with their reason.

- **Who**: residents with a Contract (executed, terminated or renewed) overlapping the period,
  selected by `subject`/`reporter`: `Patient/<id>`, `CareTeam/<id>` (the contract's team),
  `Organization/<id>` (its institution), a GB/T 2260 code (the resident's address division; a
  city code covers its districts), or none (everyone).
- **Counted by overlap**: a resident is due one push per month of its contract years lying wholly
  inside both the contract term and the period (12 for a whole contract year); delivered planned
  pushes (`completed`, `sent` in the period, kind routine or personalised) count, alerts are extra
  and never count.  Topic coverage and personalised guidance are assessed when at least a whole
  contract year's months are due (the plan spreads them over the year); a shorter overlap is held
  to its count only.  Months due without a delivered push are listed as shortfalls.
- **Paged**: contracts are read a page at a time with their residents' pushes and Consents; only
  the counts and the lists the report names are kept.
- `reportType`: `population` (default: counts, with the contained List of residents falling
  short and of exceptions), `subject-list` (also a contained List of the residents of each
  population, referenced from `subjectResults`), `subject` (one Patient).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ...services.consent import PUSH_CHANNELS, denied_push_channels
from ..alerts.rules import area_covers, is_area_code
from . import messages as M
from . import plans as P
from .content import TOPIC_SYSTEM, ContentLibrary
from .loading import by_patient, load_patients, search_all
from .record import division_codes
from .rules import PushFact, assess, months_due
from .solar_terms import CHINA_TZ

MEASURE_URL = "https://jiayi.health/fhir/Measure/push-compliance"
POP = "http://terminology.hl7.org/CodeSystem/measure-population"
SHORTFALL_EXT = "https://jiayi.health/fhir/StructureDefinition/measure-shortfall"
GB2260_SYSTEM = "https://jiayi.health/fhir/CodeSystem/gb2260-guangdong"
TEAM_EXT = P.CONTRACT_TEAM_EXT
_CONTRACT_STATUSES = "executed,terminated,renewed"
_PAGE = 500


@dataclass(frozen=True)
class ResidentResult:
    patient_id: str
    count: int
    expected: int
    missing_topics: tuple[str, ...]
    personalised: int
    compliant: bool
    exception: str | None
    shortfalls: tuple[str, ...]
    full_year: bool


@dataclass
class Tally:
    """What the report keeps while the residents are read page by page."""

    residents: int = 0
    compliant: int = 0
    enough: int = 0
    full_year: int = 0
    topics: int = 0
    personalised: int = 0
    shortfall: list[ResidentResult] = field(default_factory=list)
    exceptions: list[ResidentResult] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)  # subject-list: population → ids
    keep_members: bool = False

    def add(self, r: ResidentResult) -> None:
        self.residents += 1
        self.compliant += r.compliant
        self.enough += r.count >= r.expected
        if r.full_year:
            self.full_year += 1
            self.topics += not r.missing_topics
            self.personalised += r.personalised >= 1
        if r.exception:
            self.exceptions.append(r)
        elif not r.compliant:
            self.shortfall.append(r)
        if self.keep_members:
            self.members.setdefault("initial-population", []).append(r.patient_id)
            if r.exception:
                self.members.setdefault("denominator-exception", []).append(r.patient_id)
            if r.compliant:
                self.members.setdefault("numerator", []).append(r.patient_id)


@dataclass(frozen=True)
class Selection:
    kind: str  # all | Patient | CareTeam | Organization | area
    value: str | None = None  # the reference or the GB/T 2260 code

    @property
    def label(self) -> str | None:
        return None if self.kind == "all" else self.value


def selection(subject: str | None, reporter: str | None) -> Selection:
    """`subject` and/or `reporter` → who is counted (400 for anything else)."""
    chosen = [v for v in (subject, reporter) if v]
    if len(chosen) > 1 and subject != reporter:
        raise E.bad_request("give either subject or reporter, not both", "reporter")
    if not chosen:
        return Selection("all")
    value = str(chosen[0])
    where = "subject" if subject else "reporter"
    kind, _, ident = value.partition("/")
    if ident and kind in ("Patient", "CareTeam", "Organization") and "/" not in ident:
        if where == "reporter" and kind == "Patient":
            raise E.bad_request("reporter is an Organization or a GB/T 2260 code", "reporter")
        return Selection(kind, value)
    if not ident and is_area_code(value):
        return Selection("area", value)
    raise E.bad_request(
        f"{where} must be Patient/<id>, CareTeam/<id>, Organization/<id> or a GB/T 2260 code",
        where,
    )


def _overlaps(contract: Mapping[str, Any], start: date, end: date) -> bool:
    applies = contract.get("applies") or {}
    lo, hi = str(applies.get("start") or ""), str(applies.get("end") or "")
    return bool(lo) and lo[:10] <= end.isoformat() and (not hi or hi[:10] >= start.isoformat())


def _contract_pages(repo: Any, chosen: Selection) -> Iterator[list[dict[str, Any]]]:
    query = [("status", _CONTRACT_STATUSES)]
    if chosen.kind == "Patient":
        query.append(("subject", chosen.value or ""))
    cursor: str | None = None
    while True:
        page = repo.search(
            ["Contract"], query + ([("_cursor", cursor)] if cursor else []), page_size=_PAGE
        )
        yield [r.content for r in page.matches]
        cursor = page.next_cursor
        if not cursor:
            return


def _chosen(contract: Mapping[str, Any], chosen: Selection) -> bool:
    if chosen.kind == "CareTeam":
        return P.contract_team(contract) == chosen.value
    if chosen.kind == "Organization":
        return any(a.get("reference") == chosen.value for a in contract.get("authority", []))
    return True


def _day(instant: str) -> date:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(CHINA_TZ).date()


def evaluate(
    repo: Any,
    library: ContentLibrary,
    start: date,
    end: date,
    chosen: Selection,
    *,
    keep_members: bool = False,
) -> Tally:
    tally = Tally(keep_members=keep_members)
    for page in _contract_pages(repo, chosen):
        contracts = [c for c in page if _overlaps(c, start, end) and _chosen(c, chosen)]
        by_resident: dict[str, list[Mapping[str, Any]]] = {}
        for contract in contracts:
            for pid in P.contract_patients(contract):
                by_resident.setdefault(pid, []).append(contract)
        if chosen.kind == "Patient":
            wanted = (chosen.value or "").split("/", 1)[1]
            by_resident = {p: c for p, c in by_resident.items() if p == wanted}
        if not by_resident:
            continue
        ids = sorted(by_resident)
        # a resident with contracts on several pages is counted on the page of its first one
        everything = _contracts_of(repo, ids)
        first = {
            pid: min(str(c["id"]) for c in everything.get(pid, by_resident[pid])) for pid in ids
        }
        ids = [p for p in ids if first[p] == min(str(c["id"]) for c in by_resident[p])]
        if chosen.kind == "area":
            patients = load_patients(repo, ids)
            code = chosen.value or ""
            ids = [
                p
                for p in ids
                if any(area_covers(code, d) for d in division_codes(patients.get(p, {})))
            ]
        for result in _page_results(repo, library, start, end, ids, everything):
            tally.add(result)
    return tally


def _contracts_of(repo: Any, ids: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
    """Every contract (of the counted statuses) naming each resident."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    wanted = set(ids)
    for i in range(0, len(ids), 200):
        refs = ",".join(f"Patient/{p}" for p in ids[i : i + 200])
        query = [("subject", refs), ("status", _CONTRACT_STATUSES)]
        for contract in search_all(repo, "Contract", query):
            for pid in P.contract_patients(contract):
                if pid in wanted:
                    out.setdefault(pid, []).append(contract)
    return out


def _page_results(
    repo: Any,
    library: ContentLibrary,
    start: date,
    end: date,
    ids: Sequence[str],
    contracts: Mapping[str, Sequence[Mapping[str, Any]]],
) -> Iterator[ResidentResult]:
    # a day of margin either side: `sent` is judged by its day in China below
    sent_range = [
        ("sent", f"ge{(start - timedelta(days=1)).isoformat()}"),
        ("sent", f"le{(end + timedelta(days=1)).isoformat()}"),
    ]
    pushes = by_patient(
        repo, "Communication", "subject", ids, [("status", "completed"), *sent_range]
    )
    refused = by_patient(repo, "Communication", "subject", ids, [("status", "not-done")])
    consents = by_patient(repo, "Consent", "patient", ids, [("status", "active")])
    for pid in ids:
        facts = []
        for c in pushes.get(pid, []):
            kind = M.kind_of(c)
            if kind not in ("routine", "personalised") or not c.get("sent"):
                continue
            day = _day(c["sent"])
            if start <= day <= end:
                facts.append(PushFact(day, library.roots(M.topics_of(c)), kind == "personalised"))
        months = sorted(
            {
                m
                for contract in contracts.get(pid, [])
                if _overlaps(contract, start, end)
                for m in _months(contract, start, end)
            }
        )
        a = assess(facts, months)
        opted = denied_push_channels(consents.get(pid, []), end) >= PUSH_CHANNELS or any(
            (c.get("statusReason") or {}).get("coding", [{}])[0].get("code") == "opted-out"
            for c in refused.get(pid, [])
        )
        yield ResidentResult(
            pid,
            a.count,
            a.expected,
            a.missing_topics if a.full_year else (),
            a.personalised,
            a.compliant,
            "opted-out" if opted and not a.compliant else None,
            tuple(a.shortfalls()),
            a.full_year,
        )


def _months(contract: Mapping[str, Any], start: date, end: date) -> list[tuple[date, date]]:
    row = P.contract_row(contract, None)
    if row["starts_on"] is None:
        return []
    return months_due(row["starts_on"], row["ends_on"], start, end)


# -- the MeasureReport --------------------------------------------------------------------------
def _pop(code: str, count: int, ref: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": {"coding": [{"system": POP, "code": code}]}, "count": count}
    if ref:
        out["subjectResults"] = {"reference": ref}
    return out


def _group(
    text: str,
    den: int,
    num: int,
    exc: int = 0,
    extra: list[dict[str, Any]] | None = None,
    refs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    refs = refs or {}
    pops = [
        _pop("initial-population", den, refs.get("initial-population")),
        _pop("denominator", den, refs.get("initial-population")),
    ] + (extra or [])
    pops.append(_pop("numerator", num, refs.get("numerator")))
    score = num / (den - exc) if den - exc > 0 else 0.0
    return {"code": {"text": text}, "population": pops, "measureScore": {"value": round(score, 4)}}


def measure_report(
    tally: Tally,
    start: date,
    end: date,
    chosen: Selection,
    now: datetime,
    report_type: str = "population",
) -> dict[str, Any]:
    exceptions, short = tally.exceptions, tally.shortfall
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
    refs: dict[str, str] = {}
    if report_type == "subject-list":
        for code, title in (
            ("initial-population", "初始人群"),
            ("numerator", "达标居民"),
            ("denominator-exception", "例外居民"),
        ):
            rows = [(pid, "", ()) for pid in tally.members.get(code, [])]
            contained.append(_list(code, title, rows))
            refs[code] = f"#{code}"
    main = _group(
        "compliant",
        tally.residents,
        tally.compliant,
        len(exceptions),
        [_pop("denominator-exception", len(exceptions), "#exceptions")],
        refs,
    )
    main["extension"] = [{"url": SHORTFALL_EXT, "valueReference": {"reference": "#shortfall"}}]
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "contained": contained,
        "status": "complete",
        "type": {"subject": "individual", "subject-list": "subject-list"}.get(
            report_type, "summary"
        ),
        "measure": MEASURE_URL,
        "date": fhir_instant(now),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "group": [
            main,
            _group("count-due", tally.residents, tally.enough),
            _group("topics", tally.full_year, tally.topics),
            _group("personalised", tally.full_year, tally.personalised),
        ],
    }
    if chosen.kind == "Patient":
        report["subject"] = {"reference": chosen.value}
    elif chosen.kind == "Organization":
        report["reporter"] = {"reference": chosen.value}
    elif chosen.kind == "CareTeam":  # R4 subject cannot be a CareTeam: the group it stands for
        report["subject"] = {
            "type": "Group",
            "identifier": {"system": TEAM_EXT, "value": chosen.value},
            "display": f"签约 {chosen.value} 的居民",
        }
    elif chosen.kind == "area":
        report["subject"] = {
            "type": "Group",
            "identifier": {"system": GB2260_SYSTEM, "value": chosen.value},
            "display": f"GB/T 2260 {chosen.value} 的签约居民",
        }
    return report


def _list(
    list_id: str, title: str, rows: Sequence[tuple[str, str, tuple[str, ...]]]
) -> dict[str, Any]:
    entries = []
    for pid, text, missing in rows:
        entry: dict[str, Any] = {"item": {"reference": f"Patient/{pid}"}}
        if text or missing:
            flag: dict[str, Any] = {"text": text} if text else {}
            if missing:
                flag["coding"] = [{"system": TOPIC_SYSTEM, "code": t} for t in missing]
            entry["flag"] = flag
        entries.append(entry)
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
