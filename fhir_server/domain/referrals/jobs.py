"""Scheduled referral jobs (粤(四) 预留号源/床位; 国卫办基层发〔2025〕21号 一(四)).

- `reserve-referral-slots`: tag the configured share of every active Schedule's future slots.
- `release-reserved-slots`: release reserved slots still unused a set time before they start
  (profiles/referrals/reservation-policy.json `releaseLeadHours`), so no capacity is wasted.
`jiayi jobs run release-reserved-slots --date 2026-03-02` acts as of that day (rules.job_instant).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ...core.jobs import JobSpec
from . import rules as R
from . import service as S
from .capacity import load_policy, release_due_slots, reserve_schedule


def release_reserved_slots(job: Any, on: date) -> str:
    repo = job.repo
    as_of = R.job_instant(on, repo.components.clock.now())
    released = release_due_slots(repo, as_of, load_policy(repo.components))
    return f"released {released} reserved slot(s) to the public as of {as_of.isoformat()}"


def reserve_referral_slots(job: Any, on: date) -> str:
    repo = job.repo
    policy = load_policy(repo.components)
    added = schedules = 0
    for schedule in list(S.search_all(repo, "Schedule", [("active", "true")])):
        added += reserve_schedule(repo, schedule["id"], policy)["added"]
        schedules += 1
    return f"reserved {added} more slot(s) across {schedules} schedule(s)"


JOBS = [
    JobSpec(
        "release-reserved-slots",
        "Release reserved referral slots and beds still unused a set time before they start",
        release_reserved_slots,
        "hourly",
    ),
    JobSpec(
        "reserve-referral-slots",
        "Reserve the configured share of every active Schedule's slots for referrals",
        reserve_referral_slots,
        "daily",
    ),
]
