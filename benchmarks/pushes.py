"""`python -m benchmarks.pushes --residents N[,M…]`: a year of health pushes for N contracted residents
on PostgreSQL (issue 7: 1 000 000 residents within 30 minutes, with a progress bar, resumable).

For each N:

1. creates a throw-away database, migrates it, and loads N residents with
   `fhir_server.tools.bulk_load` (COPY, the search-index rows the API would write): a Patient with
   a GB/T 2260 division and a phone, an executed Contract (2026-01-01 … 2026-12-31, signing
   doctor, team), the CarePlan, and for a share of them hypertension, pregnancy, a BMI, an SMS
   opt-out in the guide's Consent form or an opt-out of every channel;
2. runs the real job as an operator would, `jiayi jobs run pushes --date D [--workers W]` in a subprocess (the
   app inbox as channel, `JIAYI_PUSH_INBOX_DIR`), on the 1st of each month of the contract year —
   the first run also takes in the N contracts and plans N contract years;
3. interrupts one monthly run (`--interrupt-month`, default the 6th) with SIGKILL once about half
   of its pushes are written, and runs it again, which resumes;
4. checks the outcome — exactly N × months pushes, one per resident and month, every resident's
   inbox holding each of its pushes once (sampled) — and reports seconds and pushes/s per run;
5. writes its section of `benchmarks/RESULTS.md` (between the `pushes` markers; the other
   sections are left as they are).

The baseline of the ratio is the bulk loader writing the residents in the same run: the job's
pushes/s against the loader's resources/s on the same database and machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.rest_core import DEFAULT_ADMIN_URL, jiayi_command, libpq_url, throwaway_database
from benchmarks.results_file import markers, replace_section
from fhir_server.domain.pushes.rules import add_months

START = date(2026, 1, 1)
DIV = "https://jiayi.health/fhir/StructureDefinition/division-code"
TEAM = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"
CONSENT_CHANNEL = "https://jiayi.health/fhir/StructureDefinition/consent-channel"
DISTRICTS = ["440103", "440104", "440106", "440111", "440303", "440305", "440306", "440604"]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = markers("pushes")
REPO = Path(__file__).resolve().parents[1]


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def resident_resources(i: int, rng: random.Random) -> list[dict[str, Any]]:
    pid, cid = f"r{i:07d}", f"c{i:07d}"
    end = (add_months(START, 12) - timedelta(days=1)).isoformat()
    age = rng.choice([3, 25, 30, 34, 45, 52, 61, 68, 75])
    gender = rng.choice(["male", "female"])
    team = f"CareTeam/t{i % 500:03d}"
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": pid,
            "birthDate": f"{START.year - age}-06-15",
            "gender": gender,
            "telecom": [{"system": "phone", "value": f"138{i:08d}"}],
            "address": [{"extension": [{"url": DIV, "valueCode": rng.choice(DISTRICTS)}]}],
        },
        {
            "resourceType": "Contract",
            "id": cid,
            "status": "executed",
            "extension": [{"url": TEAM, "valueReference": {"reference": team}}],
            "subject": [{"reference": f"Patient/{pid}"}],
            "authority": [{"reference": f"Organization/o{i % 50:02d}"}],
            "signer": [
                {
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                        "code": "AUT",
                    },
                    "party": {"reference": f"PractitionerRole/d{i % 2000:04d}"},
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                }
                            ],
                            "when": "2025-12-20T10:00:00+08:00",
                            "who": {"reference": f"PractitionerRole/d{i % 2000:04d}"},
                        }
                    ],
                }
            ],
            "applies": {"start": START.isoformat(), "end": end},
        },
        {
            "resourceType": "CarePlan",
            "id": f"cp{i:07d}",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{pid}"},
            "careTeam": [{"reference": team}],
            "period": {"start": START.isoformat(), "end": end},
            "supportingInfo": [{"reference": f"Contract/{cid}"}],
        },
    ]
    roll = rng.random()
    icd = None
    if roll < 0.2:
        icd = "I10"
    elif roll < 0.25 and gender == "female" and 25 <= age <= 34:
        icd = "Z34.001"
    if icd:
        out.append(
            {
                "resourceType": "Condition",
                "id": f"h{i:07d}",
                "subject": {"reference": f"Patient/{pid}"},
                "clinicalStatus": _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
                ),
                "code": _coding("http://hl7.org/fhir/sid/icd-10", icd),
            }
        )
    if rng.random() < 0.3:
        out.append(
            {
                "resourceType": "Observation",
                "id": f"b{i:07d}",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
                "code": _coding("http://loinc.org", "39156-5"),
                "effectiveDateTime": "2025-12-01",
                "valueQuantity": {"value": round(rng.uniform(18, 32), 1), "unit": "kg/m2"},
            }
        )
    consent = rng.random()
    if consent < 0.03:  # the guide's form: permit, nested deny naming a channel
        channel = "sms" if consent < 0.02 else "other"
        provision = {
            "type": "permit",
            "provision": [
                {"type": "deny", "extension": [{"url": CONSENT_CHANNEL, "valueCode": channel}]}
            ],
        }
    elif consent < 0.04:  # every channel
        provision = {
            "type": "deny",
            "code": [_coding("https://jiayi.health/fhir/CodeSystem/push-channel", "all")],
        }
    else:
        provision = None
    if provision is not None:
        out.append(
            {
                "resourceType": "Consent",
                "id": f"k{i:07d}",
                "status": "active",
                "scope": _coding(
                    "http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"
                ),
                "category": [_coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "INFA")],
                "patient": {"reference": f"Patient/{pid}"},
                "policyRule": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"),
                "provision": provision,
            }
        )
    return out


def residents(n: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for i in range(n):
        yield from resident_resources(i, rng)


@dataclass
class RunResult:
    day: date
    seconds: float
    created: int
    note: str = ""


@dataclass
class SizeResult:
    residents: int
    months: int
    load_seconds: float = 0.0
    loaded: int = 0
    runs: list[RunResult] = field(default_factory=list)
    pushes: int = 0
    checks: list[str] = field(default_factory=list)
    database_bytes: int = 0

    @property
    def job_seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    @property
    def pushes_per_second(self) -> float:
        return self.pushes / self.job_seconds if self.job_seconds else 0.0

    @property
    def loader_per_second(self) -> float:
        return self.loaded / self.load_seconds if self.load_seconds else 0.0

    def minutes_for(self, residents: int, months: int = 12) -> float:
        return self.job_seconds / self.residents * residents * months / self.months / 60


def _count(url: str, sql: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def _job(url: str, inbox: Path, day: date, workers: int | None = None) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "JIAYI_DATABASE_URL": url,
        "JIAYI_PUSH_INBOX_DIR": str(inbox),
        "JIAYI_BACKGROUND_TASKS": "false",
    }
    return subprocess.Popen(
        [*jiayi_command(), "jobs", "run", "pushes", "--date", day.isoformat()]
        + (["--workers", str(workers)] if workers else []),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # the job's progress bar, when this runs on a terminal
        text=True,
    )


def _communications(url: str) -> int:
    return _count(url, "SELECT count(*) FROM resource WHERE res_type = 'Communication'")


def run_size(
    admin_url: str, n: int, months: int, interrupt_month: int | None, workers: int | None = None
) -> SizeResult:
    from rich.progress import Progress

    from fhir_server.storage.sql import SqlDatabase
    from fhir_server.tools.bulk_load import bulk_load

    result = SizeResult(n, months)
    with throwaway_database(admin_url, f"jiayi_bench_pushes_{n}") as url:
        db = SqlDatabase(url)
        db.upgrade()
        db.dispose()
        t0 = time.perf_counter()
        with Progress() as bar:
            task = bar.add_task(f"loading {n} residents", total=None)
            result.loaded = bulk_load(
                url, residents(n), workers=2, progress=lambda k: bar.advance(task, k)
            )
        result.load_seconds = time.perf_counter() - t0
        inbox = Path(tempfile.mkdtemp(prefix="jiayi-bench-inbox-"))
        before = 0
        for month in range(months):
            day = add_months(START, month)
            if interrupt_month is not None and month == interrupt_month - 1:
                t0 = time.perf_counter()
                proc = _job(url, inbox, day, workers)
                target = before + n // 2
                while proc.poll() is None and _communications(url) < target:
                    time.sleep(0.5)
                killed = proc.poll() is None
                if killed:
                    proc.send_signal(signal.SIGKILL)
                proc.wait()
                partial = _communications(url) - before
                result.runs.append(
                    RunResult(
                        day,
                        time.perf_counter() - t0,
                        partial,
                        "killed (SIGKILL)" if killed else "finished before the kill",
                    )
                )
                before += partial  # the run again counts only what it adds
            t0 = time.perf_counter()
            proc = _job(url, inbox, day, workers)
            out, _ = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"jiayi jobs run pushes --date {day} failed:\n{out}")
            now = _communications(url)
            note = "resumed" if "(resumed)" in out else ""
            result.runs.append(RunResult(day, time.perf_counter() - t0, now - before, note))
            print(out.strip(), flush=True)
            before = now
        result.pushes = before
        result.checks = _check(url, inbox, n, months)
        result.database_bytes = _count(url, "SELECT pg_database_size(current_database())")
    return result


def _check(url: str, inbox: Path, n: int, months: int) -> list[str]:
    import json

    checks = []
    pushes = _communications(url)
    checks.append(
        f"{pushes} push Communications for {n} residents × {months} months: "
        + ("exact" if pushes == n * months else f"EXPECTED {n * months}")
    )
    full = _count(
        url,
        f"SELECT count(*) FROM push_plan WHERE done = {(1 << months) - 1}",
    )
    checks.append(f"{full} of {n} year plans with every one of the {months} months created")
    sample = random.Random(1).sample(range(n), min(n, 1000))
    bad = 0
    for i in sample:
        path = inbox / f"r{i:07d}.ndjson"
        if not path.exists():
            continue  # opted out of the inbox
        ids = [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines()]
        bad += len(ids) != len(set(ids)) or len(ids) != months
    checks.append(
        f"inbox of {len(sample)} sampled residents: {bad} with a missing or repeated push"
    )
    return checks


def markdown(results: Sequence[SizeResult], command: str) -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    with psycopg.connect(libpq_url(DEFAULT_ADMIN_URL)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    lines = [
        BEGIN,
        "# Benchmark results: health pushes (issue 7)",
        "",
        "A year of pushes for N contracted residents on PostgreSQL: the real job, "
        "`jiayi jobs run pushes --date D` in a subprocess, on the 1st of each month of the "
        "contract year, delivering to the app inbox; one monthly run killed (SIGKILL) half-way "
        "and run again. Target: 1 000 000 residents' year within 30 minutes.",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: nproc {os.cpu_count()}; {platform.platform()}",
        f"- Python {platform.python_version()}, PostgreSQL {pg}, git {head}",
        f"- 1-minute load average at the end: {os.getloadavg()[0]:.1f}",
        "",
        "| residents | pushes | job s | pushes/s | loader resources/s (same run) | ratio | "
        "projected 1 000 000 × 12 months | database |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.residents:,} | {r.pushes:,} | {r.job_seconds:,.0f} | {r.pushes_per_second:,.0f} "
            f"| {r.loader_per_second:,.0f} | {r.pushes_per_second / r.loader_per_second:.0%} "
            f"| {r.minutes_for(1_000_000):,.0f} min | {r.database_bytes / 2**30:.1f} GiB |"
        )
    for r in results:
        lines += ["", f"## {r.residents:,} residents: runs", "", "| run date | s | pushes | note |"]
        lines.append("|---|---:|---:|---|")
        for run in r.runs:
            lines.append(f"| {run.day} | {run.seconds:,.1f} | {run.created:,} | {run.note} |")
        lines += ["", *[f"- {c}" for c in r.checks]]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    replace_section(path, section, BEGIN, END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pushes", description=__doc__)
    parser.add_argument("--residents", default="10000", help="comma-separated sizes")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--interrupt-month", type=int, default=6, help="0: no interruption")
    parser.add_argument(
        "--workers", type=int, default=None, help="the job's --workers (default: its own)"
    )
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in str(args.residents).split(",") if s]
    results = []
    for n in sizes:
        r = run_size(args.database_url, n, args.months, args.interrupt_month or None, args.workers)
        results.append(r)
        print(
            f"{n} residents: {r.pushes} pushes in {r.job_seconds:.0f} s "
            f"({r.pushes_per_second:.0f}/s; 1M × 12 months ≈ {r.minutes_for(1_000_000):.0f} min)",
            *r.checks,
            sep="\n  ",
            flush=True,
        )
    if not args.no_results:
        command = "python -m benchmarks.pushes " + " ".join(argv or sys.argv[1:])
        write_results(args.results, markdown(results, command.strip()))
        print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
