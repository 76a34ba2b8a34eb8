"""The simulated regional health-record store: a minimal FHIR R4 endpoint (FastAPI).

- `POST /fhir` with a `transaction` Bundle of `PUT Type/id` and `DELETE Type/id` entries,
  all or nothing: each entry is checked (a resource whose type and id match the URL; a document
  Bundle must be `type` document with an `identifier`, a `timestamp` and a Composition first,
  every Composition reference resolvable inside it); any problem → 400 OperationOutcome naming
  the entry, nothing stored.
- `GET /fhir/{type}/{id}` → the stored resource (404 unknown, 410 deleted).
- Observations for tests: `received` lists every resource version PUT as
  `Type/id@<the sender's meta.versionId>`; a repeat of the same version is idempotent (stored
  once, counted in `repeats`); `documents` counts summary documents per resident.
- `POST /control {"mode": …}`: `normal`, `fail` (503), `unauthorized` (401), `refuse` (422 for
  every transaction).
State lives in the app instance (`StoreState`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class StoreState:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Type/id" → resource
    deleted: set[str] = field(default_factory=set)
    received: list[str] = field(default_factory=list)  # "Type/id@version" of each new version
    repeats: int = 0
    documents: dict[str, int] = field(default_factory=dict)  # patient reference → count
    transactions: int = 0
    mode: str = "normal"

    def holds(self, ref: str) -> bool:
        return ref in self.resources

    def of_patient(self, patient_id: str) -> list[str]:
        """References held that name Patient/<id> (the resident's part of the store)."""
        needle = f'"Patient/{patient_id}"'
        return sorted(
            ref
            for ref, res in self.resources.items()
            if ref == f"Patient/{patient_id}" or needle in json.dumps(res)
        )


def _outcome(status: int, text: str, where: str | None = None) -> JSONResponse:
    issue: dict[str, Any] = {"severity": "error", "code": "invalid", "diagnostics": text}
    if where:
        issue["expression"] = [where]
    return JSONResponse(
        {"resourceType": "OperationOutcome", "issue": [issue]},
        status,
        media_type="application/fhir+json",
    )


def _document_problem(bundle: dict[str, Any]) -> str | None:
    if bundle.get("type") != "document":
        return "a Bundle stored here must be a document"
    if not bundle.get("identifier") or not bundle.get("timestamp"):
        return "a document needs identifier and timestamp (bdl-9, bdl-10)"
    entries = bundle.get("entry") or []
    first = (entries[0].get("resource") or {}) if entries else {}
    if first.get("resourceType") != "Composition":
        return "the first entry of a document must be a Composition (bdl-11)"
    held = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries[1:]
        if isinstance(e.get("resource"), dict) and e["resource"].get("id")
    }
    for section in first.get("section") or []:
        if not (section.get("text") or section.get("entry") or section.get("section")):
            return "each section needs text, entries or sections (cmp-1)"
        for ref in section.get("entry") or []:
            if ref.get("reference") not in held:
                return f"the document does not contain {ref.get('reference')}"
    subject = (first.get("subject") or {}).get("reference")
    if subject not in held:
        return f"the document does not contain its subject {subject}"
    return None


def create_store(state: StoreState | None = None) -> FastAPI:
    state = state or StoreState()
    app = FastAPI(title="Health-record store (simulator)")
    app.state.store = state

    def check(i: int, entry: Any) -> tuple[str, str, dict[str, Any] | None] | JSONResponse:
        where = f"Bundle.entry[{i}]"
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            return _outcome(400, "entry.request is required in a transaction", where)
        method, url = request.get("method"), str(request.get("url", ""))
        rtype, _, rid = url.partition("/")
        if method not in ("PUT", "DELETE") or not rtype or not rid or "/" in rid:
            return _outcome(400, f"only PUT and DELETE of Type/id are accepted ({url})", where)
        resource = entry.get("resource")
        if method == "DELETE":
            return method, url, None
        if not isinstance(resource, dict):
            return _outcome(400, "a PUT needs a resource", f"{where}.resource")
        if resource.get("resourceType") != rtype or resource.get("id") != rid:
            return _outcome(400, f"the resource is not {url}", f"{where}.resource")
        if rtype == "Bundle" and (problem := _document_problem(resource)):
            return _outcome(400, problem, f"{where}.resource")
        return method, url, resource

    @app.post("/fhir")
    async def transaction(request: Request) -> JSONResponse:
        if state.mode == "fail":
            return _outcome(503, "the store is down for maintenance")
        if state.mode == "unauthorized":
            return _outcome(401, "invalid client credentials")
        try:
            bundle = json.loads(await request.body())
        except ValueError:
            return _outcome(400, "the body is not JSON")
        if state.mode == "refuse":
            return _outcome(422, "the store refuses this record", "Bundle")
        if not isinstance(bundle, dict) or bundle.get("type") != "transaction":
            return _outcome(400, "POST a transaction Bundle", "Bundle.type")
        checked = []
        for i, entry in enumerate(bundle.get("entry") or []):
            result = check(i, entry)
            if isinstance(result, JSONResponse):
                return result
            checked.append(result)
        out = []
        for method, url, resource in checked:  # all entries are valid: apply them all
            if method == "DELETE":
                state.resources.pop(url, None)
                state.deleted.add(url)
                out.append({"response": {"status": "204"}})
                continue
            assert resource is not None
            version = (resource.get("meta") or {}).get("versionId")
            key = f"{url}@{version}"
            if url.startswith("Bundle/"):
                subject = resource["entry"][0]["resource"].get("subject", {}).get("reference")
                state.documents[subject] = state.documents.get(subject, 0) + 1
            elif key in state.received and state.resources.get(url) == resource:
                state.repeats += 1  # the same version again: idempotent
                out.append({"response": {"status": "200"}})
                continue
            else:
                state.received.append(key)
            state.resources[url] = resource
            state.deleted.discard(url)
            out.append({"response": {"status": "200"}})
        state.transactions += 1
        return JSONResponse(
            {"resourceType": "Bundle", "type": "transaction-response", "entry": out},
            media_type="application/fhir+json",
        )

    app.add_api_route("/fhir/", transaction, methods=["POST"])  # base URLs with a slash

    @app.get("/fhir/{rtype}/{rid}")
    async def read(rtype: str, rid: str) -> JSONResponse:
        ref = f"{rtype}/{rid}"
        if ref in state.resources:
            return JSONResponse(state.resources[ref], media_type="application/fhir+json")
        if ref in state.deleted:
            return _outcome(410, f"{ref} was deleted")
        return _outcome(404, f"{ref} is not here")

    @app.post("/control")
    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        state.mode = body.get("mode", state.mode)
        return JSONResponse({"mode": state.mode})

    return app
