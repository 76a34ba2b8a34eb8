"""`jiayi demo` / `jiayi serve --demo`: load the demo district through the real workflows,
idempotently.

Order: the provider network and the hospital's slots (fixed ids, written when absent) →
`Schedule/[id]/$referral-reserve` (the referral workflow tags the reserved share) → residents,
families and their records → `Contract/$sign` per signing family, as of its signing day (the
contracting workflow writes Contract, CarePlans and Consents) → the services delivered under each
CarePlan and the satisfaction answers → the `pushes` job month by month over the year → referrals
up (`PUT ServiceRequest`, booked with `POST Appointment` into a reserved slot) and down (routed to
the team, acknowledged on its worklist).  Everything goes through `FhirRepository` (validation,
write rules, search index) and the operations' own code (`interactions.router.dispatch`); the
workflows run with the clock set to the day they happen.

Idempotent: what has a fixed id is written only when absent, a family with a contract is not
signed again, the reservation, the pushes job and the referral steps check what is there, so a
second load writes nothing.  The ids the workflows assign (Contract, CarePlan, Consent, Task,
Communication, Appointment) are the server's; they are found through the fixed ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..core import errors as E
from ..core.clock import FixedClock
from ..interactions.model import FhirRequest
from ..interactions.router import dispatch
from ..services.context import RequestContext, ServerComponents
from ..services.every_match import search_all
from ..services.repository import FhirRepository
from ..storage.ports import HistoryQuery
from . import story
from .bulk import store_absent
from .network import CAPACITIES, network, slots
from .residents import Home, households, member_ref, resident_resources

DEMO_PASSWORD = "jiayi-demo-2026"
DEMO_CLIENT = "jiayi-demo-app"
SEED = 2026
RESERVED_TAG = "https://jiayi.health/fhir/CodeSystem/slot-reservation|referral"

#: (label, total) → advance(n): a progress bar per step (or nothing)
Progress = Callable[[str, int], Callable[[int], None]]
Account = tuple[
    str, str, str, str | None, str | None
]  # username, role, fhirUser, patient, practitioner


def no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


@dataclass
class DemoSummary:
    written: int = 0  # resource versions written by this load
    residents: int = 0
    families_signed: int = 0
    residents_signed: int = 0
    services: int = 0
    referrals: int = 0
    answers: int = 0
    pushes: list[str] = field(default_factory=list)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, fhirUser

    def lines(self, base_url: str) -> list[str]:
        root = base_url.rstrip("/").rsplit("/fhir", 1)[0]
        return [
            f"demo data: {self.residents} residents, {self.residents_signed} signed in "
            f"{self.families_signed} contracts, {self.services} services, {self.referrals} "
            f"referrals, {self.answers} satisfaction answers; "
            f"{self.written} resources written this time",
            f"SMART client '{DEMO_CLIENT}' (public, PKCE S256, redirect "
            f"http://127.0.0.1:9000/callback): authorize at {root}/auth/authorize, "
            f"token at {root}/auth/token",
            *(f"  login {u} / {DEMO_PASSWORD}  ({r}, {w})" for u, r, w in self.accounts),
        ]


def cst_noon(day: date) -> datetime:
    return datetime.combine(day, time(2, 0), tzinfo=UTC)  # 10:00 in China Standard Time


class Demo:
    """One load: the components, the seed, the date, and a repository as of any day."""

    def __init__(self, components: ServerComponents, seed: int, on: date, base_url: str) -> None:
        self.components = components
        self.seed = seed
        self.on = on
        self.base_url = base_url

    def repo(self, at: datetime | None = None) -> FhirRepository:
        comps = (
            dataclasses.replace(self.components, clock=FixedClock(at)) if at else self.components
        )
        return FhirRepository(RequestContext(self.base_url, system_name="demo"), comps)

    def call(self, method: str, path: str, body: Any = None, at: datetime | None = None) -> Any:
        """An operation or interaction through the router, as an HTTP request would run it."""
        response = dispatch(self.repo(at), FhirRequest(method, path, body=body))
        if response.status >= 400:
            raise E.FhirError(response.status, response.issues)
        return response.resource

    def versions(self) -> int:
        return self.repo().history(HistoryQuery(count=1))[1] or 0


def _contracted(demo: Demo) -> dict[str, dict[str, Any]]:
    """Patient reference → their contract in force (executed)."""
    out: dict[str, dict[str, Any]] = {}
    for contract in search_all(demo.repo(), "Contract", [("status", "executed")]):
        for subject in contract.get("subject") or []:
            out[subject.get("reference", "")] = contract
    return out


def _plans(demo: Demo, contracts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Patient reference → the active CarePlan of their contract."""
    out: dict[str, dict[str, Any]] = {}
    wanted = {f"Contract/{c['id']}" for c in contracts.values()}
    for plan in search_all(demo.repo(), "CarePlan", [("status", "active")]):
        subject = (plan.get("subject") or {}).get("reference", "")
        if any(s.get("reference") in wanted for s in plan.get("supportingInfo") or []):
            out[subject] = plan
    return out


