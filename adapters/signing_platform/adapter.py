"""`SigningPlatformAdapter`: implements `fhir_server.domain.sync.ports.SigningPlatform`.

- outbound (the outbox consumer `signing-platform`): each event's version is read through the
  repository gate, mapped (`mapping`) and pushed in batches; `accepted` and `duplicate` both mean
  the platform holds it (idempotency by record key + version + checksum), a refusal is reported
  with the schema messages.  What an event carries:
  - Contract, PractitionerRole, CareTeam, Organization: their own record (a doctor with its
    Practitioner's name, its service areas with boundaries, its HealthcareServices; a contract
    with its residents' ID numbers);
  - Practitioner, Location, HealthcareService: the doctor records of every PractitionerRole
    naming them (re-emitted: same version, new checksum, which the platform takes as a repair);
  - Patient: the contract records of that resident (ID number);
  - Encounter, Observation, Communication, Procedure, Immunization, CarePlan: the fulfilment
    summary (`$fulfillment`) of the resident's contracts in force, for the day of the change;
  - a version written by the inbound import and unchanged since (`mapping.is_echo`) is not sent
    back: the platform already holds it.
- reconcile (a day, Asia/Shanghai calendar): local current records of that day — deletions
  included, from history — vs the platform's keys and checksums; missing or different ones are
  resent; a record only on the platform is repaired (the newer local version resent, or a
  deletion sent for one unknown here); the platform's own (imported) records are left alone.
- inbound: directory doctors and platform-signed contracts become PractitionerRole / Contract
  carrying the platform id as identifier (found again by it: no duplicates); residents are found
  by their ID number (and created when new); service areas and hours are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from fhir_server.core import errors as E
from fhir_server.core.ids import new_id
from fhir_server.services.audit import disclosure_record
from fhir_server.storage.ports import HistoryQuery

from . import mapping as M
from .client import BatchResult, SigningPlatformClient

CHINA = timezone(timedelta(hours=8))
DIRECT_TYPES = frozenset(M.RECORD_TYPES)
DOCTOR_RELATED = {  # type → the PractitionerRole search parameter that names it
    "Practitioner": "practitioner",
    "Location": "location",
    "HealthcareService": "service",
}
DELIVERY_TYPES = frozenset(
    {"Encounter", "Observation", "Communication", "Procedure", "Immunization", "CarePlan"}
)
ID_NUMBER = M.ID_NUMBER_SYSTEMS[0]


def day_of(instant: datetime) -> str:
    when = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return when.astimezone(CHINA).date().isoformat()


def _all(repo: Any, rtype: str, query: list[tuple[str, str]]) -> list[Any]:
    """Every current match (StoredResource), following the cursor."""
    out, cursor = [], None
    while True:
        page = repo.search(
            [rtype], query + ([("_cursor", cursor)] if cursor else []), page_size=500
        )
        out += [r for r in page.matches if r.content is not None]
        cursor = page.next_cursor
        if not cursor:
            return out


class SigningPlatformAdapter:
    consumer = "signing-platform"
    resource_types = frozenset(DIRECT_TYPES | set(DOCTOR_RELATED) | DELIVERY_TYPES | {"Patient"})

    def __init__(self, client: SigningPlatformClient) -> None:
        self.client = client

    # -- records -----------------------------------------------------------------------------------
    @staticmethod
    def _read(repo: Any, rtype: str, rid: str | None) -> dict[str, Any] | None:
        if not rid:
            return None
        try:
            return repo.read(rtype, rid).content
        except E.FhirError:
            return None

    def _ids(self, refs: Any) -> list[str]:
        out = []
        for ref in refs or []:
            value = (ref or {}).get("reference")
            if isinstance(value, str) and "/" in value:
                out.append(value.rsplit("/", 1)[-1])
        return out

    def payload(self, repo: Any, rtype: str, content: Mapping[str, Any]) -> dict[str, Any]:
        """The payload of a current version, with the related resources it shows."""
        if rtype == "PractitionerRole":
            prac = content.get("practitioner") or {}
            practitioner = self._read(
                repo, "Practitioner", str(prac.get("reference", "")).rsplit("/", 1)[-1] or None
            )
            locations = [
                loc
                for i in self._ids(content.get("location"))
                if (loc := self._read(repo, "Location", i))
            ]
            services = [
                s
                for i in self._ids(content.get("healthcareService"))
                if (s := self._read(repo, "HealthcareService", i))
            ]
            return M.doctor_payload(content, practitioner, locations, services)
        if rtype == "Contract":
            residents = {
                i: p
                for s in content.get("subject") or []
                if str(s.get("reference", "")).startswith("Patient/")
                and (p := self._read(repo, "Patient", (i := s["reference"].split("/", 1)[1])))
            }
            return M.contract_payload(content, residents)
        return M.PAYLOADS[rtype](content)

    def record_of(
        self, repo: Any, rtype: str, rid: str, version: int, when: datetime, content: Any
    ) -> dict[str, Any]:
        payload = self.payload(repo, rtype, content) if content is not None else None
        key = M.record_key(rtype, rid, content or self._last_content(repo, rtype, rid, version))
        return M.envelope(M.RECORD_TYPES[rtype], key, version, day_of(when), payload)

    @staticmethod
    def _last_content(repo: Any, rtype: str, rid: str, version: int) -> dict[str, Any] | None:
        """For a deletion: the content it deleted (its platform identifier keys the record)."""
        if version <= 1:
            return None
        try:
            return repo.vread(rtype, rid, str(version - 1)).content
        except E.FhirError:
            return None

    def fulfilment_record(self, repo: Any, contract_id: str, day: str) -> dict[str, Any]:
        from fhir_server.domain.fulfilment import rules, service

        contract = self._read(repo, "Contract", contract_id)
        key = M.fulfilment_key(contract_id, day)
        if contract is None:
            return M.envelope(M.FULFILMENT, key, 1, day, None)
        tallies = service.contract_tallies(repo, contract, date.fromisoformat(day))
        payload = M.fulfilment_payload(
            M.platform_id(contract) or contract_id,
            day,
            rules.rate(tallies),
            [
                {
                    "code": t.code,
                    "title": t.title,
                    "due": t.due,
                    "done": t.done,
                    "overdue": t.overdue,
                    "declined": t.declined,
                }
                for t in tallies
            ],
        )
        return M.envelope(M.FULFILMENT, key, 1, day, payload)

    def _current_record(self, repo: Any, rtype: str, rid: str) -> dict[str, Any] | None:
        record = repo.current_or_none(rtype, rid)
        if record is None:
            return None
        return self.record_of(
            repo, rtype, rid, record.version_id, record.last_updated, record.content
        )

    def _contracts_in_force(self, repo: Any, patient_id: str) -> list[str]:
        found = _all(
            repo, "Contract", [("subject", f"Patient/{patient_id}"), ("status", "executed")]
        )
        return [r.id for r in found]

    # -- outbound ----------------------------------------------------------------------------------
    def records_for(self, repo: Any, event: Any) -> list[dict[str, Any]]:
        """The records one outbox event carries (none: nothing the platform needs)."""
        rtype, rid = event.resource_type, event.resource_id
        if rtype in DIRECT_TYPES:
            content = (
                None if event.deleted else repo.vread(rtype, rid, str(event.version_id)).content
            )
            if M.is_echo(content):
                return []  # the import wrote it from the platform's own record
            return [self.record_of(repo, rtype, rid, event.version_id, event.occurred_at, content)]
        if rtype in DOCTOR_RELATED:
            roles = _all(repo, "PractitionerRole", [(DOCTOR_RELATED[rtype], f"{rtype}/{rid}")])
            return [
                self.record_of(repo, r.resource_type, r.id, r.version_id, r.last_updated, r.content)
                for r in roles
            ]
        if rtype == "Patient":
            contracts = _all(repo, "Contract", [("subject", f"Patient/{rid}")])
            return [
                self.record_of(repo, "Contract", c.id, c.version_id, c.last_updated, c.content)
                for c in contracts
                if not M.is_echo(c.content)
            ]
        if rtype in DELIVERY_TYPES:
            compartment = repo.components.compartment
            body = self._event_content(repo, event)
            patients = compartment.patients(body) if body and compartment is not None else ()
            day = day_of(event.occurred_at)
            return [
                self.fulfilment_record(repo, cid, day)
                for pid in sorted(patients)
                for cid in self._contracts_in_force(repo, pid)
            ]
        return []

    @staticmethod
    def _event_content(repo: Any, event: Any) -> dict[str, Any] | None:
        """The event's version, or for a deletion the content it deleted."""
        version = event.version_id - 1 if event.deleted else event.version_id
        if version < 1:
            return None
        try:
            return repo.vread(event.resource_type, event.resource_id, str(version)).content
        except E.FhirError:
            return None

    def deliver(self, repo: Any, events: Sequence[Any]) -> Mapping[int, str | None]:
        records: dict[str, dict[str, Any]] = {}
        keys: dict[int, list[str]] = {}
        for e in events:
            keys[e.seq] = []
            for rec in self.records_for(repo, e):
                records[rec["record_key"]] = rec  # the latest state of a key wins
                keys[e.seq].append(rec["record_key"])
        result = self._push(repo, list(records.values()), "outbox")
        return {
            seq: (
                "; ".join(f"{k}: {result.rejected[k]}" for k in ks if k in result.rejected) or None
            )
            for seq, ks in keys.items()
        }

    def _push(self, repo: Any, records: list[dict[str, Any]], why: str) -> BatchResult:
        """Push records to the platform; the disclosure is audited, delivered or not (issue 5)."""
        if not records:
            return BatchResult()
        try:
            result = self.client.push(records)
        except Exception:
            self._audit(repo, records, why, delivered=False)
            raise
        accepted = [r for r in records if r["record_key"] not in result.rejected]
        if accepted:
            self._audit(repo, accepted, why, delivered=True)
        refused = [r for r in records if r["record_key"] in result.rejected]
        if refused:
            self._audit(repo, refused, why + " (refused)", delivered=False, status=422)
        return result

    def _audit(
        self,
        repo: Any,
        records: Sequence[dict[str, Any]],
        why: str,
        *,
        delivered: bool,
        status: int | None = None,
    ) -> None:
        sink = getattr(repo.components, "audit", None)
        if sink is None:
            return
        disclosed = []
        for rec in records:
            _kind, target, rid, _day = M.parse_key(str(rec["record_key"]))
            if target != "platform" and rid:
                disclosed.append(f"{target}/{rid}")
        base = getattr(getattr(self.client, "http", None), "base_url", None)
        sink.record(
            disclosure_record(
                "signing-platform",
                f"{len(records)} records ({why})",
                disclosed,
                delivered=delivered,
                status=status,
                recipient={"display": "provincial contract-signing platform"},
                recipient_name="signing platform",
                endpoint=str(base) if base else None,
                at=repo.components.clock.now(),
            )
        )

    # -- reconcile ---------------------------------------------------------------------------------
    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
        return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)

    def _deleted_on(self, repo: Any, rtype: str, lo: datetime, hi: datetime) -> Iterable[Any]:
        """Tombstones of `rtype` made in [lo, hi) that are still the current version."""
        before = None
        while True:
            page, _total = repo.history(
                HistoryQuery(resource_type=rtype, since=lo, before_seq=before, count=500)
            )
            for version in page:
                if version.deleted and version.last_updated < hi:
                    current = repo.current_or_none(rtype, version.id)
                    if current is not None and current.version_id == version.version_id:
                        yield version
            if len(page) < 500:
                return
            before = page[-1].seq

    def local_records(self, repo: Any, day: date) -> dict[str, dict[str, Any]]:
        """What the platform should hold for `day`: current records changed that day
        (deletions included) and the fulfilment summaries of that day's deliveries."""
        lo, hi = self._day_bounds(day)
        q = [("_lastUpdated", f"ge{lo.isoformat()}"), ("_lastUpdated", f"lt{hi.isoformat()}")]
        out: dict[str, dict[str, Any]] = {}
        for rtype in sorted(DIRECT_TYPES):
            for r in _all(repo, rtype, list(q)):
                if M.is_echo(r.content):
                    continue
                rec = self.record_of(repo, rtype, r.id, r.version_id, r.last_updated, r.content)
                out[rec["record_key"]] = rec
            for t in self._deleted_on(repo, rtype, lo, hi):
                rec = self.record_of(repo, rtype, t.id, t.version_id, t.last_updated, None)
                out[rec["record_key"]] = rec
        compartment = repo.components.compartment
        contracts: set[str] = set()
        for rtype in sorted(DELIVERY_TYPES):
            for r in _all(repo, rtype, list(q)):
                for pid in compartment.patients(r.content) if compartment is not None else ():
                    contracts.update(self._contracts_in_force(repo, pid))
        for cid in sorted(contracts):
            rec = self.fulfilment_record(repo, cid, day.isoformat())
            out[rec["record_key"]] = rec
        return out

    def _repair(self, repo: Any, key: str, held: Mapping[str, Any]) -> dict[str, Any] | None:
        """The record that corrects a key only the platform holds for a day (None: leave it)."""
        record_type, target, rid, day = M.parse_key(key)
        if record_type == M.FULFILMENT and day:
            return self.fulfilment_record(repo, rid, day)
        rtype = next((t for t, r in M.RECORD_TYPES.items() if r == record_type), None)
        if rtype is None:
            return None
        if target == "platform":
            found = _all(repo, rtype, [("identifier", f"{M.PLATFORM_SYSTEM}|{rid}")])
            if not found or M.is_echo(found[0].content):
                return None  # the platform's own record: not ours to repair
            r = found[0]
            return self.record_of(repo, rtype, r.id, r.version_id, r.last_updated, r.content)
        current = self._current_record(repo, rtype, rid)
        if current is not None:
            return current  # newer here: the platform missed it
        version = int(held.get("version", 1)) + 1  # unknown here: delete it there
        return M.envelope(record_type, key, version, held.get("day") or "1970-01-01", None)

    def _unknown(self, repo: Any, key: str) -> bool:
        record_type, target, rid, _day = M.parse_key(key)
        rtype = next((t for t, r in M.RECORD_TYPES.items() if r == record_type), None)
        return rtype is not None and target == rtype and repo.current_or_none(rtype, rid) is None

    def reconcile(self, repo: Any, day: date) -> str:
        local = self.local_records(repo, day)
        remote = self.client.records(day.isoformat())
        resend = [
            r for k, r in local.items() if (remote.get(k) or {}).get("checksum") != r["checksum"]
        ]
        empty = M.checksum({})
        # A deletion the platform holds for a record unknown here is already right.
        extra = sorted(
            k
            for k in set(remote) - set(local)
            if not (remote[k].get("checksum") == empty and self._unknown(repo, k))
        )
        repairs = []
        for key in extra:
            fix = self._repair(repo, key, {**remote[key], "day": day.isoformat()})
            if fix is not None:
                repairs.append(fix)
        result = self._push(repo, resend + repairs, f"reconcile {day.isoformat()}")
        return (
            f"{day.isoformat()}: {len(local)} local, {len(remote)} on the platform, "
            f"{len(resend)} resent, {len(extra)} only on the platform ({len(repairs)} repaired), "
            f"{len(result.rejected)} refused"
        )

    # -- inbound -----------------------------------------------------------------------------------
    def _upsert(self, repo: Any, rtype: str, resource: dict[str, Any]) -> str:
        ident = resource["identifier"][0]
        found = repo.search(
            [rtype], [("identifier", f"{ident['system']}|{ident['value']}")]
        ).matches
        current = found[0].content if found else None
        merged = {**(current or {}), **resource}
        if current is not None:
            merged["id"] = current["id"]
        body = {k: v for k, v in merged.items() if k != "meta"}
        if current is not None and body == {k: v for k, v in current.items() if k != "meta"}:
            return "unchanged"
        rid = current["id"] if current is not None else new_id()
        body["id"] = rid
        meta = {
            k: v
            for k, v in ((current or {}).get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")
        }
        # One version, marked as the platform's own so it is not sent back (`mapping.is_echo`).
        repo.update(rtype, rid, {**body, "meta": {**meta, "source": M.imported_source(body)}})
        return "created" if current is None else "updated"

    def _resident(self, repo: Any, number: str, name: str | None) -> str:
        for system in M.ID_NUMBER_SYSTEMS:
            found = repo.search(["Patient"], [("identifier", f"{system}|{number}")]).matches
            if found:
                return str(found[0].id)
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [{"system": ID_NUMBER, "value": number}],
        }
        if name:
            patient["name"] = [{"text": name}]
        return str(repo.create("Patient", patient).record.id)

    def import_inbound(self, repo: Any) -> str:
        counts: dict[str, int] = {}

        def count(outcome: str) -> None:
            counts[outcome] = counts.get(outcome, 0) + 1

        for d in self.client.directory():
            try:
                count(self._upsert(repo, "PractitionerRole", M.doctor_to_fhir(d)))
            except E.FhirError as exc:
                count(f"refused ({exc.issues[0].diagnostics})" if exc.issues else "refused")
        for c in self.client.platform_contracts():
            numbers = list(c.get("resident_id_numbers") or [])
            names = list(c.get("resident_names") or [])
            if not numbers:
                count("refused (no resident ID number)")
                continue
            try:
                residents = [
                    self._resident(repo, n, names[i] if i < len(names) else None)
                    for i, n in enumerate(numbers)
                ]
                role = None
                if c.get("doctor_id"):
                    found = repo.search(
                        ["PractitionerRole"],
                        [("identifier", f"{M.PLATFORM_SYSTEM}|{c['doctor_id']}")],
                    ).matches
                    role = found[0].id if found else None
                count(self._upsert(repo, "Contract", M.contract_to_fhir(c, residents, role)))
            except E.FhirError as exc:
                count(f"refused ({exc.issues[0].diagnostics})" if exc.issues else "refused")
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import"
