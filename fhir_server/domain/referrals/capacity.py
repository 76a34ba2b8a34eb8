"""Reserved capacity: tag a configured share of each Schedule's Slots for referrals, and release the
unused ones to the public a set time before they start.

Seed clauses: 粤(四) "各地要确定其他二、三级医院向基层预留的专家号源、住院床位比例"; 国卫办基层发〔2025〕21号
一(四) "按一定比例为基层签约居民预留门诊号源和住院床位，明确专家号源数量".  Shares and release lead
times: profiles/referrals/reservation-policy.json (rules.ReservationPolicy).  Each slot changes in its
own transaction under `lock("slot:<id>")`, the same lock a booking takes, so a release never races a
booking of the same slot.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...conformance.ig import load_ig_data
from ...core import errors as E
from ...core.clock import fhir_instant
from . import rules as R
from . import service as S
from .ports import Repo

POLICY_FILE = ("profiles", "referrals/reservation-policy.json")

#: Writers allowed to un-reserve a slot before its release time (rules_on_write.ReservationTagRule):
#: the release job (`jiayi jobs run release-reserved-slots`, or the in-process scheduler).
#: `$referral-reserve` and the reserve job only ever add the reservation tag, which is never refused.
RELEASE_WRITERS = frozenset({"job:release-reserved-slots"})


@lru_cache(maxsize=1)
def _shipped_policy() -> R.ReservationPolicy:
    return R.ReservationPolicy.from_json(load_ig_data(*POLICY_FILE))


@lru_cache(maxsize=8)
def _policy_file(path: str, _mtime_ns: int) -> R.ReservationPolicy:
    return R.ReservationPolicy.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def load_policy(components: Any = None) -> R.ReservationPolicy:
    """The reservation policy in force: the deploy's file (`JIAYI_RESERVATION_POLICY`, same shape as
    profiles/referrals/reservation-policy.json) when set, else the shipped one.  A changed file is
    picked up on its next use (cached by modification time)."""
    path = getattr(getattr(components, "settings", None), "reservation_policy", None)
    if path is None:
        return _shipped_policy()
    return _policy_file(str(path), Path(path).stat().st_mtime_ns)


def terms_for_schedule(
    repo: Repo, policy: R.ReservationPolicy, schedule: dict[str, Any]
) -> R.ReservationTerms:
    terms = policy.terms_for(
        S.schedule_hospital(repo, schedule),
        S.schedule_department(schedule),
        S.capacity_kind({}, schedule),
    )
    own = R.schedule_share(schedule)
    return terms if own is None else R.ReservationTerms(own, terms.release_lead)


def _retag(
    slot: dict[str, Any], add: tuple[str, str] | None, drop: tuple[str, str] | None
) -> dict[str, Any]:
    """The slot with one tag added and/or one dropped; a slot tagged reserved claims the guide's
    `jiayi-reserved-slot` profile, and gives the claim up with the tag."""
    out = dict(slot)
    meta = dict(out.get("meta") or {})
    tags = [
        t for t in meta.get("tag") or [] if drop is None or (t.get("system"), t.get("code")) != drop
    ]
    if add and not any((t.get("system"), t.get("code")) == add for t in tags):
        tags.append({"system": add[0], "code": add[1]})
    meta["tag"] = tags
    profiles = [p for p in meta.get("profile") or [] if p != R.RESERVED_SLOT_PROFILE]
    if R.is_reserved({"meta": meta}):
        profiles.append(R.RESERVED_SLOT_PROFILE)
    meta["profile"] = profiles
    meta = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated") and v != []}
    out["meta"] = meta
    if not meta:
        out.pop("meta")
    return out


def _change_slot(repo: Repo, slot_id: str, decide: Any) -> bool:
    """Re-read the slot under its lock and store `decide(slot)` unless it returns None."""
    with repo.transaction() as tx:
        tx.lock(f"slot:{slot_id}")
        record = tx.current_or_none("Slot", slot_id)
        if record is None or record.content is None:
            return False
        changed = decide(record.content)
        if changed is None:
            return False
        tx.update("Slot", slot_id, changed)
        return True


def reserve_schedule(repo: Repo, schedule_id: str, policy: R.ReservationPolicy) -> dict[str, int]:
    """Tag the configured share of the schedule's slots (idempotent: counts what is reserved or
    released already, then picks free future slots spread over the schedule)."""
    record = repo.current_or_none("Schedule", schedule_id)
    if record is None or record.content is None:
        raise E.not_found("Schedule", schedule_id)
    terms = terms_for_schedule(repo, policy, record.content)
    slots = sorted(
        S.search_all(repo, "Slot", [("schedule", f"Schedule/{schedule_id}")]),
        key=lambda s: s.get("start", ""),
    )
    target = R.reserved_target(len(slots), terms.share)
    have = sum(1 for s in slots if R.is_reserved(s) or R.was_released(s))
    now = S.now(repo)
    candidates = [
        s
        for s in slots
        if s.get("status") == "free"
        and not (R.is_reserved(s) or R.was_released(s))
        and (start := R.parse_instant(s.get("start"))) is not None
        and now < R.release_at(start, terms)
    ]
    picked = [candidates[i] for i in R.spread(len(candidates), target - have)]
    tag = (R.RESERVATION_SYSTEM, R.RESERVATION_CODE)
    added = sum(
        1
        for s in picked
        if _change_slot(
            repo,
            s["id"],
            lambda c: (
                _retag(c, tag, None) if c.get("status") == "free" and not R.is_reserved(c) else None
            ),
        )
    )
    return {"slots": len(slots), "target": target, "reserved": have + added, "added": added}


def release_due_slots(repo: Repo, as_of: datetime, policy: R.ReservationPolicy) -> int:
    """Release every reserved slot still free whose release time has come (and has not started)."""
    horizon = max((r.terms.release_lead for r in policy.rules), default=timedelta(0))
    query = [
        ("_tag", f"{R.RESERVATION_SYSTEM}|{R.RESERVATION_CODE}"),
        ("status", "free"),
        ("start", f"gt{fhir_instant(as_of)}"),
        ("start", f"le{fhir_instant(as_of + horizon)}"),
    ]
    terms_cache: dict[str, R.ReservationTerms] = {}
    released = 0
    for slot in list(S.search_all(repo, "Slot", query)):
        schedule_ref = (slot.get("schedule") or {}).get("reference") or ""
        if schedule_ref not in terms_cache:
            schedule = S.load(repo, schedule_ref, "Schedule") or {}
            terms_cache[schedule_ref] = terms_for_schedule(repo, policy, schedule)
        terms = terms_cache[schedule_ref]

        def decide(
            current: dict[str, Any], terms: R.ReservationTerms = terms
        ) -> dict[str, Any] | None:
            start = R.parse_instant(current.get("start"))
            if (
                start is None
                or current.get("status") != "free"
                or not R.is_reserved(current)
                or not R.release_due(start, terms, as_of)
            ):
                return None
            out = _retag(current, (R.MARKER_SYSTEM, "reservation-released"), None)
            return _retag(out, None, (R.RESERVATION_SYSTEM, R.RESERVATION_CODE))

        released += _change_slot(repo, slot["id"], decide)
    return released