def _sign(demo: Demo, homes: list[Home], progress: Progress, summary: DemoSummary) -> None:
    plan = story.signings(homes, demo.seed, demo.on)
    contracted = _contracted(demo)
    todo = [s for s in plan if member_ref(s.members[0]) not in contracted]
    advance = progress("signing (Contract/$sign)", len(todo))
    for signing in todo:
        demo.call("POST", "Contract/$sign", signing.parameters(), at=signing.signed_at)
        advance(1)
    summary.families_signed = len(plan)
    summary.residents_signed = sum(len(s.members) for s in plan)


def _delivered(
    demo: Demo, homes: list[Home], progress: Progress, summary: DemoSummary
) -> list[tuple[Any, int, str, dict[str, Any]]]:
    """Services and satisfaction answers under each signed member's CarePlan; returns
    (member, team, contract reference, plan) per signed member."""
    contracts = _contracted(demo)
    plans = _plans(demo, contracts)
    teams = {s.home.key: s.team for s in story.signings(homes, demo.seed, demo.on)}
    signed = []
    for home in homes:
        team = teams.get(home.key)
        for member in home.members:
            ref = member_ref(member)
            if team is not None and ref in plans:
                signed.append((member, team, f"Contract/{contracts[ref]['id']}", plans[ref]))

    def resources() -> Iterator[dict[str, Any]]:
        for member, team, _contract, plan in signed:
            yield from story.services(plan, member, story.team_of(team), demo.seed, demo.on)

    made = list(resources())
    summary.services = sum(1 for r in made if r["resourceType"] in ("Encounter", "Procedure"))
    store_absent(demo.repo(), made, progress("services (Encounter, Observation …)", len(made)))
    answers = [
        qr
        for member, _team, _contract, plan in signed
        if (qr := story.satisfaction(member, plan["id"], demo.seed, demo.on)) is not None
    ]
    summary.answers = len(answers)
    store_absent(demo.repo(), answers, progress("satisfaction answers", len(answers)))
    return signed


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month after `first` up to `last`, and `last` itself."""
    out = []
    day = date(first.year, first.month, 1)
    while True:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        if day > last:
            break
        out.append(day)
    return [*out, last] if not out or out[-1] != last else out


def _pushes(demo: Demo, starts: Iterable[date], progress: Progress, summary: DemoSummary) -> None:
    from ..jobs.runner import run_job

    first = min(starts, default=demo.on)
    days = month_starts(first, demo.on)
    advance = progress("health pushes (job `pushes`, month by month)", len(days))
    repo = demo.repo()
    for day in days:
        run = repo.current_or_none("Task", f"job-pushes-{day:%Y%m%d}")
        if run is None or run.deleted or (run.content or {}).get("status") != "completed":
            comps = dataclasses.replace(demo.components, clock=FixedClock(cst_noon(day)))
            summary.pushes.append(run_job(demo.components.settings, comps, "pushes", day))
        advance(1)


def _reserved_slot(demo: Demo, capacity: str) -> dict[str, Any] | None:
    found = demo.repo().search(
        ["Slot"],
        [
            ("schedule", f"Schedule/demo-sched-{capacity}"),
            ("_tag", RESERVED_TAG),
            ("status", "free"),
            ("_sort", "start"),
        ],
        page_size=1,
    )
    return found.matches[0].content if found.matches else None


def _referrals(demo: Demo, signed: list[Any], progress: Progress, summary: DemoSummary) -> None:
    at = cst_noon(demo.on)
    picks = story.referrals([(m, t, c) for m, t, c, _p in signed], demo.on)
    summary.referrals = len(picks)
    advance = progress("referrals up and down", len(picks))
    for referral in picks:
        sr = f"ServiceRequest/{referral.id}"
        if demo.repo().current_or_none("ServiceRequest", referral.id) is None:
            demo.call("PUT", sr, referral.body, at=at)
        if referral.capacity:
            booked = demo.repo().search(["Appointment"], [("based-on", sr)], page_size=1)
            slot = None if booked.matches else _reserved_slot(demo, referral.capacity)
            if slot is not None:
                demo.call("POST", "Appointment", appointment(slot, referral), at=at)
        if referral.acknowledge:
            for task in search_all(demo.repo(), "Task", [("focus", sr)]):
                if task.get("status") == "requested":
                    demo.call("PUT", f"Task/{task['id']}", {**task, "status": "accepted"}, at=at)
        advance(1)


def appointment(slot: dict[str, Any], referral: story.Referral) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "description": referral.body["code"]["text"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "start": slot["start"],
        "end": slot["end"],
        "basedOn": [{"reference": f"ServiceRequest/{referral.id}"}],
        "participant": [
            {"actor": {"reference": member_ref(referral.member)}, "status": "accepted"}
        ],
    }


def _accounts(signed: list[Any]) -> list[Account]:
    member, team, _contract, _plan = next(
        (s for s in signed if s[0].conditions), signed[0] if signed else (None, 1, "", None)
    )
    resident = member_ref(member).split("/", 1)[1] if member is not None else "demo-p-1-1"
    return [
        ("resident", "resident", f"Patient/{resident}", resident, None),
        ("doctor", "doctor", f"Practitioner/demo-dr-{team}", None, f"demo-dr-{team}"),
        ("admin", "admin", "Practitioner/demo-admin", None, "demo-admin"),
    ]


def load_demo(
    components: ServerComponents,
    register_accounts: Callable[[list[Account]], None] | None = None,
    *,
    base_url: str,
    residents: int = 1000,
    seed: int = SEED,
    on: date | None = None,
    progress: Progress = no_progress,
) -> DemoSummary:
    on = on or (datetime.now(UTC) + timedelta(hours=8)).date()  # today in China
    demo = Demo(components, seed, on, base_url)
    summary = DemoSummary()
    before = demo.versions()
    providers = [*network(), *slots(on)]
    store_absent(demo.repo(), providers, progress("provider network and slots", len(providers)))
    advance = progress("reserved referral capacity ($referral-reserve)", len(CAPACITIES))
    for capacity in CAPACITIES:
        demo.call("POST", f"Schedule/demo-sched-{capacity.key}/$referral-reserve",
                  {"resourceType": "Parameters"}, at=cst_noon(on))  # fmt: skip
        advance(1)
    homes = households(residents, seed, on)
    summary.residents = sum(len(h.members) for h in homes)
    people = list(resident_resources(homes, on))
    store_absent(demo.repo(), people, progress("residents, families, records", len(people)))
    _sign(demo, homes, progress, summary)
    signed = _delivered(demo, homes, progress, summary)
    starts = [date.fromisoformat(p["period"]["start"][:10]) for *_x, p in signed]
    _pushes(demo, starts, progress, summary)
    _referrals(demo, signed, progress, summary)
    accounts = _accounts(signed)
    if register_accounts is not None:
        register_accounts(accounts)
    summary.accounts = [(u, r, w) for u, r, w, _p, _pr in accounts]
    summary.written = demo.versions() - before
    return summary
