"""Search benchmark: `python -m benchmarks search [--sizes 100000,1000000] [--keep | --reuse]`.

Data: the shared synthetic-population generator (`fhir_server.generator.generate(Plan)`:
Guangzhou residents with Chinese names, households, Conditions by ICD-10, Flags, providers with
Organizations, Locations with positions, Practitioners, PractitionerRoles, CareTeams), plus — for
each generated Patient — the family-doctor activity the search scenarios need and the generator
does not (yet) make: Encounters, Observations (blood pressure, glucose, weight), a Contract with
its CarePlan for about half of the residents, health-push Communications and referral
ServiceRequests.  Everything is deterministic (seeded), and the stream is cut at N resources.
It is loaded into a PostgreSQL database per size with the COPY bulk loader
(`fhir_server/tools/bulk_load.py`, the server's search registry, the rows the API would write),
with a progress bar.

Measurement: p50/p95 of each scenario through `execute_search` (parse, SQL, row fetch,
includes — what a request costs below HTTP) with `_count=20`, after a warm-up, alternating the
scenarios; `EXPLAIN (ANALYZE, BUFFERS)` of the query the engine actually ran for each; then one
Markdown table, sizes side by side, with the targets of issue 3 (at 1 M resources: p95 ≤ 50 ms for
single-parameter searches, ≤ 150 ms for chains and includes) — written into
benchmarks/RESULTS.md between the `search` markers (`--no-results` to skip).

`--keep` leaves the databases (`jiayi_bench_search_<N>`) in place; `--reuse` measures databases
an earlier `--keep` run loaded (after migrating them to head) instead of loading again.
Spec: http://hl7.org/fhir/R4/search.html.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from benchmarks.results_file import markers, replace_section
from fhir_server.generator.generate import Plan, generate
from fhir_server.search.params import parse_search
from fhir_server.search.registry import server_registry
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.search import execute_search, explain_search
from fhir_server.tools.bulk_load import bulk_load, libpq

from .rest_core import DEFAULT_ADMIN_URL, with_database

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = markers("search")
console = Console()

CITY = "440100"  # Guangzhou
ON = date(2026, 1, 1)
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD = "http://hl7.org/fhir/sid/icd-10"
SD = "https://jiayi.health/fhir/StructureDefinition"
CS = "https://jiayi.health/fhir/CodeSystem"
#: (LOINC code, display, UCUM unit, low, high)
MEASURES = [
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 95, 185),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 55, 115),
    ("2339-0", "Glucose", "mmol/L", 3.5, 16.0),
    ("29463-7", "Body weight", "kg", 35, 110),
]
TOPICS = ["hypertension-care", "diabetes-care", "elderly-care", "vaccination", "seasonal-health"]
CHANNELS = ["on-site", "online", "community-event", "home-visit"]


# -- data ------------------------------------------------------------------------------------------
@dataclass
class _Providers:
    organizations: list[str] = field(default_factory=list)
    practitioners: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)

    def note(self, res: dict[str, Any]) -> None:
        lists = {
            "Organization": self.organizations,
            "Practitioner": self.practitioners,
            "PractitionerRole": self.roles,
            "CareTeam": self.teams,
            "Location": self.locations,
        }
        if res["resourceType"] in lists:
            lists[res["resourceType"]].append(res["id"])


def _day(rng: random.Random, start: date, days: int) -> date:
    return start + timedelta(days=rng.randrange(days))


def activity(patient: dict[str, Any], providers: _Providers) -> Iterator[dict[str, Any]]:
    """Deterministic family-doctor activity of one generated Patient (ids `b-…`)."""
    pid = patient["id"]
    rng = random.Random(zlib.crc32(pid.encode()))
    subject = {"reference": f"Patient/{pid}"}
    pick = rng.choice
    doctor = pick(providers.practitioners) if providers.practitioners else None
    role = pick(providers.roles) if providers.roles else None
    org = pick(providers.organizations) if providers.organizations else None
    team = pick(providers.teams) if providers.teams else None
    location = pick(providers.locations) if providers.locations else None
    encounters = []
    for k in range(rng.choice((1, 1, 2))):
        start = datetime.combine(_day(rng, date(2024, 1, 1), 730), datetime.min.time())
        enc: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": f"b-e-{pid}-{k}",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "period": {
                "start": start.replace(hour=8 + rng.randrange(9)).isoformat() + "+08:00",
            },
        }
        if doctor:
            enc["participant"] = [{"individual": {"reference": f"Practitioner/{doctor}"}}]
        if org:
            enc["serviceProvider"] = {"reference": f"Organization/{org}"}
        if location:
            enc["location"] = [{"location": {"reference": f"Location/{location}"}}]
        encounters.append(enc)
        yield enc
    for k in range(rng.randint(2, 4)):
        code, display, unit, low, high = MEASURES[k % len(MEASURES)]
        enc = pick(encounters)
        value = round(rng.uniform(low, high), 1)
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"b-o-{pid}-{k}",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": subject,
            "encounter": {"reference": f"Encounter/{enc['id']}"},
            "effectiveDateTime": enc["period"]["start"],
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        if doctor:
            obs["performer"] = [{"reference": f"Practitioner/{doctor}"}]
        yield obs
    if rng.random() >= 0.5:
        return
    signed = _day(rng, date(2023, 1, 1), 1000)
    end = signed + timedelta(days=365 * rng.choice((1, 2, 3)))
    contract: dict[str, Any] = {
        "resourceType": "Contract",
        "id": f"b-k-{pid}",
        "status": "executed",
        "issued": f"{signed.isoformat()}T09:30:00+08:00",
        "applies": {"start": signed.isoformat(), "end": end.isoformat()},
        "subject": [subject],
        "extension": [
            {
                "url": f"{SD}/signing-channel",
                "valueCodeableConcept": {
                    "coding": [{"system": f"{CS}/signing-channel", "code": pick(CHANNELS)}]
                },
            }
        ],
    }
    if team:
        contract["extension"].append(
            {"url": f"{SD}/contract-care-team", "valueReference": {"reference": f"CareTeam/{team}"}}
        )
    if org:
        contract["authority"] = [{"reference": f"Organization/{org}"}]
    if role:
        contract["signer"] = [
            {
                "type": {"code": "SELF"},
                "party": {"reference": f"PractitionerRole/{role}"},
                "signature": [
                    {
                        "type": [
                            {
                                "system": "urn:iso-astm:E1762-95:2013",
                                "code": "1.2.840.10065.1.12.1.1",
                            }
                        ],
                        "when": f"{signed.isoformat()}T09:30:00+08:00",
                        "who": {"reference": f"PractitionerRole/{role}"},
                    }
                ],
            }
        ]
    yield contract
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"b-cp-{pid}",
        "status": "active",
        "intent": "plan",
        "subject": subject,
        "period": contract["applies"],
        "instantiatesCanonical": ["https://jiayi.health/fhir/PlanDefinition/basic-public-health"],
        "supportingInfo": [{"reference": f"Contract/{contract['id']}"}],
    }
    if team:
        plan["careTeam"] = [{"reference": f"CareTeam/{team}"}]
    yield plan
    if rng.random() < 0.8:
        yield {
            "resourceType": "Communication",
            "id": f"b-com-{pid}",
            "status": "completed",
            "basedOn": [{"reference": f"CarePlan/{plan['id']}"}],
            "category": [{"coding": [{"system": f"{CS}/push-topic", "code": pick(TOPICS)}]}],
            "subject": subject,
            "recipient": [subject],
            "sent": f"{_day(rng, date(2025, 1, 1), 360).isoformat()}T08:00:00+08:00",
            "payload": [{"contentString": "请按时测量血压，规律服药。"}],
        }
    if rng.random() < 0.25:
        sr: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": f"b-sr-{pid}",
            "status": "active",
            "intent": "order",
            "category": [{"coding": [{"system": f"{CS}/referral-direction", "code": "up"}]}],
            "subject": subject,
            "authoredOn": _day(rng, date(2025, 1, 1), 360).isoformat(),
            "supportingInfo": [{"reference": f"Contract/{contract['id']}"}],
        }
        if role:
            sr["requester"] = {"reference": f"PractitionerRole/{role}"}
        yield sr


def population(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """The first `n` resources of the generator's stream with each Patient's activity after it."""

    def stream() -> Iterator[dict[str, Any]]:
        providers = _Providers()
        for res in generate(Plan(residents=max(100, n // 7), city=CITY, seed=seed, on=ON)):
            providers.note(res)
            yield res
            if res["resourceType"] == "Patient":
                yield from activity(res, providers)

    return islice(stream(), n)


# -- scenarios -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    resource_type: str
    query: tuple[tuple[str, str], ...]
    kind: str  # "single" (target p95 ≤ 50 ms at 1 M) or "chain" (≤ 150 ms)


SCENARIOS = [
    Scenario("token: Observation?code", "Observation", (("code", f"{LOINC}|8480-6"),), "single"),
    Scenario(
        "token: Patient?identifier (1 match)",
        "Patient",
        (("identifier", "urn:oid:2.16.156.10011.1.3|{identifier}"),),
        "single",
    ),
    Scenario(
        "token or-list: Observation?code=a,b,c",
        "Observation",
        (("code", f"{LOINC}|2339-0,{LOINC}|29463-7,{LOINC}|0000-0"),),
        "single",
    ),
    Scenario("string prefix: Patient?name=wang", "Patient", (("name", "wang"),), "single"),
    Scenario("string prefix: Patient?name=陈", "Patient", (("name", "陈"),), "single"),
    Scenario(
        "date range: Observation?date (2 weeks)",
        "Observation",
        (("date", "ge2025-03-01"), ("date", "lt2025-03-15")),
        "single",
    ),
    Scenario(
        "chain (2 levels): Observation?encounter.subject:Patient.name",
        "Observation",
        (("encounter.subject:Patient.name", "zhang"),),
        "chain",
    ),
    Scenario(
        "_has: Patient?_has:Condition:subject:code",
        "Patient",
        (("_has:Condition:subject:code", f"{ICD}|I10"),),
        "chain",
    ),
    Scenario(
        "_include: Contract?status&_include=Contract:subject",
        "Contract",
        (("status", "executed"), ("_include", "Contract:subject")),
        "chain",
    ),
    Scenario(
        "_revinclude: Patient?name&_revinclude=Observation:subject",
        "Patient",
        (("name", "li"), ("_revinclude", "Observation:subject")),
        "chain",
    ),
    Scenario("near: Location?near (5 km)", "Location", (("near", "23.13|113.26|5|km"),), "single"),
    Scenario(
        "_sort: Patient?_sort=birthdate (page 1)", "Patient", (("_sort", "birthdate"),), "single"
    ),
]
WALK = Scenario(
    "_sort walk: 10 pages of Patient?_sort=birthdate",
    "Patient",
    (("_sort", "birthdate"),),
    "single",
)


@dataclass
class Measured:
    name: str
    kind: str
    p50: float
    p95: float
    matches: int
    plan: list[str]


@dataclass
class SizeResult:
    resources: int
    load_seconds: float | None
    rows: dict[str, int]
    measured: list[Measured]
    repeats: int


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _fill(db: SqlDatabase, scenario: Scenario) -> list[tuple[str, str]]:
    """The scenario's query with placeholders filled from the data (a real identifier)."""
    if not any("{identifier}" in v for _, v in scenario.query):
        return list(scenario.query)
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT code FROM search_token WHERE res_type = 'Patient' AND param = 'identifier' "
            "AND system = 'urn:oid:2.16.156.10011.1.3' ORDER BY res_id DESC LIMIT 1"
        ).scalar_one()
    return [(k, v.replace("{identifier}", row)) for k, v in scenario.query]


