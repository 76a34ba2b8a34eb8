"""Profile Jiayi's REST path in-process: create, read, update and a 100-entry transaction.

```
python -m benchmarks.profile_writes [--database-url URL] [--requests N] [--top K] [--scenario S]
```

Creates a throwaway PostgreSQL database, migrates it, builds the app (`create_app`, background
tasks on, as `jiayi serve` runs) and drives it through Starlette's TestClient.  For each scenario
it prints the SQL statements and their round trips per request (counted by SQLAlchemy's
`before_cursor_execute` plus COPY blocks, which bypass it) and cProfile's top functions by
cumulative time.  A tool to find costs, not a benchmark: TestClient adds its own overhead, so
compare the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import event

from .rest_core import (
    DEFAULT_ADMIN_URL,
    migrate,
    patient,
    throwaway_database,
    transaction_bundle,
)

HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def _statement_counter(engine: Any) -> Counter[str]:
    seen: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        head = " ".join(statement.split()[:4])[:70]
        seen[("many " if many else "") + head] += 1

    @event.listens_for(engine, "begin")
    def _begin(_conn: Any) -> None:
        seen["BEGIN"] += 1

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        seen["COMMIT"] += 1

    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_writes")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--scenario", action="append", choices=["create", "read", "update", "transaction"]
    )
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args(argv)
    scenarios = args.scenario or ["create", "update", "transaction"]

    from fastapi.testclient import TestClient

    from fhir_server.app import create_app
    from fhir_server.settings import Settings

    tag = f"h_c_prof_{os.getpid()}_{uuid.uuid4().hex[:4]}"
    with throwaway_database(args.database_url, tag) as url:
        migrate(url)
        app = create_app(Settings(database_url=url, auth="off"))
        engine = app.state.components.database.engine
        seen = _statement_counter(engine)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            ids: list[str] = []

            def create(i: int) -> None:
                r = client.post("/fhir/Patient", content=orjson.dumps(patient(i)), headers=HEADERS)
                assert r.status_code == 201, r.text
                ids.append(r.headers["location"].split("/Patient/")[1].split("/")[0])

            def update(i: int) -> None:
                rid = ids[i % len(ids)]
                body = orjson.dumps(patient(i, rid))
                r = client.put(f"/fhir/Patient/{rid}", content=body, headers=HEADERS)
                assert r.status_code == 200, r.text

            def read(i: int) -> None:
                r = client.get(f"/fhir/Patient/{ids[i % len(ids)]}", headers=HEADERS)
                assert r.status_code == 200, r.text

            def transaction(_i: int) -> None:
                r = client.post("/fhir", content=transaction_bundle(), headers=HEADERS)
                assert r.status_code == 200, r.text

            table: dict[str, Callable[[int], None]] = {
                "create": create,
                "read": read,
                "update": update,
                "transaction": transaction,
            }
            for i in range(20):  # warm-up (and Patients to update)
                create(10_000_000 + i)
            for name in scenarios:
                n = max(1, args.requests // 40) if name == "transaction" else args.requests
                fn = table[name]
                fn(0)
                seen.clear()
                prof = cProfile.Profile()
                started = time.perf_counter()
                prof.enable()
                for i in range(n):
                    fn(i)
                prof.disable()
                elapsed = time.perf_counter() - started
                print(f"\n=== {name}: {n} requests, {1000 * elapsed / n:.2f} ms each (profiled)")
                print("statements per request:")
                for stmt, count in seen.most_common():
                    print(f"  {count / n:8.2f}  {stmt}")
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats(args.sort).print_stats(args.top)
                print(out.getvalue())
        app.state.components.database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
