"""Search benchmark: `python -m benchmarks search [--resources N] [--million]`.

Loads N resources (default 100 000) of a realistic family-doctor mix — Patients with Chinese
names, Practitioners, Organizations, Locations with positions around Guangzhou, Observations,
Encounters, Conditions (ICD-10), CarePlans, Contracts, Communications, ServiceRequests — into a
throwaway PostgreSQL database with the COPY bulk loader (`fhir_server/tools/bulk_load.py`), then
measures p50/p95 of the issue's search scenarios through `execute_search` (parse + SQL + includes)
with `_count=20`, records `EXPLAIN` for each, prints a table and appends it to
benchmarks/RESULTS.md under "Search".  Spec: http://hl7.org/fhir/R4/search.html.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir_server.search.registry import r4_registry
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.search import execute_search
from fhir_server.tools.bulk_load import bulk_load

from .rest_core import DEFAULT_ADMIN_URL, throwaway_database

RESULTS = Path(__file__).with_name("RESULTS.md")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国志强文华海燕"
ICD = ["I10.x00", "I11.9", "E11.9", "J44.9", "A15.0", "F20.9", "Z34.0", "K29.7", "M54.5", "J06.9"]
LOINC = [("8480-6", "mm[Hg]", 90, 180), ("8462-4", "mm[Hg]", 50, 110), ("2339-0", "mmol/L", 3, 15)]
MIX = [  # (type, share of N)
    ("Patient", 0.25),
    ("Practitioner", 0.01),
    ("Organization", 0.005),
    ("Location", 0.005),
    ("Observation", 0.30),
    ("Encounter", 0.12),
    ("Condition", 0.10),
    ("CarePlan", 0.04),
    ("Contract", 0.07),
    ("Communication", 0.06),
    ("ServiceRequest", 0.04),
]


def _date(rng: random.Random, start: int, end: int) -> str:
    return f"{rng.randint(start, end)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def generate(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Deterministic resources; references point at resources generated earlier or later."""
    rng = random.Random(seed)
    counts = {t: max(1, int(n * share)) for t, share in MIX}
    pats, docs, orgs = counts["Patient"], counts["Practitioner"], counts["Organization"]
    for i in range(orgs):
        yield {
            "resourceType": "Organization",
            "id": f"org{i}",
            "name": f"社区卫生服务中心{i}",
            "active": True,
        }
    for i in range(docs):
        yield {
            "resourceType": "Practitioner",
            "id": f"doc{i}",
            "name": [{"family": rng.choice(SURNAMES), "given": [rng.choice(GIVEN)]}],
        }
    for i in range(counts["Location"]):
        yield {
            "resourceType": "Location",
            "id": f"loc{i}",
            "name": f"服务站{i}",
            "position": {
                "latitude": 23.13 + rng.uniform(-0.5, 0.5),
                "longitude": 113.26 + rng.uniform(-0.5, 0.5),
            },
            "managingOrganization": {"reference": f"Organization/org{i % orgs}"},
        }
    for i in range(pats):
        yield {
            "resourceType": "Patient",
            "id": f"pat{i}",
            "identifier": [{"system": "urn:oid:2.16.156.10011.1.2", "value": f"HR{i:09d}"}],
            "name": [
                {"family": rng.choice(SURNAMES), "given": [rng.choice(GIVEN) + rng.choice(GIVEN)]}
            ],
            "gender": rng.choice(["male", "female"]),
            "birthDate": _date(rng, 1930, 2023),
            "generalPractitioner": [{"reference": f"Practitioner/doc{rng.randrange(docs)}"}],
            "managingOrganization": {"reference": f"Organization/org{rng.randrange(orgs)}"},
        }

    def pat() -> str:
        return f"Patient/pat{rng.randrange(pats)}"

    for i in range(counts["Encounter"]):
        yield {
            "resourceType": "Encounter",
            "id": f"enc{i}",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": pat()},
            "participant": [
                {"individual": {"reference": f"Practitioner/doc{rng.randrange(docs)}"}}
            ],
            "period": {"start": _date(rng, 2020, 2025)},
        }
    for i in range(counts["Observation"]):
        code, unit, lo, hi = rng.choice(LOINC)
        yield {
            "resourceType": "Observation",
            "id": f"obs{i}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": pat()},
            "encounter": {"reference": f"Encounter/enc{rng.randrange(counts['Encounter'])}"},
            "effectiveDateTime": _date(rng, 2020, 2025),
            "valueQuantity": {
                "value": round(rng.uniform(lo, hi), 1),
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
        }
    for i in range(counts["Condition"]):
        yield {
            "resourceType": "Condition",
            "id": f"cond{i}",
            "subject": {"reference": pat()},
            "code": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": rng.choice(ICD)}]
            },
            "recordedDate": _date(rng, 2015, 2025),
        }
    for kind, prefix in (
        ("CarePlan", "cp"),
        ("Contract", "k"),
        ("Communication", "com"),
        ("ServiceRequest", "sr"),
    ):
        for i in range(counts[kind]):
            res: dict[str, Any] = {"resourceType": kind, "id": f"{prefix}{i}", "status": "active"}
            if kind == "Contract":
                res.update(
                    status="executed",
                    subject=[{"reference": pat()}],
                    issued=_date(rng, 2022, 2025) + "T09:00:00+08:00",
                )
            elif kind == "CarePlan":
                res.update(
                    intent="plan",
                    subject={"reference": pat()},
                    period={"start": _date(rng, 2023, 2025)},
                )
            elif kind == "Communication":
                res.update(
                    status="completed",
                    subject={"reference": pat()},
                    sent=_date(rng, 2024, 2025) + "T08:00:00+08:00",
                )
            else:
                res.update(
                    intent="order", subject={"reference": pat()}, authoredOn=_date(rng, 2024, 2025)
                )
            yield res


