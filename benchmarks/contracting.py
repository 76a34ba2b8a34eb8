"""`python -m benchmarks.contracting --contracts N[,M…]`: `$fulfillment` and `$signing-report` of
an institution (and one of its teams) over N contracts on PostgreSQL (issue 6: the health
commission's view per contract, team and institution).

For each N:

1. creates a throw-away database, migrates it and loads with `fhir_server.tools.bulk_load` (COPY,
   the search-index rows the API would write) one institution, 20 teams, 40 signing doctors
   (PractitionerRoles), 3 ActivityDefinitions (a clinical code each) and N residents, each with an
   executed Contract (channel, team, signer), a CarePlan of three scheduled activities (4
   follow-ups, 12 reminders, a health check: 17 deadlines) and a partial year of care: follow-up
   Encounters (service-item code, or the clinical code only), blood-pressure Observations taken at
   them, reminder Communications based on the plan, a declined health check for some;
2. runs each operation through the router as an HTTP request would (`interactions.router
   .dispatch`: parameters, the service, the `Parameters` answer), `--repeat` times, and keeps the
   best and the median wall time;
3. measures, in the same run and on the same database, the baseline: plain SQL reading the same
   rows (`SELECT content FROM resource WHERE res_type = … AND res_id IN (…)`: every Contract, CarePlan
   and record the operation counts, fetched and decoded by psycopg) — the floor for anything that
   reads those rows; the ratio is operation time ÷ baseline time;
4. checks the answer (the rate and counts known from what was loaded) and writes its section of
   `benchmarks/RESULTS.md` (between the `contracting` markers; the other sections are left as
   they are).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.rest_core import DEFAULT_ADMIN_URL, libpq_url, throwaway_database
from benchmarks.results_file import markers, replace_section

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = markers("contracting")
BASE = "https://jiayi.health/fhir/"
ITEM = BASE + "CodeSystem/service-item"
TEAM_EXT = BASE + "StructureDefinition/contract-care-team"
CHANNEL_EXT = BASE + "StructureDefinition/signing-channel"
CHANNEL_CS = BASE + "CodeSystem/signing-channel"
SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"
START, END_DAY, ON = date(2026, 1, 1), date(2026, 12, 31), date(2026, 12, 31)
TEAMS, ROLES = 20, 40
FU = "kp-hypertension.hypertension-management.follow-up"
REMINDER = "basic-public-health.reminder-consultation.reminder"
CHECK = "kp-hypertension.hypertension-management.health-check"
#: (service-item code, clinical coding of its ActivityDefinition, deadlines)
ACTIVITIES = (
    (FU, (SNOMED, "390906007"), ["2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31"]),
    (REMINDER, (SNOMED, "185087000"), [f"2026-{m:02d}-28" for m in range(1, 13)]),
    (CHECK, (LOINC, "85354-9"), ["2026-12-31"]),
)


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def definitions() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "ActivityDefinition",
            "id": f"bench-{code}",
            "url": f"{BASE}ActivityDefinition/bench-{code}",
            "status": "active",
            "code": {"coding": [{"system": ITEM, "code": code}, {"system": s, "code": c}]},
        }
        for code, (s, c), _events in ACTIVITIES
    ]


def network() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Organization",
            "id": "bench-org",
            "active": True,
            "name": "社区卫生服务中心",
        }
    ]
    for t in range(TEAMS):
        out.append(
            {
                "resourceType": "CareTeam",
                "id": f"bench-team-{t:02d}",
                "status": "active",
                "managingOrganization": [{"reference": "Organization/bench-org"}],
            }
        )
    for r in range(ROLES):
        out.append(
            {
                "resourceType": "PractitionerRole",
                "id": f"bench-role-{r:02d}",
                "active": True,
                "practitioner": {"reference": f"Practitioner/bench-dr-{r:02d}"},
                "organization": {"reference": "Organization/bench-org"},
            }
        )
    return out


@dataclass
class Expected:
    """What the operation must answer, from what was loaded."""

    due: dict[str, int] = field(default_factory=lambda: {a[0]: 0 for a in ACTIVITIES})
    done: dict[str, int] = field(default_factory=lambda: {a[0]: 0 for a in ACTIVITIES})
    team_contracts: int = 0
    rows: dict[str, list[str]] = field(default_factory=dict)  # type → ids the operation reads

    def row(self, rtype: str, rid: str) -> None:
        self.rows.setdefault(rtype, []).append(rid)


def residents(n: int, expected: Expected) -> Iterator[dict[str, Any]]:
    """N residents with their contract, plan and a partial year of care (deterministic)."""
    for i in range(n):
        pid, cid, plan = f"r{i:06d}", f"c{i:06d}", f"cp{i:06d}"
        team, role = f"CareTeam/bench-team-{i % TEAMS:02d}", f"bench-role-{i % ROLES:02d}"
        expected.team_contracts += i % TEAMS == 0
        yield {"resourceType": "Patient", "id": pid, "birthDate": "1958-06-15", "gender": "male"}
        yield {
            "resourceType": "Contract",
            "id": cid,
            "status": "executed",
            "extension": [
                {"url": TEAM_EXT, "valueReference": {"reference": team}},
                {
                    "url": CHANNEL_EXT,
                    "valueCoding": {"system": CHANNEL_CS, "code": ("on-site", "online")[i % 2]},
                },
            ],
            "subject": [{"reference": f"Patient/{pid}"}],
            "authority": [{"reference": "Organization/bench-org"}],
            "signer": [
                {
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                        "code": "AUT",
                    },
                    "party": {"reference": f"PractitionerRole/{role}"},
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                }
                            ],
                            "when": "2026-01-01T10:00:00+08:00",
                            "who": {"reference": f"PractitionerRole/{role}"},
                        }
                    ],
                }
            ],
            "applies": {"start": START.isoformat(), "end": END_DAY.isoformat()},
        }
        yield {
            "resourceType": "CarePlan",
            "id": plan,
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{pid}"},
            "careTeam": [{"reference": team}],
            "period": {"start": START.isoformat(), "end": END_DAY.isoformat()},
            "supportingInfo": [{"reference": f"Contract/{cid}"}],
            "activity": [
                {
                    "detail": {
                        "code": {"coding": [{"system": ITEM, "code": code}], "text": code},
                        "status": "scheduled",
                        "instantiatesCanonical": [f"{BASE}ActivityDefinition/bench-{code}"],
                        "scheduledTiming": {"event": events},
                    }
                }
                for code, _clinical, events in ACTIVITIES
            ],
        }
        expected.row("Contract", cid)
        expected.row("CarePlan", plan)
        for code, _clinical, events in ACTIVITIES:
            expected.due[code] += len(events)
        expected.due[CHECK] -= i % 5 == 0  # declined below
        yield from _care(i, pid, plan, expected)


def _care(i: int, pid: str, plan: str, expected: Expected) -> Iterator[dict[str, Any]]:
    subject = {"reference": f"Patient/{pid}"}
    for k in range(i % 4):  # 0–3 follow-ups; every other one coded clinically only
        eid = f"e{i:06d}-{k}"
        coding = (
            {"system": ITEM, "code": FU} if k % 2 == 0 else {"system": SNOMED, "code": "390906007"}
        )
        yield {
            "resourceType": "Encounter",
            "id": eid,
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "basedOn": [{"reference": f"CarePlan/{plan}"}],
            "period": {"start": f"2026-{3 * k + 2:02d}-15"},
            "type": [{"coding": [coding]}],
        }
        yield {  # taken at the visit: the same service, not counted again
            "resourceType": "Observation",
            "id": f"o{i:06d}-{k}",
            "status": "final",
            "subject": subject,
            "encounter": {"reference": f"Encounter/{eid}"},
            "code": _coding(SNOMED, "390906007"),
            "effectiveDateTime": f"2026-{3 * k + 2:02d}-15",
        }
        expected.row("Encounter", eid)
        expected.row("Observation", f"o{i:06d}-{k}")
        expected.done[FU] += 1
    for m in range(1, 1 + (i % 13)):  # 0–12 reminders
        yield {
            "resourceType": "Communication",
            "id": f"m{i:06d}-{m:02d}",
            "status": "completed",
            "subject": subject,
            "basedOn": [{"reference": f"CarePlan/{plan}"}],
            "sent": f"2026-{m:02d}-10",
        }
        expected.row("Communication", f"m{i:06d}-{m:02d}")
        expected.done[REMINDER] += 1
    if i % 5 == 0:
        yield {
            "resourceType": "Procedure",
            "id": f"p{i:06d}",
            "status": "not-done",
            "subject": subject,
            "performedDateTime": "2026-11-20",
            "code": {"coding": [{"system": ITEM, "code": CHECK}]},
        }
        expected.row("Procedure", f"p{i:06d}")


@dataclass
class Timing:
    name: str
    seconds: list[float]
    baseline: list[float]
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def base(self) -> float:
        return min(self.baseline)


@dataclass
class SizeResult:
    contracts: int
    loaded: int = 0
    load_seconds: float = 0.0
    timings: list[Timing] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    out, last = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        last = fn()
        out.append(time.perf_counter() - t0)
    return out, last


def _sql_rows(url: str, rows: dict[str, list[str]]) -> Callable[[], int]:
    """The baseline: the same rows' content by plain SQL (psycopg decodes the JSON)."""

    conn = psycopg.connect(libpq_url(url))  # opened once: the queries are timed, not the connect

    def run() -> int:
        n = 0
        with conn.transaction():
            for rtype, ids in rows.items():
                for k in range(0, len(ids), 5000):
                    cur = conn.execute(
                        "SELECT content FROM resource WHERE res_type = %s AND res_id = ANY(%s)"
                        " AND NOT deleted",
                        (rtype, ids[k : k + 5000]),
                    )
                    n += len(cur.fetchall())
        return n

    return run


