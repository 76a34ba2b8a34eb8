"""The REST-core benchmark: Jiayi against a minimal FastAPI + psycopg baseline, same run.

What it does (issue 2, "benchmarks/"):

1. creates two throwaway PostgreSQL databases and migrates both with `jiayi db upgrade`, so the
   baseline writes exactly the `resource` / `resource_history` rows Jiayi writes;
2. starts `jiayi serve --auth off` and the baseline (`benchmarks/baseline_app.py` under uvicorn),
   each as a one-worker subprocess on a free loopback port, and waits until both are ready;
3. drives both with the same in-process load generator (`httpx.AsyncClient`): create, read,
   update and a 100-entry transaction Bundle of Patient creates, each with 1 and 16 concurrent
   clients, a warm-up first, then a fixed number of requests (bounded by a time limit);
4. prints requests/s and p50/p99 latency side by side with the Jiayi/baseline throughput ratio
   and writes the same table, the command, date and machine to `benchmarks/RESULTS.md`.

Subprocesses and databases are cleaned up on errors, Ctrl-C and SIGTERM.  Only loopback traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FHIR_JSON = "application/fhir+json"
SCENARIOS = ("create", "read", "update", "transaction")
#: Jiayi's throughput must reach this share of the baseline's (issue 2).
TARGETS: dict[str, float] = {"read": 0.60, "create": 0.40}
TRANSACTION_SIZE = 100
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0

#: wide enough for the results table when the output is not a terminal (e.g. piped to a log).
console = Console() if sys.stdout.isatty() else Console(width=140)


# -- configuration and results -----------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    requests: int = 2000
    transaction_requests: int = 50
    seconds: float = 10.0
    warmup_seconds: float = 2.0
    rounds: int = 3
    concurrency: tuple[int, ...] = (1, 16)
    admin_url: str = DEFAULT_ADMIN_URL
    results: Path | None = DEFAULT_RESULTS
    command: str = "python -m benchmarks"


@dataclass
class Measurement:
    """One load run against one server: completed requests, failures and latencies (s)."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]


@dataclass
class Row:
    scenario: str
    concurrency: int
    jiayi: Measurement
    baseline: Measurement

    @property
    def ratio(self) -> float:
        return self.jiayi.rps / self.baseline.rps if self.baseline.rps else float("nan")

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.scenario)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


