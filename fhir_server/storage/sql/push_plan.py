"""State of the health-push planner (issue 7; migration 0011_pushes_plan), so that a run of the
`pushes` job selects the due pushes in SQL instead of re-reading every contract and every push.

- `push_contract`: what the planner needs of each Contract (status, term, members, team, sender),
  kept in step with the Contracts changed since the last run (`push_state` `contracts-synced`),
  and `next_plan_on`, the day the next contract year must be planned.
- `push_plan`: one row per resident and contract year: the year's 12 monthly slots (start, due
  date, solar term, library item, personalised) as JSON, which are created (`done`, a bit per
  slot), the start of the first slot still to create (`next_start`) and the day from which every
  remaining slot is due (`catch_up_from`, the final month).  The rows change in the same
  transaction as the Communications they account for, so a run resumed after a crash creates
  nothing twice.
- `push_state`: named values (the contract watermark).

`push_plan.divisions` is the resident's GB/T 2260 divisions when the year was planned, kept for
the record and read by no selection: alert fan-out reads the current Patient (a resident who
moved must be reached where they live now), so a snapshot cannot narrow it.  The plan's progress
updates (`mark`) leave it alone; dropping the column would take a migration.

The domain (`fhir_server.domain.pushes`) sees plain dicts keyed by column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine

from .dialects import insert_ignoring_conflict, upsert
from .tables import Key, metadata

push_contract = Table(
    "push_contract",
    metadata,
    Column("contract_id", Key, primary_key=True),
    Column("status", String(32), nullable=False),
    Column("starts_on", Date, nullable=True),
    Column("ends_on", Date, nullable=True),  # inclusive, as Contract.applies.end
    Column("patients", JSON, nullable=False),  # member Patient ids
    Column("care_team", String(200), nullable=True),  # CareTeam reference
    Column("authority", String(200), nullable=True),  # Organization reference
    Column("sender", String(200), nullable=True),  # reference for Communication.sender
    Column("next_plan_on", Date, nullable=True),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    Index("ix_push_contract_plan", "status", "next_plan_on"),
)

push_plan = Table(
    "push_plan",
    metadata,
    Column("contract_id", Key, primary_key=True),
    Column("patient_id", Key, primary_key=True),
    Column("year_start", Date, primary_key=True),
    Column("year_end", Date, nullable=False),  # exclusive
    Column("care_plan_id", String(64), nullable=False),
    Column("sender", String(200), nullable=True),
    Column("slots", JSON, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("next_start", Date, nullable=True),
    Column("catch_up_from", Date, nullable=True),
    Column("status", String(16), nullable=False),  # active | stopped
    Column("divisions", String(400), nullable=False, server_default=","),  # ",440106,440305,"
    Column("planned_at", DateTime(timezone=True), nullable=False),
    Index("ix_push_plan_due", "status", "next_start"),
    Index("ix_push_plan_patient", "patient_id"),
)

push_state = Table(
    "push_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=True),
)

_CONTRACT_COLUMNS = (
    "status",
    "starts_on",
    "ends_on",
    "patients",
    "care_team",
    "authority",
    "sender",
    "synced_at",
)


def _row(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for name in ("starts_on", "ends_on", "next_plan_on", "year_start", "year_end"):
        if isinstance(out.get(name), str):  # SQLite without type detection
            out[name] = date.fromisoformat(out[name])
    return out


class SqlPushPlans:
    """The planner's tables over one connection (the unit of work's, so plan changes commit with
    the pushes) or, unbound, over short transactions of the engine."""

    def __init__(self, engine: Engine, conn: Connection | None = None) -> None:
        self.engine = engine
        self.conn = conn
        self.dialect = engine.dialect.name

    def _run(self, fn: Any) -> Any:
        if self.conn is not None:
            return fn(self.conn)
        with self.engine.begin() as conn:
            return fn(conn)

    # -- state ------------------------------------------------------------------------------------
    def get_state(self, name: str) -> str | None:
        return self._run(
            lambda c: (
                c.execute(select(push_state.c.value).where(push_state.c.name == name))
                .scalars()
                .first()
            )
        )

    def set_state(self, name: str, value: str) -> None:
        stmt = upsert(self.dialect, push_state, ("name",), ("value",))
        self._run(lambda c: c.execute(stmt, [{"name": name, "value": value}]))

    # -- contracts --------------------------------------------------------------------------------
    def contracts(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        t = push_contract
        return self._run(
            lambda c: {
                r.contract_id: _row(r)
                for r in c.execute(select(t).where(t.c.contract_id.in_(wanted)))
            }
        )

    def upsert_contracts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new contracts (`next_plan_on` = their start) or refresh known ones (their
        `next_plan_on` is kept: the contract years already planned stay planned)."""
        if not rows:
            return
        stmt = upsert(self.dialect, push_contract, ("contract_id",), _CONTRACT_COLUMNS)
        values = [
            {"contract_id": r["contract_id"], "next_plan_on": r["starts_on"]}
            | {k: r.get(k) for k in _CONTRACT_COLUMNS}
            for r in rows
        ]
        self._run(lambda c: c.execute(stmt, values))

    def contracts_to_plan(self, on: date, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Contracts in force on `on` whose next contract year is due for planning."""
        t = push_contract
        q = select(t).where(
            t.c.status == "executed",
            t.c.next_plan_on <= on,
            t.c.starts_on <= on,
            or_(t.c.ends_on.is_(None), t.c.ends_on >= on),
        )
        if after is not None:
            q = q.where(t.c.contract_id > after)
        q = q.order_by(t.c.contract_id).limit(limit)
        return self._run(lambda c: [_row(r) for r in c.execute(q)])

    def count_to_plan(self, on: date) -> int:
        t = push_contract
        q = select(func.count()).where(
            t.c.status == "executed",
            t.c.next_plan_on <= on,
            t.c.starts_on <= on,
            or_(t.c.ends_on.is_(None), t.c.ends_on >= on),
        )
        return int(self._run(lambda c: c.execute(q).scalar_one()))

    def set_next_plan(self, updates: Sequence[tuple[str, date | None]]) -> None:
        if not updates:
            return
        t = push_contract
        stmt = (
            update(t)
            .where(t.c.contract_id == bindparam("k_id"))
            .values(next_plan_on=bindparam("k_next"))
        )
        values = [{"k_id": cid, "k_next": nxt} for cid, nxt in updates]
        self._run(lambda c: c.execute(stmt, values))

    def end_plans(
        self, contract_id: str, year_end: date | None, catch_up_from: date | None = None
    ) -> None:
        """The contract's term moved: its plans end at `year_end` (exclusive) with their final
        month from `catch_up_from`; `year_end` None stops them (the contract is not in force)."""
        t = push_plan
        if year_end is None:
            stmt = update(t).where(t.c.contract_id == contract_id).values(status="stopped")
        else:
            stmt = (
                update(t)
                .where(t.c.contract_id == contract_id, t.c.year_end > year_end)
                .values(year_end=year_end, catch_up_from=catch_up_from)
            )
        self._run(lambda c: c.execute(stmt))

    # -- plans ------------------------------------------------------------------------------------
    def insert_plans(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            stmt = insert_ignoring_conflict(self.dialect, push_plan)
            self._run(lambda c: c.execute(stmt, [dict(r) for r in rows]))

    def history(self, patient_ids: Iterable[str]) -> dict[str, list[tuple[date, set[str]]]]:
        """Per resident, the library items planned for each of its contract years (one query)."""
        ids = sorted(set(patient_ids))
        out: dict[str, list[tuple[date, set[str]]]] = {}
        if not ids:
            return out
        t = push_plan
        q = select(t.c.patient_id, t.c.year_start, t.c.slots).where(t.c.patient_id.in_(ids))
        for pid, year_start, slots in self._run(lambda c: list(c.execute(q))):
            if isinstance(year_start, str):
                year_start = date.fromisoformat(year_start)
            out.setdefault(pid, []).append((year_start, {str(s["item"]) for s in slots}))
        return out

    def _due_where(self, on: date, lo: str | None, hi: str | None) -> Any:
        t = push_plan
        cond = and_(
            t.c.status == "active",
            t.c.next_start.is_not(None),
            t.c.year_start <= on,
            t.c.year_end > on,
            or_(t.c.next_start <= on, t.c.catch_up_from <= on),
        )
        if lo is not None:
            cond = and_(cond, t.c.contract_id >= lo)
        if hi is not None:
            cond = and_(cond, t.c.contract_id < hi)
        return cond

    def count_due(self, on: date, lo: str | None = None, hi: str | None = None) -> int:
        q = select(func.count()).select_from(push_plan).where(self._due_where(on, lo, hi))
        return int(self._run(lambda c: c.execute(q).scalar_one()))

    def due(
        self,
        on: date,
        after: tuple[str, str] | None,
        limit: int,
        lo: str | None = None,
        hi: str | None = None,
    ) -> list[dict[str, Any]]:
        """Plans with slots to create on `on`, in (contract, patient) order after `after`."""
        t = push_plan
        q = select(t).where(self._due_where(on, lo, hi))
        if after is not None:
            q = q.where(
                or_(
                    t.c.contract_id > after[0],
                    and_(t.c.contract_id == after[0], t.c.patient_id > after[1]),
                )
            )
        q = q.order_by(t.c.contract_id, t.c.patient_id).limit(limit)
        return self._run(lambda c: [_row(r) for r in c.execute(q)])

    def split_points(self, on: date, parts: int) -> list[str]:
        """Contract ids cutting the due plans into `parts` ranges of about equal size."""
        total = self.count_due(on)
        if parts < 2 or total < parts:
            return []
        t = push_plan
        points: list[str] = []
        for k in range(1, parts):
            q = (
                select(t.c.contract_id)
                .where(self._due_where(on, None, None))
                .order_by(t.c.contract_id)
                .offset(total * k // parts)
                .limit(1)
            )
            cid = self._run(lambda c, q=q: c.execute(q).scalar())
            if cid is not None and (not points or cid > points[-1]):
                points.append(str(cid))
        return points

    def mark(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """Record created slots: each update has the plan key, `done` and `next_start`."""
        if not updates:
            return
        t = push_plan
        stmt = (
            update(t)
            .where(
                t.c.contract_id == bindparam("k_contract"),
                t.c.patient_id == bindparam("k_patient"),
                t.c.year_start == bindparam("k_year"),
            )
            .values(
                done=bindparam("k_done"),
                next_start=bindparam("k_next"),
            )
        )
        values = [
            {
                "k_contract": u["contract_id"],
                "k_patient": u["patient_id"],
                "k_year": u["year_start"],
                "k_done": u["done"],
                "k_next": u["next_start"],
            }
            for u in updates
        ]
        self._run(lambda c: c.execute(stmt, values))

    def plans_of(self, patient_id: str) -> list[dict[str, Any]]:
        t = push_plan
        q = select(t).where(t.c.patient_id == patient_id).order_by(t.c.year_start)
        return self._run(lambda c: [_row(r) for r in c.execute(q)])

    def contracts_in_force(self, on: date, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Contracts in force on `on` (every member is a contracted resident: alert fan-out)."""
        t = push_contract
        q = select(t).where(
            t.c.status == "executed",
            t.c.starts_on <= on,
            or_(t.c.ends_on.is_(None), t.c.ends_on >= on),
        )
        if after is not None:
            q = q.where(t.c.contract_id > after)
        q = q.order_by(t.c.contract_id).limit(limit)
        return self._run(lambda c: [_row(r) for r in c.execute(q)])


#: A table whose rows changed by more than this share (and at least `_STALE_MIN` rows) since
#: PostgreSQL last analysed it has its planner statistics refreshed by `refresh_statistics`.
_STALE_SHARE = 0.1
_STALE_MIN = 1000


def _stale_tables(conn: Connection) -> list[str]:
    q = text(
        "SELECT relname FROM pg_stat_user_tables"
        " WHERE schemaname = current_schema()"
        " AND n_mod_since_analyze > greatest(:floor, :share * n_live_tup)"
        " ORDER BY relname"
    )
    return [str(r) for r in conn.execute(q, {"floor": _STALE_MIN, "share": _STALE_SHARE}).scalars()]


def refresh_statistics(engine: Engine) -> list[str]:
    """`ANALYZE` the tables the job has changed much since PostgreSQL last analysed them; returns
    their names (SQLite: nothing to do).

    The pushes job writes a month of Communications and a year of plans for every resident in
    one run, faster than autovacuum's analyse follows: with statistics from before, the planner
    takes the new rows for none and picks plans that are quadratic in them (a nested loop probing
    every Communication's index rows for `status=preparation,in-progress`: minutes for a few
    thousand pushes).  The job calls this once per run, after planning and before its retry
    and due steps (`PushService.run`): the pushes a run writes are analysed by the next run's
    call (or by autovacuum in between), which is when they are searched."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        stale = _stale_tables(conn)
        for name in stale:
            conn.execute(text(f'ANALYZE "{name}"'))
    return stale


class PushPlanFactory:
    """`factory(uow)`: the planner's tables bound to a unit of work (its connection), or, for
    `uow` None, over their own short transactions.  Built once by the composition root."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, uow: Any = None) -> SqlPushPlans:
        return SqlPushPlans(self.engine, uow.connection if uow is not None else None)

    def refresh_statistics(self) -> list[str]:
        return refresh_statistics(self.engine)
