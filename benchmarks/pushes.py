"""`python -m benchmarks.pushes --residents N`: a year of health pushes for N contracted residents on
PostgreSQL (issue 7: 1 000 000 residents within 30 minutes, with a progress bar, resumable).

1. Creates a throw-away database, migrates it, and bulk-loads N residents (Patient with a division
   code, Contract in force, CarePlan; a share with hypertension, pregnancy, BMI ≥ 24, 65+) straight
   into the resource, history and search-index tables (executemany, the same index rows the store
   writes), which is much faster than the gate for set-up data.
2. Runs the real `pushes` job (`PushService` through `FhirRepository`, app-inbox channel) once per
   month of the contract year and reports residents/s, pushes/s and the projection to 1 000 000.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from adapters.messaging.inbox import LocalInboxSender
from benchmarks.rest_core import DEFAULT_ADMIN_URL, throwaway_database
from fhir_server.app import build_components
from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.record import RecordKeyPopulations
from fhir_server.domain.pushes.rules import add_months
from fhir_server.domain.pushes.service import PushService
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from fhir_server.storage.sql import indexer as sql_indexer
from fhir_server.storage.sql.tables import resource, resource_history

START = date(2026, 1, 1)
BASE = "http://bench/fhir"
DIV = "https://jiayi.health/fhir/StructureDefinition/division-code"
DISTRICTS = ["440103", "440104", "440106", "440111", "440303", "440305", "440306", "440604"]


def resident_resources(i: int, rng: random.Random) -> list[dict[str, Any]]:
    pid, end = f"r{i:07d}", (add_months(START, 12) - timedelta(days=1)).isoformat()
    age = rng.choice([3, 25, 34, 45, 52, 61, 68, 75])
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": pid,
            "birthDate": f"{START.year - age}-06-15",
            "gender": rng.choice(["male", "female"]),
            "address": [{"extension": [{"url": DIV, "valueCode": rng.choice(DISTRICTS)}]}],
        },
        {
            "resourceType": "Contract",
            "id": f"c{i:07d}",
            "status": "executed",
            "subject": [{"reference": f"Patient/{pid}"}],
            "applies": {"start": START.isoformat(), "end": end},
        },
        {
            "resourceType": "CarePlan",
            "id": f"cp{i:07d}",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": START.isoformat(), "end": end},
            "supportingInfo": [{"reference": f"Contract/c{i:07d}"}],
        },
    ]
    if rng.random() < 0.2:
        out.append(
            {
                "resourceType": "Condition",
                "id": f"h{i:07d}",
                "subject": {"reference": f"Patient/{pid}"},
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
            }
        )
    if rng.random() < 0.3:
        out.append(
            {
                "resourceType": "Observation",
                "id": f"b{i:07d}",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
                "effectiveDateTime": "2025-12-01",
                "valueQuantity": {"value": round(rng.uniform(18, 32), 1), "unit": "kg/m2"},
            }
        )
    return out


def bulk_load(components: Any, residents: int, batch: int = 2000) -> float:
    """Insert residents straight into the tables (set-up only; the job itself uses the gate)."""
    db = components.database
    rng = random.Random(7)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with Progress() as bar:
        task = bar.add_task("loading residents", total=residents)
        for lo in range(0, residents, batch):
            docs = [
                r for i in range(lo, min(residents, lo + batch)) for r in resident_resources(i, rng)
            ]
            rows = [
                {
                    "res_type": d["resourceType"],
                    "res_id": d["id"],
                    "version_id": 1,
                    "last_updated": now,
                    "deleted": False,
                    "content": {**d, "meta": {"versionId": "1", "lastUpdated": now.isoformat()}},
                }
                for d in docs
            ]
            index: dict[str, list[dict[str, Any]]] = {}
            for d in docs:
                extracted = db.indexer.extractor.extract(d)
                for kind, items in sql_indexer.table_rows(
                    d["resourceType"], d["id"], extracted
                ).items():
                    index.setdefault(kind, []).extend(items)
            with db.engine.begin() as conn:
                conn.execute(resource.insert(), rows)
                conn.execute(resource_history.insert(), [{**r, "method": "POST"} for r in rows])
                for kind, items in index.items():
                    if items:
                        conn.execute(sql_indexer._table(kind).insert(), items)
            bar.advance(task, min(batch, residents - lo))
    return time.perf_counter() - t0


def run(database_url: str, residents: int, months: int, page_size: int) -> dict[str, float]:
    settings = Settings(database_url=database_url, auth="off", base_url=BASE)
    components = build_components(settings)
    components.database.upgrade()
    load_s = bulk_load(components, residents)
    repo = FhirRepository(RequestContext(BASE, system_name="job:pushes"), components)
    inbox = LocalInboxSender(Path(tempfile.mkdtemp(prefix="jiayi-inbox-")))
    created, t0 = 0, time.perf_counter()
    with Progress() as bar:
        task = bar.add_task("pushes (contracts × months)", total=residents * months)
        service = PushService(
            repo,
            load_library(),
            RecordKeyPopulations(),
            channels=(inbox,),
            page_size=page_size,
            progress=lambda n: bar.advance(task, n),
        )
        for month in range(months):
            summary = service.run(add_months(START, month + 1) - timedelta(days=1))
            created += summary.created
    job_s = time.perf_counter() - t0
    components.database.dispose()
    return {
        "residents": residents,
        "months": months,
        "load_seconds": round(load_s, 1),
        "job_seconds": round(job_s, 1),
        "pushes": created,
        "pushes_per_second": round(created / job_s, 1),
        "projected_minutes_1m_year": round(job_s / residents * 1_000_000 * 12 / months / 60, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pushes", description=__doc__)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL admin URL")
    args = parser.parse_args(argv)
    with throwaway_database(args.database_url, "jiayi_bench_pushes") as url:
        result = run(url, args.residents, args.months, args.page_size)
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
