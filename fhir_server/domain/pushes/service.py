"""The pushes job and preview (issue 7; 国卫办基层发〔2025〕21号（三）; 粤(三), 粤(七)).

`PushService.run(on)` walks the active contracts page by page (`Contract?status=executed`), and for
each resident with a CarePlan for the contract: plans the contract year (`rules.plan_year`, keeping
what was already sent), creates the pushes due by `on` plus the alerts in force that reach the
resident, delivers each through the first channel the resident has not opted out of, and writes
them with the page's resume marker in one transaction.  The marker is a `Task`
(`Task/job-pushes-<date>`, output `cursor`), so an interrupted run resumes after the last committed
page; ids derived from the push's purpose make re-runs create nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from ..alerts import rules as alert_rules
from ..alerts.service import active_alerts
from . import messages as M
from .content import ContentLibrary
from .loading import PageData, care_plan_for, load_page, search_all
from .ports import KeyPopulations, MessageSender, OutboundMessage
from .record import (
    ALL_CHANNELS,
    ResidentRecord,
    division_codes,
    facts_of,
    opted_out_channels,
    phone_numbers,
)
from .rules import PlannedPush, contract_year_start, month_slots, plan_year
from .solar_terms import CHINA_TZ

CONTRACT_TEAM_EXT = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"


@dataclass
class RunSummary:
    date: date
    contracts: int = 0
    residents: int = 0
    created: int = 0
    delivered: int = 0
    failed: int = 0
    opted_out: int = 0
    alerts: int = 0
    retried: int = 0
    without_care_plan: int = 0
    pages: int = 0
    resumed: bool = False
    finished: bool = False

    def line(self) -> str:
        state = "done" if self.finished else "interrupted"
        return (
            f"pushes {self.date}: {state}{' (resumed)' if self.resumed else ''}; "
            f"{self.contracts} contracts, {self.residents} residents, {self.created} created "
            f"({self.alerts} alerts), {self.delivered} delivered, {self.failed} failed, "
            f"{self.opted_out} opted out, {self.retried} retried, "
            f"{self.without_care_plan} without CarePlan"
        )


@dataclass(frozen=True)
class ResidentPlan:
    contract: Mapping[str, Any]
    care_plan: Mapping[str, Any]
    year_start: date
    plan: list[PlannedPush]
    sent: frozenset[int]  # slots already pushed


@dataclass
class PushService:
    repo: Any
    library: ContentLibrary
    populations: KeyPopulations
    channels: Sequence[MessageSender] = ()
    page_size: int = 200
    max_attempts: int = 3
    progress: Any = None  # callable(n_contracts) for progress bars
    _alerts: list[alert_rules.Alert] = field(default_factory=list)

    # -- the job ---------------------------------------------------------------------------------
    def run(self, on: date, *, max_pages: int | None = None) -> RunSummary:
        summary = RunSummary(on)
        now = self._now(on)
        summary.retried = self._retry_pending(now)
        self._alerts = active_alerts(self.repo, on)
        task_id = f"job-pushes-{on.strftime('%Y%m%d')}"
        task = self.repo.current_or_none("Task", task_id)
        cursor = None
        if task is not None and not task.deleted and task.content.get("status") == "in-progress":
            cursor = _output(task.content, "cursor")
            summary.resumed = True
        while max_pages is None or summary.pages < max_pages:
            query = [("status", "executed")] + ([("_cursor", cursor)] if cursor else [])
            page = self.repo.search(["Contract"], query, page_size=self.page_size)
            contracts = [r.content for r in page.matches]
            cursor = page.next_cursor
            bodies = self._page(contracts, on, now, summary)
            with self.repo.transaction() as tx:
                for body in bodies:
                    tx.update("Communication", body["id"], body)
                tx.update("Task", task_id, _task(task_id, on, now, cursor, summary))
            summary.pages += 1
            if self.progress:
                self.progress(len(contracts))
            if not cursor:
                summary.finished = True
                break
        return summary

    def _page(
        self, contracts: list[dict[str, Any]], on: date, now: datetime, summary: RunSummary
    ) -> list[dict[str, Any]]:
        active = [c for c in contracts if _in_force(c, on)]
        members = [(c, pid) for c in active for pid in _subjects(c)]
        summary.contracts += len(active)
        data = load_page(self.repo, [pid for _, pid in members])
        bodies: list[dict[str, Any]] = []
        for contract, pid in members:
            record = data.records.get(pid)
            if record is None:
                continue
            summary.residents += 1
            plan = self._resident_plan(record, contract, data, on)
            if plan is None:
                summary.without_care_plan += 1
                continue
            for body in self._due(record, plan, data, on):
                bodies.append(self._deliver(body, record, on, now, summary))
                summary.created += 1
        return bodies

    def _resident_plan(
        self, record: ResidentRecord, contract: Mapping[str, Any], data: PageData, on: date
    ) -> ResidentPlan | None:
        care_plan = care_plan_for(data.care_plans.get(record.patient_id, []), contract["id"], on)
        if care_plan is None:
            return None
        start = date.fromisoformat(contract["applies"]["start"][:10])
        year_start = contract_year_start(start, on)
        fixed: dict[int, tuple[str, bool]] = {}
        before: set[str] = set()
        by_url = {i.url: i.id for i in self.library.items}
        for push in data.pushes.get(record.patient_id, []):
            slot = M.parse_slot(push)
            item = by_url.get(next(iter(push.get("instantiatesCanonical", [])), ""))
            if slot is None or item is None:
                continue
            if slot[0] == contract["id"] and slot[1] == year_start:
                fixed[slot[2]] = (item, M.kind_of(push) == "personalised")
            else:
                before.add(item)
        facts = facts_of(record, self.populations.of(record, on), on)
        slots = month_slots(year_start)
        end = contract["applies"].get("end")
        if end:
            slots = [s for s in slots if s.start.isoformat() <= end[:10]]
        plan = plan_year(facts, slots, self.library, fixed, before)
        return ResidentPlan(contract, care_plan, year_start, plan, frozenset(fixed))

    def _due(
        self, record: ResidentRecord, plan: ResidentPlan, data: PageData, on: date
    ) -> list[dict[str, Any]]:
        pid, cid = record.patient_id, plan.contract["id"]
        sender = contract_team(plan.contract)
        out = [
            M.planned_push(
                patient_id=pid,
                contract_id=cid,
                care_plan_id=plan.care_plan["id"],
                year_start=plan.year_start,
                slot=p.slot.index,
                due=p.slot.due,
                item=p.item,
                personalised=p.personalised,
                sender=sender,
            )
            for p in plan.plan
            if p.slot.due <= on and p.slot.index not in plan.sent
        ]
        existing = {p["id"] for p in data.pushes.get(pid, [])}
        divisions = division_codes(record.patient)
        populations = self.populations.of(record, on) if self._alerts else frozenset()
        for alert in self._alerts:
            if M.alert_push_id(alert.id, pid) in existing:
                continue
            if alert_rules.reaches(alert, divisions, populations):
                out.append(
                    M.alert_push(
                        patient_id=pid,
                        care_plan_id=plan.care_plan["id"],
                        request_id=alert.id,
                        topic=alert.topic,
                        message=alert.message,
                        due=on,
                        sender=sender,
                    )
                )
        return out

    # -- delivery --------------------------------------------------------------------------------
    def _deliver(
        self,
        body: dict[str, Any],
        record: ResidentRecord,
        on: date,
        now: datetime,
        summary: RunSummary,
    ) -> dict[str, Any]:
        if M.kind_of(body) == "alert":
            summary.alerts += 1
        denied = opted_out_channels(record.consents, on)
        usable = [
            c for c in self.channels if c.channel not in denied and ALL_CHANNELS not in denied
        ]
        if not usable and self.channels:
            summary.opted_out += 1
            return M.opted_out(body, sorted(denied))
        if not usable:
            return body  # no channel wired: stays in preparation until one is
        channel = usable[0]
        message = OutboundMessage(
            id=body["id"],
            channel=channel.channel,
            patient_id=record.patient_id,
            title=str(body.get("topic", {}).get("text", "")),
            text=body["payload"][0]["contentString"],
            priority=body.get("priority", "routine"),
            kind=M.kind_of(body) or "routine",
            addresses=phone_numbers(record.patient),
        )
        receipt = channel.send(message)
        if on != datetime.now(CHINA_TZ).date():  # a back-dated run records its own date
            receipt = _restamp(receipt, now)
        out = M.with_delivery(body, channel.channel, receipt, self.max_attempts)
        if out["status"] == "completed":
            summary.delivered += 1
        else:
            summary.failed += 1
        return out

    def _retry_pending(self, now: datetime) -> int:
        """Pushes left in preparation (no channel then, or a crash) or in-progress (failed) get
        another try on this run."""
        if not self.channels:
            return 0
        query = [("status", "preparation,in-progress"), ("category", f"{M.KIND_SYSTEM}|")]
        pending = list(search_all(self.repo, "Communication", query))
        count = 0
        for body in pending:
            pid = str(body["subject"]["reference"]).split("/", 1)[1]
            data = load_page(self.repo, [pid])
            record = data.records.get(pid)
            if record is None:
                continue
            summary = RunSummary(now.date())
            updated = self._deliver(body, record, now.date(), now, summary)
            self.repo.update("Communication", body["id"], updated)
            count += 1
        return count

    def _now(self, on: date) -> datetime:
        real = self.repo.components.clock.now().astimezone(CHINA_TZ)
        return real if real.date() == on else datetime.combine(on, time(9, 0), CHINA_TZ)

    # -- preview ---------------------------------------------------------------------------------
    def preview(self, patient_id: str, on: date) -> tuple[ResidentPlan, ResidentRecord]:
        """The resident's plan for the contract year containing `on` (nothing is written)."""
        from ...core import errors as E

        contracts = [
            c
            for c in search_all(
                self.repo,
                "Contract",
                [("subject", f"Patient/{patient_id}"), ("status", "executed")],
            )
            if _in_force(c, on)
        ]
        if not contracts:
            raise E.unprocessable(
                [E.error("not-found", f"Patient/{patient_id} has no contract in force on {on}")]
            )
        data = load_page(self.repo, [patient_id])
        record = data.records.get(patient_id)
        if record is None:
            raise E.not_found("Patient", patient_id)
        plan = self._resident_plan(record, contracts[0], data, on)
        if plan is None:
            raise E.unprocessable(
                [E.error("not-found", f"Patient/{patient_id} has no CarePlan for its contract")]
            )
        return plan, record


