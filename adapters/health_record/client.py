"""`FhirStoreClient`: the health-record store's FHIR REST API (implements
`fhir_server.domain.sync.ports.HealthRecordStore`).

Each publication is one FHIR `transaction` Bundle POSTed to the store's base (R4 http.html
#transaction): `PUT Bundle/<summary id>` (the document), `PUT <Type>/<id>` per changed resource,
`DELETE <Type>/<id>` per deleted one — all idempotent, so a resend after a crash changes nothing.
A withdrawal is a transaction of DELETEs.  Large publications go in several transactions of at
most `batch_size` entries (the document in the first); a 413 halves the batch.

Answers: 2xx done; 400 / 404 / 409 / 412 / 422 → `RecordRefused` with the store's
OperationOutcome diagnostics; 401 / 403 → `PermanentFailure` (credentials); transport errors,
429 and 5xx → `StoreUnavailable` (transient: the outbox backs off and retries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from fhir_server.domain.sync.ports import PermanentFailure, RecordRefused

FHIR_JSON = "application/fhir+json"


class StoreUnavailable(Exception):
    """Transient: try again later."""


class _TooLarge(Exception):
    pass


def summary_id(patient_id: str) -> str:
    """The stable id of a resident's summary document in the store (FHIR ids ≤ 64 chars)."""
    plain = f"summary-{patient_id}"
    if len(plain) <= 64:
        return plain
    return "summary-" + hashlib.sha256(patient_id.encode()).hexdigest()[:48]


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    issues = body.get("issue") if isinstance(body, dict) else None
    if issues:
        texts = [
            str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code"))
            + (f" at {', '.join(i['expression'])}" if i.get("expression") else "")
            for i in issues
        ]
        return f"HTTP {response.status_code}: " + "; ".join(texts)
    return f"HTTP {response.status_code}: {response.text[:300]}"


class FhirStoreClient:
    def __init__(self, http: httpx.Client, *, batch_size: int = 200) -> None:
        self.http = http
        self.batch_size = batch_size

    def _transaction(self, entries: Sequence[Mapping[str, Any]]) -> None:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}
        try:
            r = self.http.post(
                "",
                content=orjson.dumps(bundle),
                headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= r.status_code < 300:
            return
        if r.status_code in (401, 403):
            raise PermanentFailure(f"the health-record store refused our credentials: {_reason(r)}")
        if r.status_code == 413:
            raise _TooLarge(_reason(r))
        if r.status_code in (400, 404, 409, 412, 422):
            raise RecordRefused(_reason(r))
        raise StoreUnavailable(_reason(r))

    def _send(self, entries: list[dict[str, Any]], size: int) -> None:
        for i in range(0, len(entries), size):
            chunk = entries[i : i + size]
            try:
                self._transaction(chunk)
            except _TooLarge as exc:
                if len(chunk) == 1:
                    raise RecordRefused(f"too large for the store: {exc}") from exc
                self._send(chunk, max(1, len(chunk) // 2))

    def publish(
        self,
        patient_id: str,
        document: Mapping[str, Any],
        resources: Sequence[Mapping[str, Any]],
        deleted: Sequence[tuple[str, str]],
    ) -> None:
        doc_id = summary_id(patient_id)
        entries: list[dict[str, Any]] = [
            {
                "fullUrl": f"Bundle/{doc_id}",
                "resource": {**document, "id": doc_id},
                "request": {"method": "PUT", "url": f"Bundle/{doc_id}"},
            }
        ]
        for resource in resources:
            ref = f"{resource['resourceType']}/{resource['id']}"
            entries.append(
                {
                    "fullUrl": ref,
                    "resource": dict(resource),
                    "request": {"method": "PUT", "url": ref},
                }
            )
        for rtype, rid in deleted:
            entries.append({"request": {"method": "DELETE", "url": f"{rtype}/{rid}"}})
        self._send(entries, self.batch_size)

    def withdraw(self, patient_id: str, references: Sequence[tuple[str, str]]) -> None:
        refs = [("Bundle", summary_id(patient_id)), *references]
        entries = [
            {"request": {"method": "DELETE", "url": f"{t}/{i}"}} for t, i in dict.fromkeys(refs)
        ]
        self._send(entries, self.batch_size)