def _fulfilment_answer(resource: dict[str, Any]) -> tuple[float, dict[str, dict[str, int]]]:
    params = resource["parameter"]
    acts = {
        p["part"][0]["valueCodeableConcept"]["coding"][0]["code"]: {
            q["name"]: q.get("valueInteger", 0) for q in p["part"][1:]
        }
        for p in params
        if p["name"] == "activity"
    }
    return params[0]["valueDecimal"], acts


def run_size(admin_url: str, n: int, repeat: int) -> SizeResult:
    from fhir_server.app import build_components
    from fhir_server.interactions.model import FhirRequest
    from fhir_server.interactions.router import dispatch
    from fhir_server.services.context import RequestContext
    from fhir_server.services.repository import FhirRepository
    from fhir_server.settings import Settings
    from fhir_server.storage.sql import SqlDatabase
    from fhir_server.tools.bulk_load import bulk_load

    result, expected = SizeResult(n), Expected()
    with throwaway_database(admin_url, f"jiayi_bench_contracting_{n}") as url:
        db = SqlDatabase(url)
        db.upgrade()
        db.dispose()
        t0 = time.perf_counter()
        stream = [*network(), *definitions()]
        result.loaded = bulk_load(url, iter(stream), workers=2)
        result.loaded += bulk_load(url, residents(n, expected), workers=2)
        result.load_seconds = time.perf_counter() - t0
        settings = Settings(database_url=url, auth="off")
        components = build_components(settings)
        repo = FhirRepository(
            RequestContext("http://localhost/fhir", system_name="bench"), components
        )

        def op(path: str, **query: str) -> Callable[[], dict[str, Any]]:
            def call() -> dict[str, Any]:
                response = dispatch(repo, FhirRequest("GET", path, query=list(query.items())))
                assert response.status == 200, response.resource
                return response.resource  # type: ignore[no-any-return]

            return call

        baseline = _sql_rows(url, expected.rows)
        team_rows = {
            t: [i for i in ids if int(i.lstrip("cpr")[:6]) % TEAMS == 0]
            for t, ids in expected.rows.items()
            if t in ("Contract", "CarePlan")
        }
        contract_rows = {"Contract": ["c000001"], "CarePlan": ["cp000001"]}
        base_all, _ = _timed(baseline, repeat)
        base_team, _ = _timed(_sql_rows(url, team_rows), repeat)
        base_one, _ = _timed(_sql_rows(url, contract_rows), repeat)
        contracts_only = {"Contract": expected.rows["Contract"]}
        base_contracts, _ = _timed(_sql_rows(url, contracts_only), repeat)
        day = ON.isoformat()
        cases = [
            ("Organization/bench-org/$fulfillment", {"date": day}, base_all, f"{n} contracts"),
            ("CareTeam/bench-team-00/$fulfillment", {"date": day}, base_team,
             f"{expected.team_contracts} contracts (baseline: their Contracts and CarePlans)"),
            ("Contract/c000001/$fulfillment", {"date": day}, base_one,
             "one contract (baseline: its Contract and CarePlan)"),
            ("Organization/bench-org/$signing-report",
             {"periodStart": "2026-01-01", "periodEnd": day}, base_contracts,
             f"{n} contracts, {ROLES} doctors (baseline: the Contracts)"),
        ]  # fmt: skip
        try:
            for path, query, base, note in cases:
                seconds, answer = _timed(op(path, **query), repeat)
                result.timings.append(Timing(path, seconds, base, note))
                if path.startswith("Organization") and "fulfillment" in path:
                    result.checks.append(_check_fulfilment(answer, expected))
                if "signing-report" in path:
                    panel = next(p for p in answer["parameter"] if p["name"] == "panelSize")
                    ok = panel["valueInteger"] == n
                    result.checks.append(
                        f"signing report panel {panel['valueInteger']} of {n}: "
                        + ("ok" if ok else "WRONG")
                    )
        finally:
            components.database.dispose()
    return result