SCENARIOS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("token", "Observation", [("code", "http://loinc.org|8480-6")], "single"),
    ("string prefix (name)", "Patient", [("name", "wang")], "single"),
    ("date range", "Observation", [("date", "ge2024-03-01"), ("date", "lt2024-03-15")], "single"),
    ("chain (2 levels)", "Observation", [("encounter.subject:Patient.name", "zhang")], "chain"),
    (
        "_has",
        "Patient",
        [("_has:Condition:subject:code", "http://hl7.org/fhir/sid/icd-10|I10.x00")],
        "chain",
    ),
    ("_include", "Contract", [("_include", "Contract:subject")], "chain"),
    ("near", "Location", [("near", "23.13|113.26|5|km")], "single"),
]


def _timed(
    db: SqlDatabase, registry: Any, rtype: str, query: list[tuple[str, str]]
) -> tuple[float, Any]:
    start = time.perf_counter()
    with db.unit_of_work(write=False) as uow:
        result = execute_search(
            uow.connection, db.dialect, registry, rtype, [*query, ("_count", "20")]
        )
    return (time.perf_counter() - start) * 1000, result


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(db: SqlDatabase, repeats: int) -> list[tuple[str, str, float, float, list[str]]]:
    registry = db.registry
    assert registry is not None
    out = []
    for name, rtype, query, kind in SCENARIOS:
        _timed(db, registry, rtype, query)
        samples = [_timed(db, registry, rtype, query)[0] for _ in range(repeats)]
        with db.unit_of_work(write=False) as uow:
            plan = (
                execute_search(
                    uow.connection,
                    db.dialect,
                    registry,
                    rtype,
                    [*query, ("_explain", "true")],
                    allow_explain=True,
                ).plan
                or []
            )
        out.append((name, kind, _pct(samples, 0.5), _pct(samples, 0.95), plan))
    walk: list[float] = []
    for _ in range(max(3, repeats // 10)):
        cursor = None
        start = time.perf_counter()
        for _page in range(10):
            extra: list[tuple[str, str]] = [("_cursor", cursor)] if cursor else []
            _, result = _timed(db, registry, "Patient", [("_sort", "birthdate"), *extra])
            cursor = result.next_cursor
        walk.append((time.perf_counter() - start) * 1000 / 10)
    with db.unit_of_work(write=False) as uow:
        plan = (
            execute_search(
                uow.connection,
                db.dialect,
                registry,
                "Patient",
                [("_sort", "birthdate"), ("_explain", "true")],
                allow_explain=True,
            ).plan
            or []
        )
    out.append(
        ("_sort walk (per page, 10 pages)", "single", _pct(walk, 0.5), _pct(walk, 0.95), plan)
    )
    return out


def report(
    n: int, load_s: float, rows: list[tuple[str, str, float, float, list[str]]], command: str
) -> str:
    lines = [
        "",
        "## Search",
        "",
        f"```\n{command}\n```",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {n} resources loaded in {load_s:.0f} s (COPY bulk loader)",
        "- through `execute_search` (parse, SQL, includes), `_count=20`, PostgreSQL; targets at 1 M: "
        "single ≤ 50 ms, chains/includes ≤ 150 ms (p95)",
        "",
        "| scenario | p50 ms | p95 ms |",
        "|---|---:|---:|",
        *(f"| {name} | {p50:.1f} | {p95:.1f} |" for name, _k, p50, p95, _plan in rows),
        "",
        "<details><summary>EXPLAIN per scenario</summary>",
        "",
    ]
    for name, _k, _p50, _p95, plan in rows:
        lines += [f"**{name}**", "", "```", *plan[:40], "```", ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks search")
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="load 1 000 000 resources")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    n = 1_000_000 if args.million else args.resources
    with throwaway_database(args.database_url, f"jiayi_bench_search_{n}") as url:
        db = SqlDatabase(url, registry=r4_registry())
        db.upgrade()
        start = time.perf_counter()
        done = 0

        def progress(k: int) -> None:
            nonlocal done
            done += k
            print(f"\rloaded {done}/{n}", end="", flush=True)

        bulk_load(url, generate(n), workers=args.workers, batch=1000, progress=progress)
        load_s = time.perf_counter() - start
        print()
        rows = measure(db, args.repeats)
        db.dispose()
    command = "python -m benchmarks search " + ("--million" if args.million else f"--resources {n}")
    text = report(done, load_s, rows, command)
    print(text)
    if not args.no_results:
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(text)
    return 0