def _search(db: SqlDatabase, rtype: str, query: list[tuple[str, str]]) -> tuple[float, Any]:
    assert db.registry is not None
    start = time.perf_counter()
    with db.unit_of_work(write=False) as uow:
        result = execute_search(
            uow.connection, db.dialect, db.registry, rtype, [*query, ("_count", "20")]
        )
    return (time.perf_counter() - start) * 1000, result


def _walk(db: SqlDatabase, query: list[tuple[str, str]]) -> float:
    """Mean time per page of a 10-page keyset walk."""
    cursor: str | None = None
    start = time.perf_counter()
    for _page in range(10):
        extra = [("_cursor", cursor)] if cursor else []
        _, result = _search(db, WALK.resource_type, [*query, *extra])
        cursor = result.next_cursor
        if cursor is None:
            break
    return (time.perf_counter() - start) * 1000 / 10


def _plan(db: SqlDatabase, rtype: str, query: list[tuple[str, str]]) -> list[str]:
    assert db.registry is not None
    with db.unit_of_work(write=False) as uow:
        request = parse_search(db.registry, [rtype], [*query, ("_count", "20")], default_count=20)
        return explain_search(uow.connection, db.dialect, request, analyze=True)


def measure(db: SqlDatabase, repeats: int) -> list[Measured]:
    queries = {s.name: _fill(db, s) for s in SCENARIOS}
    samples: dict[str, list[float]] = {s.name: [] for s in [*SCENARIOS, WALK]}
    found: dict[str, int] = {}
    for s in SCENARIOS:  # warm-up (caches, prepared plans)
        _search(db, s.resource_type, queries[s.name])
    _walk(db, list(WALK.query))
    with Progress(
        TextColumn("measuring"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task("", total=repeats)
        for _ in range(repeats):  # rounds over every scenario: noise hits them alike
            for s in SCENARIOS:
                ms, result = _search(db, s.resource_type, queries[s.name])
                samples[s.name].append(ms)
                found[s.name] = len(result.matches) + len(result.includes)
            samples[WALK.name].append(_walk(db, list(WALK.query)))
            bar.advance(task)
    out = []
    for s in [*SCENARIOS, WALK]:
        query = queries.get(s.name, list(s.query))
        out.append(
            Measured(
                s.name,
                s.kind,
                _pct(samples[s.name], 0.5),
                _pct(samples[s.name], 0.95),
                found.get(s.name, 20),
                _plan(db, s.resource_type, query),
            )
        )
    return out


def table_rows(url: str) -> dict[str, int]:
    """Row counts of the resource and index tables (planner estimates: cheap at 1 M)."""
    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' AND "
            "(relname = 'resource' OR relname LIKE 'search\\_%') ORDER BY relname"
        ).fetchall()
    return {name: int(n) for name, n in rows}


# -- running ---------------------------------------------------------------------------------------
DEFAULT_PREFIX = "jiayi_bench_search_"


def database_name(n: int, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}{n}"


@contextmanager
def bench_database(
    admin_url: str, n: int, *, reuse: bool, keep: bool, prefix: str = DEFAULT_PREFIX
) -> Iterator[str]:
    admin = libpq(admin_url)
    ident = sql.Identifier(database_name(n, prefix))
    if not reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield with_database(admin_url, database_name(n, prefix))
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def load(url: str, n: int, workers: int) -> tuple[int, float]:
    start = time.perf_counter()
    with Progress(
        TextColumn(f"loading {n:,} resources"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=n, rate="–")

        def progress(k: int) -> None:
            bar.advance(task, k)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(1e-9, time.perf_counter() - start):,.0f}")

        written = bulk_load(url, population(n), workers=workers, batch=1000, progress=progress)
    return written, time.perf_counter() - start


def run_size(args: argparse.Namespace, n: int) -> SizeResult:
    with bench_database(
        args.database_url, n, reuse=args.reuse, keep=args.keep, prefix=args.db_prefix
    ) as url:
        db = SqlDatabase(url, registry=server_registry())
        db.upgrade()
        load_s: float | None = None
        if not args.reuse:
            written, load_s = load(url, n, args.workers)
            console.print(f"loaded {written:,} resources in {load_s:,.0f} s")
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        rows = table_rows(url)
        with psycopg.connect(libpq(url)) as conn:  # what is there (a load may have been cut short)
            present = int(conn.execute("SELECT count(*) FROM resource").fetchone()[0])
        measured = measure(db, args.repeats)
        db.dispose()
    return SizeResult(present, load_s, rows, measured, args.repeats)


def _target(kind: str) -> float:
    return 50.0 if kind == "single" else 150.0


def report(results: list[SizeResult], command: str, note: str = "") -> str:
    sizes = [r.resources for r in results]
    head = " | ".join(f"{n:,} p50 / p95 ms" for n in sizes)
    largest = results[-1]
    lines = [
        BEGIN,
        "## Search",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; PostgreSQL; 2 cores shared with other work",
        "- data: the synthetic-population generator (Guangzhou, seed 1) plus each resident's "
        "encounters, observations, contract, care plan, pushes and referrals "
        "(`benchmarks/search.py`), loaded with the COPY bulk loader",
    ]
    for r in results:
        loaded = (
            f"loaded in {r.load_seconds:,.0f} s" if r.load_seconds else "loaded earlier (--reuse)"
        )
        mix = ", ".join(f"{k} {v:,}" for k, v in r.rows.items() if v)
        lines.append(f"- {r.resources:,} resources, {loaded}; rows: {mix}")
    lines += [
        "- each scenario through `execute_search` (parse, SQL, rows, includes) with `_count=20`; "
        f"{results[0].repeats} rounds over all scenarios after a warm-up; the walk row is the "
        "mean per page of a 10-page keyset walk",
        f"- targets at the largest size ({largest.resources:,}): single-parameter p95 ≤ 50 ms, "
        "chains and includes p95 ≤ 150 ms",
        *([f"- note: {note}"] if note else []),
        "",
        f"| scenario | {head} | ratio p95 | target | met |",
        "|---|" + "---:|" * len(sizes) + "---:|---|---|",
    ]
    by_name = [{m.name: m for m in r.measured} for r in results]
    for m in largest.measured:
        cells = " | ".join(f"{b[m.name].p50:.1f} / {b[m.name].p95:.1f}" for b in by_name)
        ratio = m.p95 / by_name[0][m.name].p95 if len(results) > 1 and by_name[0][m.name].p95 else 1
        target = _target(m.kind)
        met = "met" if m.p95 <= target else "**missed**"
        lines.append(f"| {m.name} | {cells} | ×{ratio:.1f} | ≤ {target:.0f} ms | {met} |")
    lines += [
        "",
        f"ratio p95 = p95 at {sizes[-1]:,} ÷ p95 at {sizes[0]:,} (data ×{sizes[-1] // sizes[0]}).",
        "",
        f"<details><summary>EXPLAIN (ANALYZE, BUFFERS) per scenario at {largest.resources:,}</summary>",
        "",
    ]
    for m in largest.measured:
        lines += [f"**{m.name}**", "", "```", *m.plan[:60], "```", ""]
    lines += ["</details>", END]
    return "\n".join(lines)


def write_results(text: str, path: Path = RESULTS) -> None:
    """Replace the search section of RESULTS.md (between the markers), or append it."""
    replace_section(path, text, BEGIN, END)


def save_raw(results: Iterable[SizeResult], path: Path) -> None:
    path.write_text(
        json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks search")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated resource counts")
    parser.add_argument("--repeats", type=int, default=40, help="measurement rounds")
    parser.add_argument("--workers", type=int, default=2, help="index-extraction processes")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument(
        "--db-prefix", default=DEFAULT_PREFIX, help="database name prefix (the size is appended)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure databases kept earlier")
    parser.add_argument(
        "--load-only", action="store_true", help="load (implies --keep), no measuring"
    )
    parser.add_argument("--raw", type=Path, default=None, help="also write the numbers as JSON")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--note", default="", help="a line for the report (e.g. what was not run)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.load_only:
        for n in sizes:
            with bench_database(
                args.database_url, n, reuse=False, keep=True, prefix=args.db_prefix
            ) as url:
                SqlDatabase(url, registry=server_registry()).upgrade()
                written, seconds = load(url, n, args.workers)
                console.print(
                    f"{database_name(n, args.db_prefix)}: {written:,} resources in {seconds:,.0f} s"
                )
        return 0
    results = [run_size(args, n) for n in sizes]
    command = "python -m benchmarks search " + " ".join(
        a
        for a in [
            f"--sizes {args.sizes}",
            f"--repeats {args.repeats}",
            "--reuse" if args.reuse else "",
        ]
        if a
    )
    text = report(results, command, args.note)
    print(text)
    if args.raw:
        save_raw(results, args.raw)
    if not args.no_results:
        write_results(text)
    return 0
