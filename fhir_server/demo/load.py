"""`jiayi demo` / `jiayi serve --demo`: load the demo district, idempotently.

Every resource has a fixed id and is written only when absent, so loading twice changes nothing.
The SMART demo accounts (one resident, one doctor, one administrator) and a public demo client are
registered, and `DemoSummary.lines()` says how to log in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..services.repository import FhirRepository
from .network import network
from .residents import households, resident_resources

DEMO_PASSWORD = "jiayi-demo-2026"
DEMO_CLIENT = "jiayi-demo-app"


@dataclass
class DemoSummary:
    stored: int = 0
    residents: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, fhirUser)

    def lines(self, base_url: str) -> list[str]:
        out = [f"demo data: {self.residents} residents, {self.stored} resources written this time"]
        out.append(
            f"SMART client '{DEMO_CLIENT}' (public, PKCE S256); authorize at {base_url.rsplit('/fhir', 1)[0]}/auth/authorize"
        )
        for username, role, who in self.accounts:
            out.append(f"  login {username} / {DEMO_PASSWORD}  ({role}, {who})")
        return out


def store_absent(
    repo: FhirRepository, resources: Iterable[dict[str, Any]], batch: int = 300
) -> int:
    """Write each resource that is not stored yet (in transactions of `batch`); returns how many."""
    written = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        if not pending:
            return
        with repo.transaction() as tx:
            for resource in pending:
                if tx.current_or_none(resource["resourceType"], resource["id"]) is None:
                    tx.update(resource["resourceType"], resource["id"], resource)
                    written += 1
        pending.clear()

    for resource in resources:
        pending.append(resource)
        if len(pending) >= batch:
            flush()
    flush()
    return written


def load_demo(
    repo: FhirRepository,
    register_accounts: Callable[[list[tuple[str, str, str, str | None, str | None]]], None]
    | None = None,
    *,
    residents: int = 1000,
    seed: int = 2026,
    on: date | None = None,
) -> DemoSummary:
    on = on or date.today()
    homes = households(residents, seed, on)
    summary = DemoSummary(residents=sum(len(h.members) for _, h in homes))
    summary.stored += store_absent(repo, network())
    summary.stored += store_absent(repo, resident_resources(homes, seed, on))
    first = homes[0][1].members[0]
    accounts = [
        ("resident", "resident", f"Patient/demo-p-{first.key}", f"demo-p-{first.key}", None),
        ("doctor", "doctor", "Practitioner/demo-dr-1", None, "demo-dr-1"),
        ("admin", "admin", "Practitioner/demo-dr-1", None, "demo-dr-1"),
    ]
    if register_accounts is not None:
        register_accounts([(u, r, w, p, pr) for u, r, w, p, pr in accounts])
    summary.accounts = [(u, r, w) for u, r, w, _, _ in accounts]
    return summary
