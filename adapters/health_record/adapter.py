"""`HealthRecordAdapter`: the outbox consumer `health-record`.

Per batch of committed changes, per resident whose Patient compartment holds a changed resource
(a deletion counts for the residents of the content it deleted):

1. the resident's Consents are evaluated for `disclose` to the store (`ConsentRequest` with the
   store's Organization as actor, `JIAYI_HEALTH_RECORD_ORGANIZATION`): a denial of the whole
   record (a `deny` provision without `class`, or with class `Patient`) **withdraws** the
   resident from the store — the summary document and every resource of the record are
   deleted there; a denial of some types keeps those types out (and deletes them there);
2. otherwise the record is read (through the gate, as the system), the summary document built
   (`fhir_server.domain.sync.summary`) and **published** with the changed resources (all of
   them when the Consent itself changed or the resident is new, so a re-permitted resident is
   whole again) and the deletions.

Seqs of residents that went through are settled; when the store fails part-way, the rest stay
pending (`PartialDelivery`); a refusal by the store is reported per event, not retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir_server.auth.compartments import PatientCompartment
from fhir_server.core import errors as E
from fhir_server.domain.sync.ports import (
    HealthRecordStore,
    PartialDelivery,
    PermanentFailure,
    RecordRefused,
)
from fhir_server.domain.sync.record import compartment_types, patient_record
from fhir_server.domain.sync.summary import summary_document
from fhir_server.services.audit import disclosure_record
from fhir_server.services.consent import ConsentEvaluator, ConsentRequest
from fhir_server.services.every_match import search_all

Ref = tuple[str, str]


def _ref(resource: Mapping[str, Any]) -> Ref:
    return str(resource["resourceType"]), str(resource["id"])


#: What the store holds of a resident: their compartment, but not the audit trail (readable by
#: auditors only, issue 5 — and publishing it would audit a disclosure of each disclosure's
#: AuditEvent, without end).
RECORD_TYPES = [t for t in compartment_types() if t != "AuditEvent"]


class HealthRecordAdapter:
    consumer = "health-record"
    resource_types = frozenset(["Patient", *RECORD_TYPES])

    def __init__(self, store: HealthRecordStore, organization: str | None = None) -> None:
        self.store = store
        self.organization = organization

    # -- helpers ---------------------------------------------------------------------------------
    def _request(self, repo: Any) -> ConsentRequest:
        actors = frozenset({f"Organization/{self.organization}"} if self.organization else ())
        return ConsentRequest(actors, action="disclose", at=repo.components.clock.now())

    @staticmethod
    def _compartment(repo: Any) -> PatientCompartment:
        found = repo.components.compartment
        if found is not None:
            return found
        from fhir_server.search.registry import r4_registry

        return PatientCompartment(r4_registry(), base_url=repo.ctx.base_url)

    @staticmethod
    def _content(repo: Any, event: Any) -> dict[str, Any] | None:
        """The version's content; for a deletion, the content it deleted."""
        version = event.version_id - 1 if event.deleted else event.version_id
        if version < 1:
            return None
        try:
            return repo.vread(event.resource_type, event.resource_id, str(version)).content
        except E.FhirError:
            return None

    # -- one resident ------------------------------------------------------------------------------
    def sync_patient(
        self,
        repo: Any,
        consents: ConsentEvaluator,
        patient_id: str,
        changed: Sequence[Ref],
        deleted: Sequence[Ref],
        *,
        full: bool = False,
    ) -> str:
        """Publish or withdraw one resident; `published` / `withdrawn`."""
        request = self._request(repo)
        try:
            patient = repo.read("Patient", patient_id).content
        except E.FhirError as exc:
            if exc.status not in (404, 410):
                raise
            patient = None  # the Patient is gone: nothing of theirs may stay in the store
        rest = patient_record(repo, patient_id, types=RECORD_TYPES)
        record = ([patient] if patient is not None else []) + rest
        if patient is None or not consents.permits(patient_id, request, "Patient"):
            held = [_ref(r) for r in record] + list(changed) + list(deleted)
            self._withdraw(repo, patient_id, list(dict.fromkeys(held)))
            return "withdrawn"
        allowed: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for resource in record:
            rtype, rid = _ref(resource)
            ok = consents.permits(patient_id, request, rtype, f"{rtype}/{rid}")
            (allowed if ok else refused).append(resource)
        if not allowed or allowed[0] is not patient:
            self._withdraw(repo, patient_id, [_ref(r) for r in record])
            return "withdrawn"
        document = summary_document(
            patient, allowed[1:], base_url=repo.ctx.base_url, now=repo.components.clock.now()
        )
        current = {_ref(r): r for r in allowed}
        wanted = set(changed)
        sent = [r for ref, r in current.items() if full or ref in wanted]
        gone = list(dict.fromkeys([*deleted, *(_ref(r) for r in refused)]))
        refs = [f"{t}/{i}" for t, i in (_ref(r) for r in sent)]
        try:
            self.store.publish(patient_id, document, sent, gone)
        except Exception as exc:
            self._audit(repo, patient_id, "publish", refs, exc)
            raise
        self._audit(repo, patient_id, "publish", refs, None)
        return "published"

    def _withdraw(self, repo: Any, patient_id: str, held: list[Ref]) -> None:
        try:
            self.store.withdraw(patient_id, held)
        except Exception as exc:
            self._audit(repo, patient_id, "withdraw", [], exc)
            raise
        self._audit(repo, patient_id, "withdraw", [], None)

    def _audit(
        self, repo: Any, patient_id: str, what: str, refs: list[str], failure: Exception | None
    ) -> None:
        """An AuditEvent for what went to the store about one resident (issue 5: every
        disclosure), a withdrawal included (it names the resident to the store)."""
        sink = getattr(repo.components, "audit", None)
        if sink is None:
            return
        base = getattr(getattr(self.store, "http", None), "base_url", None)
        refused = isinstance(failure, RecordRefused)
        sink.record(
            disclosure_record(
                "health-record",
                f"Patient/{patient_id} {what} ({len(refs)} resources and the summary)"
                if what == "publish"
                else f"Patient/{patient_id} {what}",
                refs,
                delivered=failure is None,
                status=422 if refused else None,
                recipient=(
                    {"reference": f"Organization/{self.organization}"}
                    if self.organization
                    else {"display": "resident health-record store"}
                ),
                recipient_name="health-record store",
                endpoint=str(base) if base else None,
                at=repo.components.clock.now(),
                patients=[patient_id],
            )
        )

    # -- outbox consumer ---------------------------------------------------------------------------
    def deliver(self, repo: Any, events: Sequence[Any]) -> Mapping[int, str | None]:
        compartment = self._compartment(repo)
        patients_of: dict[int, set[str]] = {}
        work: dict[str, dict[str, Any]] = {}
        for event in events:
            content = self._content(repo, event)
            pids = set(compartment.patients(content)) if content is not None else set()
            patients_of[event.seq] = pids
            ref = (event.resource_type, event.resource_id)
            for pid in pids:
                item = work.setdefault(pid, {"changed": [], "deleted": [], "full": False})
                item["deleted" if event.deleted else "changed"].append(ref)
                if event.resource_type == "Consent" or (
                    event.resource_type == "Patient" and event.version_id == 1
                ):
                    item["full"] = True  # a Consent changed, or a new resident: all of it
        consents = ConsentEvaluator.for_repository(repo)
        consents.preload(work)
        done: dict[str, str | None] = {}
        for pid in sorted(work):
            item = work[pid]
            try:
                self.sync_patient(
                    repo, consents, pid, item["changed"], item["deleted"], full=item["full"]
                )
                done[pid] = None
            except RecordRefused as exc:
                done[pid] = f"Patient/{pid}: {exc}"
            except PermanentFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - transient: settle what went through
                raise PartialDelivery(
                    self._answers(patients_of, done), f"{type(exc).__name__}: {exc}"
                ) from exc
        return self._answers(patients_of, done)

    @staticmethod
    def _answers(
        patients_of: Mapping[int, set[str]], done: Mapping[str, str | None]
    ) -> dict[int, str | None]:
        """A seq is settled once every resident it concerns is (refused when one refused it)."""
        out: dict[int, str | None] = {}
        for seq, pids in patients_of.items():
            if all(p in done for p in pids):
                reasons = [r for p in sorted(pids) if (r := done[p]) is not None]
                out[seq] = "; ".join(reasons) if reasons else None
        return out

    # -- full publication ---------------------------------------------------------------------------
    def publish_all(self, repo: Any) -> str:
        """Publish (or withdraw) every resident in full (`jiayi jobs run health-record-publish`)."""
        consents = ConsentEvaluator.for_repository(repo)
        consents.preload(None)
        counts: dict[str, int] = {}
        for patient in search_all(repo, "Patient", []):
            outcome = self.sync_patient(repo, consents, str(patient["id"]), [], [], full=True)
            counts[outcome] = counts.get(outcome, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no residents"