# -- databases -----------------------------------------------------------------------------------
def libpq_url(url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) → `postgresql://…` (libpq)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise SystemExit(f"--database-url must be a PostgreSQL URL, got {url!r}")
    return f"postgresql://{rest}"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name` (query string kept)."""
    base, _, query = url.partition("?")
    head, _, _old = base.rpartition("/")
    if "://" not in head:  # URL without a database part
        head = base
    return f"{head}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def throwaway_database(admin_url: str, name: str) -> Iterator[str]:
    """Create database `name` on the server of `admin_url`; drop it on exit."""
    admin = libpq_url(admin_url)
    ident = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def jiayi_command() -> list[str]:
    exe = shutil.which("jiayi")
    return [exe] if exe else [sys.executable, "-c", "from fhir_server.cli import main; main()"]


def migrate(database_url: str) -> None:
    result = subprocess.run(
        [*jiayi_command(), "db", "upgrade", "--database-url", database_url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"jiayi db upgrade failed:\n{result.stdout}\n{result.stderr}")


def _other_sections(results: Path) -> str:
    """What follows the REST section of RESULTS.md (other benchmarks, each opening with an HTML
    comment marker such as `<!-- pushes:begin -->`): kept as it is."""
    if not results.is_file():
        return ""
    existing = results.read_text(encoding="utf-8")
    at = existing.find("\n<!-- ")
    return "" if at < 0 else "\n" + existing[at + 1 :]


def index_row_count(url: str) -> int | None:
    """Rows in Jiayi's search-index tables (`search_*`), or None where there are none."""
    with psycopg.connect(libpq_url(url)) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename LIKE 'search\\_%'"
            )
        ]
        if not tables:
            return None
        query = sql.SQL(" + ").join(
            sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(t)) for t in tables
        )
        row = conn.execute(sql.SQL("SELECT ") + query).fetchone()
    return int(row[0]) if row else 0


def server_version(url: str) -> str:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# -- subprocesses --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running_server(
    name: str, argv: list[str], port: int, env: dict[str, str], logdir: Path
) -> Iterator[Server]:
    """Start `argv` in its own session, wait for `/readyz`, stop it (SIGINT, then SIGKILL)."""
    log_path = logdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://127.0.0.1:{port}", proc, log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(proc)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{server.base}/readyz").status_code == 200:
                    return
            time.sleep(0.2)
    raise RuntimeError(
        f"{server.name} not ready after {READY_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)


# -- requests ------------------------------------------------------------------------------------
def patient(i: int, res_id: str | None = None) -> dict[str, Any]:
    """A small, valid R4 Patient (no ID-number identifier, so no check digit involved)."""
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.2", "value": f"BENCH-{i:08d}"}],
        "active": True,
        "name": [{"use": "official", "family": "王", "given": [f"测试{i}"], "text": f"王测试{i}"}],
        "telecom": [{"system": "phone", "value": f"138{i:08d}"[:11], "use": "mobile"}],
        "gender": "female" if i % 2 else "male",
        "birthDate": f"19{50 + i % 50:02d}-0{1 + i % 9}-1{i % 10}",
        "address": [
            {"use": "home", "city": "广州市", "district": "海珠区", "text": f"测试路{i}号"}
        ],
    }
    if res_id is not None:
        body["id"] = res_id
    return body


def transaction_bundle(size: int = TRANSACTION_SIZE) -> bytes:
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": patient(i),
            "request": {"method": "POST", "url": "Patient"},
        }
        for i in range(size)
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def id_from_location(location: str) -> str:
    """`…/Patient/<id>/_history/1` or `…/Patient/<id>` → `<id>`."""
    path = location.split("/Patient/", 1)[1]
    return path.split("/", 1)[0]


HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
RequestFn = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


class Workload:
    """The requests of each scenario against one server; remembers the Patients it created."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.bundle = transaction_bundle()
        self._n = 0
        #: index of the next request, so reads and updates keep cycling through `ids`.
        self.cursor = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def request(self, scenario: str) -> RequestFn:
        return {
            "create": self._create,
            "read": self._read,
            "update": self._update,
            "transaction": self._transaction,
        }[scenario]

    async def _create(self, client: httpx.AsyncClient, _i: int) -> httpx.Response:
        resp = await client.post(
            "/fhir/Patient", content=orjson.dumps(patient(self._next())), headers=HEADERS
        )
        if resp.status_code == 201 and (loc := resp.headers.get("location")):
            self.ids.append(id_from_location(loc))
        return resp

    async def _read(self, client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.get(f"/fhir/Patient/{self.ids[i % len(self.ids)]}", headers=HEADERS)

    async def _update(self, client: httpx.AsyncClient, i: int) -> httpx.Response:
        res_id = self.ids[i % len(self.ids)]
        body = orjson.dumps(patient(self._next(), res_id))
        return await client.put(f"/fhir/Patient/{res_id}", content=body, headers=HEADERS)

    async def _transaction(self, client: httpx.AsyncClient, _i: int) -> httpx.Response:
        return await client.post("/fhir", content=self.bundle, headers=HEADERS)


async def run_load(
    base: str, request: RequestFn, total: int, seconds: float, concurrency: int, offset: int = 0
) -> Measurement:
    """`concurrency` clients share `total` requests; no request starts after `seconds`."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    counter = 0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120.0) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal counter, errors, first_error
            while counter < total and time.perf_counter() < deadline:
                i = offset + counter
                counter += 1
                t0 = time.perf_counter()
                try:
                    resp = await request(client, i)
                    ok = resp.status_code < 300
                    detail = f"HTTP {resp.status_code}: {resp.text[:300]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
                    first_error = first_error or detail

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Measurement(len(latencies), errors, elapsed, latencies, first_error)


def merge(parts: Sequence[Measurement]) -> Measurement:
    """One measurement from the rounds of the same scenario against the same server."""
    return Measurement(
        requests=sum(p.requests for p in parts),
        errors=sum(p.errors for p in parts),
        seconds=sum(p.seconds for p in parts),
        latencies=[x for p in parts for x in p.latencies],
        first_error=next((p.first_error for p in parts if p.first_error), None),
    )


async def load(
    server: Server, work: Workload, scenario: str, total: int, seconds: float, concurrency: int
) -> Measurement:
    m = await run_load(
        server.base, work.request(scenario), total, seconds, concurrency, offset=work.cursor
    )
    work.cursor += m.requests + m.errors
    return m


async def measure_pair(
    servers: Sequence[Server],
    works: dict[str, Workload],
    scenario: str,
    concurrency: int,
    config: Config,
) -> dict[str, Measurement]:
    """Warm up each server, then alternate rounds (J B, B J, J B …) so background load on a
    shared machine hits both sides alike; each side gets `total` requests within `seconds`."""
    total = config.transaction_requests if scenario == "transaction" else config.requests
    rounds = max(1, min(config.rounds, total))
    warmup = max(2 * concurrency, total // 20)
    for server in servers:
        await load(server, works[server.name], scenario, warmup, config.warmup_seconds, concurrency)
    parts: dict[str, list[Measurement]] = {s.name: [] for s in servers}
    for r in range(rounds):
        share = total // rounds + (1 if r < total % rounds else 0)
        order = servers if r % 2 == 0 else list(reversed(servers))
        for server in order:
            m = await load(
                server, works[server.name], scenario, share, config.seconds / rounds, concurrency
            )
            parts[server.name].append(m)
    return {name: merge(ms_) for name, ms_ in parts.items()}


async def seed(server: Server, work: Workload, count: int) -> None:
    """Make sure read/update have enough distinct Patients (create may have been time-capped)."""
    missing = count - len(work.ids)
    if missing > 0:
        await run_load(server.base, work.request("create"), missing, 60.0, 8)


async def run_all(jiayi: Server, baseline: Server, config: Config) -> list[Row]:
    servers = (jiayi, baseline)
    works = {s.name: Workload() for s in servers}
    rows: list[Row] = []
    for scenario in SCENARIOS:
        if scenario == "read":
            for server in servers:
                await seed(server, works[server.name], 256)
        for concurrency in config.concurrency:
            results = await measure_pair(servers, works, scenario, concurrency, config)
            for server in servers:
                m = results[server.name]
                console.print(
                    f"  {scenario:<11} clients={concurrency:<3} {server.name:<8}"
                    f" {m.rps:9.1f} req/s  p50 {ms(m.percentile(50))} ms  p99 {ms(m.percentile(99))} ms"
                    + (f"  [red]{m.errors} errors[/red]" if m.errors else "")
                )
                if m.first_error:
                    console.print(f"    [red]first error:[/red] {m.first_error}")
            rows.append(Row(scenario, concurrency, results[jiayi.name], results[baseline.name]))
    return rows


# -- reporting -----------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds == seconds else "–"


def target_text(row: Row) -> str:
    if row.target is None:
        return "–"
    return f"{'met' if row.met else 'NOT met'} (≥ {row.target:.0%})"


COLUMNS = (
    "scenario",
    "clients",
    "Jiayi req/s",
    "baseline req/s",
    "ratio",
    "target",
    "Jiayi p50 / p99 ms",
    "baseline p50 / p99 ms",
    "errors J/B",
)


def row_cells(row: Row) -> list[str]:
    label = row.scenario if row.scenario != "transaction" else f"transaction×{TRANSACTION_SIZE}"
    return [
        label,
        str(row.concurrency),
        f"{row.jiayi.rps:.1f}",
        f"{row.baseline.rps:.1f}",
        f"{row.ratio:.0%}",
        target_text(row),
        f"{ms(row.jiayi.percentile(50))} / {ms(row.jiayi.percentile(99))}",
        f"{ms(row.baseline.percentile(50))} / {ms(row.baseline.percentile(99))}",
        f"{row.jiayi.errors}/{row.baseline.errors}",
    ]


def rich_table(rows: Sequence[Row]) -> Table:
    table = Table(title="Jiayi vs. minimal FastAPI + psycopg baseline (PostgreSQL)")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in ("scenario", "target") else "right")
    for row in rows:
        cells = row_cells(row)
        if row.met is not None:
            colour = "green" if row.met else "red"
            cells[5] = f"[{colour}]{cells[5]}[/{colour}]"
        table.add_row(*cells)
    return table


def target_summary(rows: Sequence[Row]) -> list[tuple[str, float, bool]]:
    out = []
    for scenario, share in TARGETS.items():
        relevant = [r for r in rows if r.scenario == scenario]
        if relevant:
            out.append((scenario, share, all(bool(r.met) for r in relevant)))
    return out


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or "?"
        )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": commit,
    }


def loadavg() -> str:
    """The 1-minute load average (other work on a shared machine skews absolute numbers)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def markdown(rows: Sequence[Row], config: Config, info: dict[str, str], started: datetime) -> str:
    lines = [
        "# Benchmark results: REST core",
        "",
        "Jiayi against a minimal FastAPI app that reads and writes the same `resource` /",
        "`resource_history` rows with plain psycopg (`benchmarks/baseline_app.py`), measured in",
        "the same run by the same in-process httpx load generator. Both run under uvicorn with one",
        "worker on PostgreSQL, each on its own throwaway database migrated by `jiayi db upgrade`.",
        "",
        "```",
        config.command,
        "```",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: nproc {info['nproc']}, {info['cpu']}; {info['platform']}",
        f"- Python {info['python']}, PostgreSQL {info.get('postgres', '?')}, git {info['git']}",
        f"- 1-minute load average: {info.get('load', '?')}",
        f"- search-index rows Jiayi wrote during the run: {info.get('index_rows', '?')}",
        f"- per measurement: {config.requests} requests ({config.transaction_requests} for the "
        f"transaction), at most {config.seconds:g} s, after a warm-up, in {config.rounds} "
        f"rounds alternating between the two servers; clients "
        f"{', '.join(map(str, config.concurrency))}",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if i in (0, 5) else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    lines += ["| " + " | ".join(row_cells(r)) + " |" for r in rows]
    lines += ["", "## Targets", ""]
    for scenario, share, met in target_summary(rows):
        verdict = "**met**" if met else "**NOT met**"
        lines.append(
            f"- {scenario}: Jiayi ≥ {share:.0%} of the baseline's throughput at every client "
            f"count: {verdict}"
        )
    lines += [
        "",
        "## Notes",
        "",
        "- ratio = Jiayi req/s ÷ baseline req/s; p50/p99 are per-request latencies of successful",
        "  requests. Transaction rows count Bundles (100 Patient creates each) per second.",
        "- The baseline does no validation, no search indexing, no auth, no request-id/logging",
        "  middleware, and no connection pre-ping; Jiayi's writes carry whatever of these it does",
        "  (see the search-index row count above: 0 means its indexer was not active).",
        "- Server, PostgreSQL and the load generator share the same cores, so absolute numbers",
        "  are lower than on a dedicated load-generating host; the ratios are what matters.",
        "",
    ]
    return "\n".join(lines)


