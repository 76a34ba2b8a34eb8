"""`python -m benchmarks [rest-core] [--requests N] [--seconds S] [--database-url URL] …`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import rest_core


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark Jiayi against a minimal FastAPI + psycopg baseline on PostgreSQL.",
    )
    parser.add_argument("suite", nargs="?", default="rest-core", choices=["rest-core"])
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="requests per measurement of create/read/update (default 2000)",
    )
    parser.add_argument(
        "--transaction-requests",
        type=int,
        default=None,
        help="100-entry Bundles per transaction measurement (default requests/40, at least 10)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="time limit of one measurement; no request starts after it (default 10)",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=2.0, help="warm-up limit per measurement"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="split each measurement into rounds alternating between the servers (default 3)",
    )
    parser.add_argument(
        "--concurrency",
        default="1,16",
        help="comma-separated concurrent client counts (default 1,16)",
    )
    parser.add_argument(
        "--database-url",
        default=rest_core.DEFAULT_ADMIN_URL,
        help="PostgreSQL server to create the two throwaway databases on "
        f"(default {rest_core.DEFAULT_ADMIN_URL})",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=rest_core.DEFAULT_RESULTS,
        help="Markdown file for the results table (default benchmarks/RESULTS.md)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not write the results file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["search"]:  # the search scenario has its own options (benchmarks/search.py)
        from . import search

        return search.main(raw[1:])
    args = parse_args(raw)
    if args.requests < 1 or args.seconds <= 0:
        raise SystemExit("--requests must be ≥ 1 and --seconds > 0")
    config = rest_core.Config(
        requests=args.requests,
        transaction_requests=args.transaction_requests or max(10, args.requests // 40),
        seconds=args.seconds,
        warmup_seconds=args.warmup_seconds,
        rounds=args.rounds,
        concurrency=tuple(int(c) for c in args.concurrency.split(",") if c.strip()),
        admin_url=args.database_url,
        results=None if args.no_results else args.results,
        command=rest_core.command_line(raw),
    )
    try:
        return rest_core.run(config)
    except KeyboardInterrupt:
        rest_core.console.print("[yellow]interrupted; servers stopped, databases dropped[/yellow]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