def _in_force(contract: Mapping[str, Any], on: date) -> bool:
    applies = contract.get("applies") or {}
    start, end = str(applies.get("start") or ""), str(applies.get("end") or "")
    day = on.isoformat()
    return bool(start) and start[:10] <= day and (not end or day <= end[:10])


def _subjects(contract: Mapping[str, Any]) -> list[str]:
    return [
        str(s["reference"]).split("/", 1)[1]
        for s in contract.get("subject", [])
        if str(s.get("reference", "")).startswith("Patient/")
    ]


def contract_team(contract: Mapping[str, Any]) -> dict[str, Any] | None:
    for ext in contract.get("extension", []):
        if ext.get("url") == CONTRACT_TEAM_EXT and "valueReference" in ext:
            return dict(ext["valueReference"])
    return None


def _restamp(receipt: Any, now: datetime) -> Any:
    from dataclasses import replace

    return replace(
        receipt,
        sent=now if receipt.sent else None,
        received=now if receipt.received else None,
    )


def _output(task: Mapping[str, Any], name: str) -> str | None:
    for out in task.get("output", []):
        if out.get("type", {}).get("text") == name:
            return out.get("valueString")
    return None


def _task(
    task_id: str, on: date, now: datetime, cursor: str | None, s: RunSummary
) -> dict[str, Any]:
    from ...core.clock import fhir_instant

    outputs: list[dict[str, Any]] = [
        {"type": {"text": "created"}, "valueInteger": s.created},
        {"type": {"text": "pages"}, "valueInteger": s.pages + 1},
    ]
    if cursor:
        outputs.append({"type": {"text": "cursor"}, "valueString": cursor})
    return {
        "resourceType": "Task",
        "id": task_id,
        "status": "in-progress" if cursor else "completed",
        "intent": "order",
        "code": {"text": "jiayi job: pushes"},
        "authoredOn": fhir_instant(now),
        "input": [{"type": {"text": "date"}, "valueDate": on.isoformat()}],
        "output": outputs,
    }
