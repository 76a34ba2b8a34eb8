"""`SigningPlatformAdapter`: implements `fhir_server.domain.sync.ports.SigningPlatform`.

- outbound (an outbox consumer): each event's version is read through the repository gate, mapped
  (`mapping.to_record`) and pushed in batches; `accepted` and `duplicate` both mean the platform holds
  it (idempotency by record key + version), `rejected` is reported with the schema messages;
- reconcile: for a day (Asia/Shanghai calendar), local current records vs the platform's keys and
  checksums; missing or different ones are resent, extra ones reported;
- inbound: directory doctors and platform-signed contracts become PractitionerRole / Contract
  carrying the platform id as identifier; found again by that identifier, so no duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from . import mapping as M
from .client import SigningPlatformClient

CHINA = timezone(timedelta(hours=8))


def day_of(instant: datetime) -> str:
    when = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return when.astimezone(CHINA).date().isoformat()


class SigningPlatformAdapter:
    consumer = "signing-platform"
    resource_types = frozenset(M.RECORD_TYPES)

    def __init__(self, client: SigningPlatformClient) -> None:
        self.client = client

    # -- outbound ----------------------------------------------------------------------------------
    def _record(
        self, rtype: str, rid: str, version: int, when: datetime, content: Any
    ) -> dict[str, Any]:
        return M.to_record(rtype, rid, version, day_of(when), content)

    def deliver(self, repo: Any, events: Sequence[Any]) -> Mapping[int, str | None]:
        records, keys = [], {}
        for e in events:
            content = (
                None
                if e.deleted
                else repo.vread(e.resource_type, e.resource_id, str(e.version_id)).content
            )
            rec = self._record(e.resource_type, e.resource_id, e.version_id, e.occurred_at, content)
            records.append(rec)
            keys.setdefault(rec["record_key"], []).append(e.seq)
        result = self.client.push(records)  # PlatformUnavailable propagates: the outbox backs off
        answer: dict[int, str | None] = {}
        for key, seqs in keys.items():
            reason = result.rejected.get(key)
            for seq in seqs:
                answer[seq] = reason
        return answer

    # -- reconcile ---------------------------------------------------------------------------------
    def _local(self, repo: Any, day: date) -> dict[str, dict[str, Any]]:
        start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
        lo, hi = (
            start.astimezone(UTC).isoformat(),
            (start + timedelta(days=1)).astimezone(UTC).isoformat(),
        )
        out: dict[str, dict[str, Any]] = {}
        for rtype in sorted(M.RECORD_TYPES):
            cursor = None
            while True:
                q = [("_lastUpdated", f"ge{lo}"), ("_lastUpdated", f"lt{hi}"), ("_count", "500")]
                page = repo.search(
                    [rtype], q + ([("_cursor", cursor)] if cursor else []), page_size=500
                )
                for r in page.matches:
                    rec = self._record(rtype, r.id, r.version_id, r.last_updated, r.content)
                    out[rec["record_key"]] = rec
                cursor = page.next_cursor
                if not cursor:
                    break
        return out

    def reconcile(self, repo: Any, day: date) -> str:
        local = self._local(repo, day)
        remote = self.client.records(day.isoformat())
        resend = [r for k, r in local.items() if remote.get(k) != r["checksum"]]
        extra = sorted(set(remote) - set(local))
        result = self.client.push(resend) if resend else None
        rejected = len(result.rejected) if result else 0
        return (
            f"{day.isoformat()}: {len(local)} local, {len(remote)} on the platform, "
            f"{len(resend)} resent ({rejected} refused), {len(extra)} only on the platform"
        )

    # -- inbound -----------------------------------------------------------------------------------
    def _upsert(self, repo: Any, rtype: str, resource: dict[str, Any]) -> str:
        ident = resource["identifier"][0]
        found = repo.search(
            [rtype], [("identifier", f"{ident['system']}|{ident['value']}")]
        ).matches
        if not found:
            repo.create(rtype, resource)
            return "created"
        current = found[0].content
        merged = {**current, **resource, "id": current["id"]}
        if {k: v for k, v in merged.items() if k != "meta"} == {
            k: v for k, v in current.items() if k != "meta"
        }:
            return "unchanged"
        repo.update(rtype, current["id"], merged)
        return "updated"

    def import_inbound(self, repo: Any) -> str:
        counts: dict[str, int] = {}
        for d in self.client.directory():
            outcome = self._upsert(repo, "PractitionerRole", M.doctor_to_fhir(d))
            counts[outcome] = counts.get(outcome, 0) + 1
        for c in self.client.platform_contracts():
            outcome = self._upsert(repo, "Contract", M.contract_to_fhir(c))
            counts[outcome] = counts.get(outcome, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import"