# -- entry point ---------------------------------------------------------------------------------
def _raise_on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _event_loop_runner() -> Callable[[Awaitable[list[Row]]], list[Row]]:
    try:
        import uvloop  # the servers use it too; a cheaper loop leaves more CPU to them

        return lambda coro: uvloop.run(coro)  # type: ignore[arg-type, return-value]
    except ImportError:
        return lambda coro: asyncio.run(coro)  # type: ignore[arg-type]


def run(config: Config) -> int:
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    # Ctrl-C must stop the run even where the shell started it with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = datetime.now(UTC)
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    info = machine()
    info["postgres"] = server_version(config.admin_url)
    load_before = loadavg()
    console.print(
        f"[bold]REST-core benchmark[/bold] — {info['nproc']} cores, Python {info['python']}"
    )
    with contextlib.ExitStack() as stack:
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jiayi-bench-")))
        jiayi_url = stack.enter_context(throwaway_database(config.admin_url, f"jiayi_bench_{tag}"))
        base_url = stack.enter_context(
            throwaway_database(config.admin_url, f"baseline_bench_{tag}")
        )
        console.print("  migrating both databases (jiayi db upgrade) …")
        migrate(jiayi_url)
        migrate(base_url)

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("JIAYI_WORKERS", None)
        port = free_port()
        jiayi_argv = [
            *jiayi_command(),
            "serve",
            "--auth",
            "off",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--database-url",
            jiayi_url,
        ]
        console.print("  starting Jiayi and the baseline …")
        jiayi = stack.enter_context(running_server("jiayi", jiayi_argv, port, env, logdir))
        bport = free_port()
        baseline_argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.baseline_app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(bport),
            "--workers",
            "1",
            "--log-level",
            "info",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "30",
        ]
        benv = {**env, "BENCH_BASELINE_DSN": libpq_url(base_url)}
        baseline = stack.enter_context(
            running_server("baseline", baseline_argv, bport, benv, logdir)
        )

        rows = _event_loop_runner()(run_all(jiayi, baseline, config))
        info["load"] = f"{load_before} before, {loadavg()} after"
        indexed = index_row_count(jiayi_url)
        info["index_rows"] = "no search-index tables" if indexed is None else str(indexed)
        console.print(rich_table(rows))
        for scenario, share, met in target_summary(rows):
            colour = "green" if met else "red"
            console.print(
                f"target {scenario} ≥ {share:.0%} of baseline: [{colour}]{'met' if met else 'NOT met'}[/{colour}]"
            )
        if config.results is not None:
            text = markdown(rows, config, info, started).rstrip("\n") + "\n"
            config.results.write_text(text + _other_sections(config.results), encoding="utf-8")
            console.print(f"wrote {config.results}")
        console.print("  stopping servers, dropping databases …")
    return 0


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m benchmarks", *(shlex.quote(a) for a in argv)])
