"""`python -m benchmarks.generator --residents N`: how fast `jiayi generate` fills PostgreSQL
(issue 10: at least 5 000 resources/s, 1 000 000 residents within 30 minutes, resumable).

In one run, on throw-away databases migrated by `jiayi db upgrade`:

1. the population of N residents (city 440100, seed 1) is generated once into memory (generation
   alone is timed too);
2. baseline: the same resources written with plain `COPY` into `resource` and `resource_history`
   only — no search-index rows, no extraction — the floor any loader pays on this machine;
3. Jiayi: `fhir_server.generator.output.copy_load`, what `jiayi generate --database-url` runs
   (worker processes extract and COPY the resource, history and every search-index row the API
   would write, each committing its own batches; into an empty database the secondary indexes
   are dropped first and rebuilt after; `VACUUM ANALYZE` at the end).  Its CPU time (this
   process and its workers, not PostgreSQL's) per resource is reported too: unlike the rate, it
   hardly depends on what else the machine runs;
4. resume: `jiayi generate` in a subprocess is killed (SIGKILL) once about half of a population is
   stored, then run again; the database must then hold exactly the whole population;
5. its section of `benchmarks/RESULTS.md` is written between the `generator` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

from benchmarks.rest_core import (
    DEFAULT_ADMIN_URL,
    jiayi_command,
    libpq_url,
    migrate,
    throwaway_database,
)
from benchmarks.results_file import markers, replace_section
from fhir_server.generator.generate import Plan, generate
from fhir_server.generator.output import copy_load, stored_prefix
from fhir_server.tools.bulk_load import stamp

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
BEGIN, END = markers("generator")
ON = date(2026, 11, 23)
TARGET = 5000  # resources/s


def raw_copy(url: str, resources: list[dict[str, Any]]) -> float:
    """Seconds to COPY the resources into `resource` and `resource_history` only."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        for table, extra in (("resource", ()), ("resource_history", ("POST",))):
            cols = (
                "res_type, res_id, version_id, last_updated, "
                + ("method, " if extra else "")
                + "deleted, content"
            )
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                for r in resources:
                    body = orjson.dumps(stamp(r, now)).decode()
                    cp.write_row((r["resourceType"], r["id"], 1, now, *extra, False, body))
        conn.commit()
    return time.perf_counter() - started


def resume_check(admin_url: str, residents: int) -> str:
    plan = Plan(residents, "440300", 2, ON)
    expected = sum(1 for _ in generate(plan))
    with throwaway_database(admin_url, "jiayi_bench_gen_resume") as url:
        migrate(url)
        args = [*jiayi_command(), "generate", "--residents", str(residents), "--city", "440300",
                "--seed", "2", "--date", ON.isoformat(), "--database-url", url]  # fmt: skip
        first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_at = 0
        while first.poll() is None:
            killed_at = stored_prefix(url, plan.prefix)
            if killed_at >= expected // 2:
                first.send_signal(signal.SIGKILL)
                break
            time.sleep(0.5)
        first.wait()
        second = subprocess.run(args, capture_output=True, text=True, timeout=3600)
        stored = stored_prefix(url, plan.prefix)
    ok = stored == expected and second.returncode == 0
    return (
        f"resume: killed at {killed_at:,} of {expected:,} resources, the second run "
        f"{'resumed' if 'resumed' in second.stdout else 'started over'}; stored {stored:,} "
        f"of {expected:,}: {'ok' if ok else 'FAILED'}"
    )


def run(admin_url: str, residents: int, workers: int) -> dict[str, Any]:
    plan = Plan(residents, "440100", 1, ON)
    started = time.perf_counter()
    resources = list(generate(plan))
    generated = time.perf_counter() - started
    with throwaway_database(admin_url, "jiayi_bench_gen_base") as url:
        migrate(url)
        baseline = raw_copy(url, resources)
    with throwaway_database(admin_url, "jiayi_bench_gen") as url:
        migrate(url)
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        skipped, written = copy_load(url, lambda: iter(resources), plan.prefix, workers=workers)
        loaded = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_before
        with psycopg.connect(libpq_url(url)) as conn:
            rows = conn.execute(
                "SELECT (SELECT count(*) FROM search_token) + (SELECT count(*) FROM search_string)"
                " + (SELECT count(*) FROM search_reference) + (SELECT count(*) FROM search_date)"
            ).fetchone()[0]  # type: ignore[index]
    assert skipped == 0 and written == len(resources)
    return {
        "residents": residents,
        "resources": len(resources),
        "generated": len(resources) / generated,
        "jiayi": len(resources) / loaded,
        "baseline": len(resources) / baseline,
        "index_rows": rows,
        "minutes_1m": loaded / residents * 1_000_000 / 60,
        "cpu_ms": cpu / len(resources) * 1000,
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the loader's workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def markdown(result: dict[str, Any], resume: str, command: str, workers: int) -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    met = "met" if result["jiayi"] >= TARGET else "not met"
    r = result
    return "\n".join([
        BEGIN,
        "# Benchmark results: population generator (issue 10)",
        "",
        "`jiayi generate --database-url postgresql…` (worker processes COPY resources, history "
        "and every search-index row the API would write, each committing its own batches; "
        "secondary indexes dropped and rebuilt around a load into an empty database; `VACUUM "
        "ANALYZE` included) against plain COPY of the same resources into `resource` + "
        "`resource_history` only, in the same run.  Loader CPU: this process and its workers "
        "(not PostgreSQL's), per resource.",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; git {head}",
        f"- machine: nproc {os.cpu_count()}; {platform.platform()}; Python "
        f"{platform.python_version()}; extraction workers {workers}",
        f"- 1-minute load average at the end: {os.getloadavg()[0]:.1f}",
        "",
        "| residents | resources | index rows | generation res/s | Jiayi load res/s | "
        "baseline COPY res/s | ratio | loader CPU ms/res | target ≥ 5 000 res/s | "
        "projected 1 000 000 residents |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        f"| {r['residents']:,} | {r['resources']:,} | {r['index_rows']:,} | "
        f"{r['generated']:,.0f} | {r['jiayi']:,.0f} | {r['baseline']:,.0f} | "
        f"{r['jiayi'] / r['baseline']:.1%} | {r['cpu_ms']:.2f} | {met} | "
        f"{r['minutes_1m']:,.0f} min |",
        "",
        f"- {resume}",
        END,
    ]) + "\n"  # fmt: skip


def write_results(path: Path, section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (between its markers), or append it."""
    replace_section(path, section, BEGIN, END)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generator", description=__doc__)
    parser.add_argument("--residents", type=int, default=20000)
    parser.add_argument("--resume-residents", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL admin URL")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.database_url, args.residents, args.workers)
    print(result, flush=True)
    resume = resume_check(args.database_url, args.resume_residents)
    print(resume, flush=True)
    if not args.no_results:
        command = "python -m benchmarks.generator " + " ".join(argv or sys.argv[1:])
        write_results(args.results, markdown(result, resume, command.strip(), args.workers))
        print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