def _check_fulfilment(answer: dict[str, Any], expected: Expected) -> str:
    rate, acts = _fulfilment_answer(answer)
    wrong = [
        f"{code}: due {acts.get(code, {}).get('due')} (want {expected.due[code]}), "
        f"done {acts.get(code, {}).get('done')} (want {expected.done[code]})"
        for code in expected.due
        if acts.get(code, {}).get("due") != expected.due[code]
        or acts.get(code, {}).get("done") != expected.done[code]
    ]
    if wrong:
        return "fulfilment WRONG: " + "; ".join(wrong)
    return f"fulfilment counts exact (rate {rate}, {sum(expected.done.values())} services done)"


def table(results: list[SizeResult]) -> str:
    lines = [
        "| contracts | operation | best s | median s | baseline s (plain SQL, same rows) "
        "| ratio (best ÷ baseline) | note |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for t in r.timings:
            lines.append(
                f"| {r.contracts} | `{t.name}` | {t.best:.3f} | {t.median:.3f} | {t.base:.4f} "
                f"| {t.best / t.base:.0f}× | {t.note} |"
            )
    return "\n".join(lines)


def section(results: list[SizeResult], command: str) -> str:
    checks = "\n".join(f"- {r.contracts}: {c}" for r in results for c in r.checks)
    loads = ", ".join(
        f"{r.loaded} resources in {r.load_seconds:.0f} s for {r.contracts}" for r in results
    )
    return f"""{BEGIN}
## Contracting: `$fulfillment` and `$signing-report` at scale (issue 6)

`{command}` on {platform.node() or "this machine"} (Python {platform.python_version()},
PostgreSQL; the machine shared with other work, so the baseline is measured in the same run on the
same database).  Loaded with `tools.bulk_load` ({loads}): one institution, {TEAMS} teams, {ROLES}
doctors, and per resident a Contract, a CarePlan of 17 deadlines (4 follow-ups, 12 reminders, a
health check) and a partial year of care (0–3 follow-up Encounters, half coded clinically only,
each with an Observation taken at it; 0–12 reminders; a declined check for one in five).  Each
operation runs through the router as an HTTP request would; the baseline reads the same rows by
plain SQL (`SELECT content … WHERE res_id = ANY(…)`), the floor for anything that reads them.

{table(results)}

Checks:
{checks}

The services read in batches (`domain/fulfilment/service.py`): contracts in chunks of 100, their
CarePlans by one `CarePlan?contract=a,b,…`, the members' records by one `<Type>?patient=a,b,…` per
type, the ActivityDefinitions once; `$signing-report` reads the signing doctors' roles by one
`PractitionerRole?_id=…` per 100.  Before (one CarePlan search per member and five record searches
per plan, one read per doctor) the cost grew with six searches per contract.
{END}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contracting")
    parser.add_argument("--contracts", default="10000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results = [run_size(args.database_url, int(n), args.repeat) for n in args.contracts.split(",")]
    print(table(results))
    for r in results:
        for c in r.checks:
            print(f"{r.contracts}: {c}")
    if not args.no_write:
        command = "python -m benchmarks.contracting " + " ".join(argv or sys.argv[1:])
        replace_section(args.results, section(results, command.strip()), BEGIN, END)
    return 0 if all("WRONG" not in c for r in results for c in r.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
