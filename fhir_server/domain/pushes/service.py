"""The pushes job and preview (issue 7; 国卫办基层发〔2025〕21号（三）; 粤(三), 粤(七)).

`PushService.run(on)` works from the planner's tables (`ports.PushPlanStore`, SQL in
`storage/sql/push_plan.py`) in five steps, each page in one transaction:

1. **Contracts**: the Contracts changed since the last run (`_lastUpdated`, ten minutes of overlap; all
   of them the first time) are copied into the planner's registry; a contract no longer in force
   stops its plans, a moved end shortens them.
2. **Plan**: every contract year that has begun and is not planned yet is planned once per member
   with a CarePlan (`rules.plan_slots`, memoised per distinct need/year/history): 12 monthly slots
   with their library item, persisted as one `push_plan` row.
   The planner statistics of the tables changed much are then refreshed (again after step 4).
3. **Retry**: pushes left in `preparation` (no channel then) or `in-progress` (a failed delivery
   run) get another delivery run, one load of contacts per page.
4. **Due**: the plans with slots due on `on` are selected in SQL; each due slot becomes a push
   Communication, is delivered (first channel the resident has not opted out of, falling back to
   the next) and written with the plan's progress — in bulk (`FhirRepository.create_instances`).
5. **Alerts**: alerts whose period began by `on` fan out to the contracted residents they reach
   (CarePlan or not), once each; an alert whose period is over is then completed.

A run is logged as `Task/job-pushes-<date>`.  An interruption (crash, exception) loses at most the
page in progress, which the next run redoes: ids derive from what a push is for and channels are
idempotent per id, so nothing is created or received twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from ...core import errors as E
from ...core.clock import fhir_instant
from ...services.batch import BatchCache, Instance
from ...services.consent import denied_push_channels
from ..alerts import rules as alert_rules
from ..alerts.service import alerts_to_fan_out, complete_alert
from . import messages as M
from . import plans as P
from .content import ContentItem, ContentLibrary
from .loading import Contacts, care_plan_for, load_contacts, load_page
from .ports import (
    DeliveryReceipt,
    KeyPopulations,
    MessageSender,
    OutboundMessage,
    PlanStores,
    PushPlanStore,
)
from .record import division_codes, facts_of, phone_numbers
from .rules import PlannedPush, Slot, personalised_candidates, plan_slots
from .solar_terms import CHINA_TZ

SYNC_STATE = "contracts-synced"
#: Contracts are re-read from this long before the last sync began: a write whose transaction
#: was still open then (its `lastUpdated` earlier than its commit) is not missed.
SYNC_MARGIN = timedelta(minutes=10)
#: Progress callback factory: `progress(label, total)` → `advance(n)`.
Progress = Callable[[str, int], Callable[[int], None]]
#: A replacement of the due step: (service, day, now, summary) → finished.
DueStep = Callable[["PushService", date, datetime, "RunSummary"], bool]


@dataclass
class RunSummary:
    date: date
    contracts: int = 0  # contracts synchronised into the planner
    planned: int = 0  # resident contract years planned
    residents: int = 0  # residents with pushes due
    created: int = 0
    alerts: int = 0
    delivered: int = 0
    failed: int = 0
    opted_out: int = 0
    waiting: int = 0  # created in preparation: no channel configured
    retried: int = 0
    retried_delivered: int = 0
    retried_failed: int = 0
    without_care_plan: int = 0
    without_patient: int = 0  # due plans whose Patient is deleted: nothing created
    withdrawn: int = 0  # pending pushes of a deleted Patient: not-done, not retried again
    pages: int = 0
    resumed: bool = False
    finished: bool = False

    def line(self) -> str:
        state = "done" if self.finished else "interrupted"
        return (
            f"pushes {self.date}: {state}{' (resumed)' if self.resumed else ''}; "
            f"{self.contracts} contracts synced, {self.planned} years planned, "
            f"{self.residents} residents due, {self.created} created ({self.alerts} alerts), "
            f"{self.delivered} delivered, {self.failed} failed, {self.opted_out} opted out, "
            f"{self.waiting} waiting for a channel; {self.retried} retried "
            f"({self.retried_delivered} delivered, {self.retried_failed} failed); "
            f"{self.without_care_plan} without CarePlan"
            + (f", {self.without_patient} Patients deleted" if self.without_patient else "")
            + (f", {self.withdrawn} pending pushes withdrawn" if self.withdrawn else "")
        )


def _no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


@dataclass
class PushService:
    repo: Any  # FhirRepository acting as the job
    library: ContentLibrary
    populations: KeyPopulations
    plans: PlanStores | None = None
    channels: Sequence[MessageSender] = ()
    page_size: int = 500
    max_runs: int = 3  # delivery runs before a push is given up (not-done)
    progress: Progress = _no_progress
    _cache: BatchCache = field(default_factory=BatchCache)
    _plans_memo: dict[Any, list[PlannedPush]] = field(default_factory=dict)
    _slots_memo: dict[tuple[date, date], list[Slot]] = field(default_factory=dict)

    def _store(self, uow: Any = None) -> PushPlanStore:
        if self.plans is None:
            raise RuntimeError("the pushes job needs the planner's tables (an SQL database)")
        return self.plans(uow)

    # -- the job ---------------------------------------------------------------------------------
    def run(
        self,
        on: date,
        *,
        max_pages: int | None = None,
        lo: str | None = None,
        hi: str | None = None,
        due_step: DueStep | None = None,
    ) -> RunSummary:
        """One run for day `on`; `max_pages` stops the due step early (as an interruption would);
        `lo`/`hi` confine the due step to a contract-id range (a second worker); `due_step`
        replaces the due step (`jobs.parallel_due`: workers over `split_points`)."""
        summary = RunSummary(on)
        now = self._now(on)
        task_id = f"job-pushes-{on.strftime('%Y%m%d')}"
        task = self.repo.current_or_none("Task", task_id)
        summary.resumed = bool(
            task and not task.deleted and task.content.get("status") == "in-progress"
        )
        self.repo.update("Task", task_id, _task(task_id, on, now, "in-progress", summary))
        self.sync_contracts(summary)
        self.plan(on, now, summary)
        # once per run, before the searches that stale statistics make quadratic (the retry
        # search over Communications, the due plans): this run's plans and the pushes of the
        # runs before (finished or interrupted) — a run's own pushes are the next run's concern
        self._refresh_statistics()
        self.retry_pending(on, now, summary)
        if due_step is not None:
            finished = due_step(self, on, now, summary)
        else:
            finished = self.deliver_due(on, now, summary, max_pages=max_pages, lo=lo, hi=hi)
        if finished and lo is None and hi is None:
            self.fan_out_alerts(on, now, summary)
        summary.finished = finished
        status = "completed" if finished else "in-progress"
        self.repo.update("Task", task_id, _task(task_id, on, now, status, summary))
        return summary

    def _refresh_statistics(self) -> None:
        """Let the database refresh its planner statistics of the tables the job changed much
        (`PlanStores.refresh_statistics`, where the store has it): the job writes faster than
        the database's own analyse follows, and stale statistics make its searches quadratic."""
        refresh = getattr(self.plans, "refresh_statistics", None)
        if refresh is not None:
            refresh()

    # 1. contracts ---------------------------------------------------------------------------------
    def sync_contracts(self, summary: RunSummary) -> None:
        store = self._store()
        started = self.repo.components.clock.now()
        mark = store.get_state(SYNC_STATE)
        query: list[tuple[str, str]] = []
        if mark:
            since = datetime.fromisoformat(mark) - SYNC_MARGIN
            query.append(("_lastUpdated", f"ge{fhir_instant(since)}"))
        cursor: str | None = None
        while True:
            page = self.repo.search(
                ["Contract"],
                query + ([("_cursor", cursor)] if cursor else []),
                page_size=self.repo.components.max_page_size,
            )
            contracts = [r.content for r in page.matches]
            if contracts:
                self._sync_page(contracts, started)
                summary.contracts += len(contracts)
            cursor = page.next_cursor
            if not cursor:
                break
        store.set_state(SYNC_STATE, started.isoformat())

    def _sync_page(self, contracts: list[dict[str, Any]], synced_at: datetime) -> None:
        rows = [P.contract_row(c, synced_at) for c in contracts if c.get("id")]
        known = self._store().contracts([r["contract_id"] for r in rows])
        with self.repo.transaction() as tx:
            store = self._store(tx.unit_of_work)
            store.upsert_contracts(rows)
            for row in rows:
                end = P.plan_end(row)
                before = known.get(row["contract_id"])
                if end is None:
                    if before is not None:
                        store.end_plans(row["contract_id"], None)
                elif (
                    before is not None
                    and row.get("ends_on") is not None
                    and row.get("ends_on") != before.get("ends_on")
                ):
                    store.end_plans(row["contract_id"], end, P.add_months(end, -1))

    # 2. plan ---------------------------------------------------------------------------------------
    def plan(self, on: date, now: datetime, summary: RunSummary) -> None:
        store = self._store()
        advance = self.progress(f"planning {on}", store.count_to_plan(on))
        after: str | None = None
        while True:
            contracts = store.contracts_to_plan(on, after, self.page_size)
            if not contracts:
                return
            after = str(contracts[-1]["contract_id"])
            self._plan_page(contracts, on, now, summary)
            advance(len(contracts))

    def _plan_page(
        self, contracts: list[dict[str, Any]], on: date, now: datetime, summary: RunSummary
    ) -> None:
        store = self._store()
        pids = [pid for c in contracts for pid in c["patients"]]
        data = load_page(self.repo, pids)
        history = store.history(pids)
        rows: list[dict[str, Any]] = []
        next_plans: list[tuple[str, date | None]] = []
        for contract in contracts:
            year_start, year_end = P.contract_year(contract["starts_on"], contract["ends_on"], on)
            complete = True
            for pid in contract["patients"]:
                record = data.records.get(pid)
                care_plan = care_plan_for(data.care_plans.get(pid, []), contract["contract_id"], on)
                if record is None or care_plan is None:
                    summary.without_care_plan += 1
                    complete = False
                    continue
                facts = facts_of(record, self.populations.of(record, on), on)
                planned = self._plan_for(
                    personalised_candidates(facts, self.library.items),
                    year_start,
                    year_end,
                    _earlier_items(history.get(pid, ()), year_start),
                )
                plan = P.new_plan(
                    contract_id=contract["contract_id"],
                    patient_id=pid,
                    year_start=year_start,
                    year_end=year_end,
                    care_plan_id=str(care_plan["id"]),
                    sender=contract.get("sender"),
                    planned=planned,
                    divisions=division_codes(record.patient),
                )
                rows.append(P.plan_to_row(plan, now))
            # a member without CarePlan keeps the contract due for planning (next run retries)
            if complete:
                next_plans.append((contract["contract_id"], year_end))
        with self.repo.transaction() as tx:
            bound = self._store(tx.unit_of_work)
            bound.insert_plans(rows)
            bound.set_next_plan(next_plans)
        summary.planned += len(rows)

    def _plan_for(
        self,
        candidates: Sequence[ContentItem],
        year_start: date,
        year_end: date,
        history: frozenset[str],
    ) -> list[PlannedPush]:
        key = (tuple(c.id for c in candidates), year_start, year_end, history)
        found = self._plans_memo.get(key)
        if found is None:
            slots = self._slots_memo.get((year_start, year_end))
            if slots is None:
                slots = P.year_slots(year_start, year_end)
                self._slots_memo[(year_start, year_end)] = slots
            found = plan_slots(candidates, slots, self.library, None, history)
            self._plans_memo[key] = found
        return found

    # 3. retry -------------------------------------------------------------------------------------
    def retry_pending(self, on: date, now: datetime, summary: RunSummary) -> None:
        """Another delivery run for pushes in `preparation` or `in-progress` (one load of the
        residents' contacts per page; their results count in the summary)."""
        if not self.channels:
            return
        query = [("status", "preparation,in-progress")]
        cursor: str | None = None
        while True:
            page = self.repo.search(
                ["Communication"],
                query + ([("_cursor", cursor)] if cursor else []),
                page_size=self.page_size,
            )
            bodies = [r.content for r in page.matches if M.kind_of(r.content) is not None]
            contacts = load_contacts(
                self.repo,
                [p for b in bodies if (p := M.patient_of(b))],
            )
            updated = []
            for body in bodies:
                pid = M.patient_of(body)
                if pid is None:
                    continue
                if pid not in contacts.patients:  # the resident's Patient is deleted: withdrawn,
                    # so later runs do not try it again
                    outcome = M.Outcome(
                        "not-done",
                        M.runs_of(body),
                        reason_code="recipient-deleted",
                        reason_text="居民档案已删除，推送撤回",
                    )
                    summary.withdrawn += 1
                else:
                    outcome = self._attempt(body, pid, contacts, on, now, M.runs_of(body))
                sent = fhir_instant(outcome.sent) if outcome.sent else None
                received = fhir_instant(outcome.received) if outcome.received else None
                new = M.with_outcome(body, outcome, sent, received)
                new.pop("meta", None)
                new["meta"] = {"profile": [M.PROFILE]}
                updated.append(new)
                if outcome.reason_code == "recipient-deleted":
                    continue
                summary.retried += 1
                if outcome.status == "completed":
                    summary.retried_delivered += 1
                elif outcome.status != "preparation":
                    summary.retried_failed += 1
            with self.repo.transaction() as tx:
                for new in updated:
                    tx.update("Communication", new["id"], new)
            cursor = page.next_cursor
            if not cursor:
                return

    # 4. due ---------------------------------------------------------------------------------------
    def deliver_due(
        self,
        on: date,
        now: datetime,
        summary: RunSummary,
        *,
        max_pages: int | None = None,
        lo: str | None = None,
        hi: str | None = None,
    ) -> bool:
        """Create and deliver every due slot; False when `max_pages` stopped it first."""
        store = self._store()
        advance = self.progress(f"pushes due {on}", store.count_due(on, lo, hi))
        after: tuple[str, str] | None = None
        pages = 0
        while True:
            rows = store.due(on, after, self.page_size, lo, hi)
            if not rows:
                return True
            if max_pages is not None and pages >= max_pages:
                return False
            after = (str(rows[-1]["contract_id"]), str(rows[-1]["patient_id"]))
            self._due_page([P.plan_from_row(r) for r in rows], on, now, summary)
            pages += 1
            summary.pages += 1
            advance(len(rows))

    def _due_page(
        self, plans: list[P.YearPlan], on: date, now: datetime, summary: RunSummary
    ) -> None:
        # the Patients are read whatever the channels: a deleted (or never loaded) resident
        # gets nothing, and keeps its plan's due slots for the case it is restored
        contacts = load_contacts(self.repo, [p.patient_id for p in plans], patients=True)
        pushes: list[M.Push] = []
        marks: list[dict[str, Any]] = []
        by_id = self.library.by_id()
        for plan in plans:
            if plan.patient_id not in contacts.patients:
                summary.without_patient += 1
                continue
            due = plan.due_slots(on)
            summary.residents += 1
            for slot in due:
                push = M.planned_push(
                    patient_id=plan.patient_id,
                    contract_id=plan.contract_id,
                    care_plan_id=plan.care_plan_id,
                    year_start=plan.year_start,
                    slot=slot.index,
                    due=slot.due,
                    item=by_id[slot.item],
                    personalised=slot.personalised,
                    sender=plan.sender,
                    term=slot.term,
                )
                pushes.append(self._deliver(push, plan.patient_id, contacts, on, now, summary))
            marks.append(P.mark_row(plan.with_created(s.index for s in due)))
        self._write(pushes, lambda tx: self._store(tx.unit_of_work).mark(marks))
        summary.created += len(pushes)

    def _write(self, pushes: list[M.Push], also: Callable[[Any], None] | None = None) -> None:
        """Pushes and the plan progress in one transaction; pushes that exist already (written
        by an earlier version of a plan) are left as they are."""
        instances = [Instance(p.skeleton(), p.values) for p in pushes]
        try:
            with self.repo.transaction() as tx:
                tx.create_instances("Communication", instances, self._cache)
                if also is not None:
                    also(tx)
            return
        except E.FhirError as exc:
            if exc.status != 409:
                raise
        existing = self._existing([p.id for p in pushes])
        fresh = [i for i, p in zip(instances, pushes, strict=True) if p.id not in existing]
        with self.repo.transaction() as tx:
            tx.create_instances("Communication", fresh, self._cache)
            if also is not None:
                also(tx)

    def _existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), 200):
            page = self.repo.search(
                ["Communication"], [("_id", ",".join(ids[i : i + 200]))], page_size=200
            )
            found.update(r.content["id"] for r in page.matches)
        return found

    # 5. alerts ------------------------------------------------------------------------------------
    def fan_out_alerts(self, on: date, now: datetime, summary: RunSummary) -> None:
        for alert in alerts_to_fan_out(self.repo, on):
            self._fan_out(alert, on, now, summary)
            if alert.over_by(on):
                complete_alert(self.repo, alert.id)

    def _fan_out(
        self, alert: alert_rules.Alert, on: date, now: datetime, summary: RunSummary
    ) -> None:
        store = self._store()
        after: str | None = None
        topic_text = "预警提醒：" + (
            str(alert.topic.get("display") or "")
            or self.library.displays.get(str(alert.topic.get("code")), "")
            or str(alert.topic.get("code", ""))
        )
        while True:
            contracts = store.contracts_in_force(on, after, self.page_size)
            if not contracts:
                return
            after = str(contracts[-1]["contract_id"])
            members = {pid: c for c in contracts for pid in c["patients"]}
            contacts = load_contacts(self.repo, list(members))
            near = [
                pid
                for pid, patient in contacts.patients.items()
                if any(
                    alert_rules.area_covers(a, d)
                    for a in alert.areas
                    for d in division_codes(patient)
                )
            ]
            sent_before = self._existing([M.alert_push_id(alert.id, p) for p in near])
            near = [p for p in near if M.alert_push_id(alert.id, p) not in sent_before]
            if not near:
                continue
            data = load_page(self.repo, near)
            pushes = []
            for pid in near:
                record = data.records.get(pid)
                if record is None:
                    continue
                pops = self.populations.of(record, on)
                if not alert_rules.reaches(alert, division_codes(record.patient), pops):
                    continue
                contract = members[pid]
                care_plan = care_plan_for(data.care_plans.get(pid, []), contract["contract_id"], on)
                push = M.alert_push(
                    patient_id=pid,
                    care_plan_id=str(care_plan["id"]) if care_plan else None,
                    request_id=alert.id,
                    topic=alert.topic,
                    topic_text=topic_text,
                    message=alert.message,
                    due=on,
                    sender=contract.get("sender"),
                )
                pushes.append(self._deliver(push, pid, contacts, on, now, summary))
            if pushes:
                self._write(pushes)
                summary.created += len(pushes)
                summary.alerts += len(pushes)

    # -- delivery --------------------------------------------------------------------------------
    def _deliver(
        self,
        push: M.Push,
        patient_id: str,
        contacts: Contacts,
        on: date,
        now: datetime,
        summary: RunSummary,
    ) -> M.Push:
        outcome = self._attempt(push.materialise(), patient_id, contacts, on, now, 0)
        values = dict(push.values)
        if outcome.sent:
            values[M.SENT] = fhir_instant(outcome.sent)
        if outcome.received:
            values[M.RECEIVED] = fhir_instant(outcome.received)
        body = M.with_outcome(
            push.body,
            outcome,
            M.SENT if outcome.sent else None,
            M.RECEIVED if outcome.received else None,
        )
        if outcome.status == "completed":
            summary.delivered += 1
        elif outcome.status == "preparation":
            summary.waiting += 1
        elif outcome.reason_code == "opted-out":
            summary.opted_out += 1
        else:
            summary.failed += 1
        return M.Push(body, values)

    def _attempt(
        self,
        body: Mapping[str, Any],
        patient_id: str,
        contacts: Contacts,
        on: date,
        now: datetime,
        previous_runs: int,
    ) -> M.Outcome:
        """One delivery run: the allowed channels in preference order until one takes it."""
        if not self.channels:
            return M.Outcome("preparation", previous_runs)
        runs = previous_runs + 1
        denied = denied_push_channels(contacts.consents.get(patient_id, []), on, communication=body)
        usable = [c for c in self.channels if c.channel not in denied]
        if not usable:
            return M.Outcome(
                "not-done",
                runs,
                reason_code="opted-out",
                reason_text="居民已通过 Consent 退订推送渠道: " + ", ".join(sorted(denied)),
            )
        patient = contacts.patients.get(patient_id, {})
        failures: list[tuple[str, DeliveryReceipt]] = []
        for channel in usable:
            message = OutboundMessage(
                id=str(body["id"]),
                channel=channel.channel,
                patient_id=patient_id,
                title=str((body.get("topic") or {}).get("text", "")),
                text=str(body["payload"][0]["contentString"]),
                priority=str(body.get("priority", "routine")),
                kind=M.kind_of(body) or "routine",
                addresses=phone_numbers(patient),
            )
            try:
                receipt = channel.send(message)
            except Exception as exc:  # noqa: BLE001 - a broken adapter is a failed delivery
                receipt = DeliveryReceipt(ok=False, reason=f"{type(exc).__name__}: {exc}")
            if receipt.ok:
                if on != datetime.now(CHINA_TZ).date():  # a back-dated run records its own day
                    receipt = DeliveryReceipt(
                        ok=True,
                        attempts=receipt.attempts,
                        sent=now,
                        received=now if receipt.received else None,
                    )
                return M.Outcome(
                    "completed", runs, channel.channel, receipt.sent or now, receipt.received
                )
            failures.append((channel.channel, receipt))
        text = "; ".join(
            f"{name}: {r.reason or 'failed'} ({r.attempts} tries)" for name, r in failures
        )
        if all(r.permanent for _, r in failures):
            return M.Outcome("not-done", runs, reason_code="undeliverable", reason_text=text)
        if runs >= self.max_runs:
            return M.Outcome(
                "not-done",
                runs,
                reason_code="delivery-failed",
                reason_text=f"{text} — given up after {runs} delivery runs",
            )
        return M.Outcome("in-progress", runs, reason_code="delivery-failed", reason_text=text)

    def _now(self, on: date) -> datetime:
        real = self.repo.components.clock.now().astimezone(CHINA_TZ)
        return real if real.date() == on else datetime.combine(on, time(9, 0), CHINA_TZ)

    # -- preview ---------------------------------------------------------------------------------
    def preview(self, patient_id: str, on: date) -> Preview:
        """The resident's plan for the contract year holding `on`: the persisted plan if the
        year is planned, else the plan the next run would make (nothing is written)."""
        contracts = [
            c
            for c in _search_all(
                self.repo,
                "Contract",
                [("subject", f"Patient/{patient_id}"), ("status", "executed")],
            )
            if P.in_force(P.contract_row(c, None), on)
        ]
        if not contracts:
            raise E.unprocessable(
                [E.error("not-found", f"Patient/{patient_id} has no contract in force on {on}")]
            )
        row = P.contract_row(contracts[0], None)
        year_start, year_end = P.contract_year(row["starts_on"], row["ends_on"], on)
        data = load_page(self.repo, [patient_id])
        record = data.records.get(patient_id)
        if record is None:
            raise E.not_found("Patient", patient_id)
        populations = self.populations.of(record, on)
        if self.plans is not None:
            for stored in self._store().plans_of(patient_id):
                if (
                    stored["contract_id"] == row["contract_id"]
                    and stored["year_start"] == year_start
                ):
                    return Preview(row, P.plan_from_row(stored), populations, True)
        care_plan = care_plan_for(data.care_plans.get(patient_id, []), row["contract_id"], on)
        if care_plan is None:
            raise E.unprocessable(
                [E.error("not-found", f"Patient/{patient_id} has no CarePlan for its contract")]
            )
        history: frozenset[str] = frozenset()
        if self.plans is not None:
            history = _earlier_items(
                self._store().history([patient_id]).get(patient_id, ()), year_start
            )
        facts = facts_of(record, populations, on)
        planned = self._plan_for(
            personalised_candidates(facts, self.library.items), year_start, year_end, history
        )
        plan = P.new_plan(
            contract_id=row["contract_id"],
            patient_id=patient_id,
            year_start=year_start,
            year_end=year_end,
            care_plan_id=str(care_plan["id"]),
            sender=row.get("sender"),
            planned=planned,
            divisions=division_codes(record.patient),
        )
        return Preview(row, plan, populations, False)


def _earlier_items(history: Sequence[tuple[date, set[str]]], year_start: date) -> frozenset[str]:
    """Items planned in contract years before `year_start` (avoided while alternatives remain)."""
    return frozenset(item for start, items in history if start < year_start for item in items)


@dataclass(frozen=True)
class Preview:
    contract: Mapping[str, Any]
    plan: P.YearPlan
    populations: frozenset[str]
    persisted: bool


def _search_all(
    repo: Any, resource_type: str, query: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    from .loading import search_all

    return list(search_all(repo, resource_type, query))


def _task(task_id: str, on: date, now: datetime, status: str, s: RunSummary) -> dict[str, Any]:
    outputs: list[dict[str, Any]] = [
        {"type": {"text": name}, "valueInteger": getattr(s, name)}
        for name in (
            "contracts",
            "planned",
            "created",
            "alerts",
            "delivered",
            "failed",
            "opted_out",
            "retried",
            "pages",
        )
    ]
    return {
        "resourceType": "Task",
        "id": task_id,
        "status": status,
        "intent": "order",
        "code": {"text": "jiayi job: pushes"},
        "authoredOn": fhir_instant(now),
        "input": [{"type": {"text": "date"}, "valueDate": on.isoformat()}],
        "output": outputs,
    }
