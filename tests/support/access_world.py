"""A small world of residents, a family-doctor team and their records, for access-control tests.

Patients `a` and `b`; doctor `d1` (PractitionerRole `r1` at Organization `chc`, CareTeam `t1`)
is contracted to `a` only.  Every record of `b` is foreign to `a`'s resident token and to `d1`;
`oa` is `a`'s Observation that names `b` as performer (so it is in both compartments, as R4
says); `secret` is `b`'s Observation whose `focus` is `a` (not in `a`'s compartment); `gone` is
`b`'s deleted Observation and `mine-gone` `a`'s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import parse_scopes
from fhir_server.auth.store import AuthStore
from fhir_server.auth.tokens import SigningKeys, TokenService
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings

BASE = "http://testserver/fhir"
TEAM_EXT = "https://jiayi.health/fhir/StructureDefinition/contract-care-team"


def _obs(oid: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": extra.pop("code", "8480-6")}]},
        "subject": {"reference": f"Patient/{subject}"},
        **extra,
    }


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "a", "name": [{"family": "陈"}], "birthDate": "1950-02-03"},
    {"resourceType": "Patient", "id": "b", "name": [{"family": "林"}], "birthDate": "1980-01-01"},
    _obs("oa", "a", performer=[{"reference": "Patient/b"}]),
    _obs("oa2", "a"),
    _obs("oa3", "a", code="8462-4"),
    _obs("ob", "b"),
    _obs("ob2", "b"),
    _obs("ob3", "b"),
    _obs("secret", "b", code="75325-1", focus=[{"reference": "Patient/a"}]),
    _obs("gone", "b"),
    _obs("mine-gone", "a"),
    {"resourceType": "Encounter", "id": "ea", "status": "finished", "class": {"code": "AMB"},
     "subject": {"reference": "Patient/a"}},
    {"resourceType": "Encounter", "id": "eb", "status": "finished", "class": {"code": "AMB"},
     "subject": {"reference": "Patient/b"}},
    {"resourceType": "Practitioner", "id": "d1", "name": [{"family": "王"}]},
    {"resourceType": "Practitioner", "id": "d2", "name": [{"family": "李"}]},
    {"resourceType": "Organization", "id": "chc", "name": "Community health centre"},
    {"resourceType": "Organization", "id": "hosp", "name": "City hospital"},
    {"resourceType": "PractitionerRole", "id": "r1",
     "practitioner": {"reference": "Practitioner/d1"},
     "organization": {"reference": "Organization/chc"}},
    {"resourceType": "CareTeam", "id": "t1", "status": "active",
     "participant": [{"member": {"reference": "PractitionerRole/r1"}}]},
    {"resourceType": "Contract", "id": "c1", "status": "executed",
     "subject": [{"reference": "Patient/a"}], "authority": [{"reference": "Organization/chc"}],
     "applies": {"start": "2020-01-01", "end": "2099-12-31"},
     "extension": [{"url": TEAM_EXT, "valueReference": {"reference": "CareTeam/t1"}}]},
    {"resourceType": "Contract", "id": "c-old", "status": "executed",
     "subject": [{"reference": "Patient/b"}], "authority": [{"reference": "Organization/chc"}],
     "applies": {"start": "2001-01-01", "end": "2002-12-31"},
     "extension": [{"url": TEAM_EXT, "valueReference": {"reference": "CareTeam/t1"}}]},
]  # fmt: skip
FOREIGN_IDS = {"b", "ob", "ob2", "ob3", "secret", "gone", "eb", "c-old"}
DELETED = ("gone", "mine-gone")

RESIDENT = {
    "kind": "patient",
    "role": "resident",
    "fhir_user": "Patient/a",
    "patient": "a",
}
DOCTOR = {"kind": "user", "role": "doctor", "fhir_user": "Practitioner/d1"}


@dataclass
class World:
    client: TestClient
    tokens: TokenService
    repo: FhirRepository

    def headers(self, scope: str, **principal: Any) -> dict[str, str]:
        fields = {"subject": "u", "client_id": "app", **principal}
        token, _, _ = self.tokens.access_token(Principal(scopes=parse_scopes(scope), **fields))
        return {"Authorization": f"Bearer {token}"}

    def resident(self, scope: str = "patient/*.cruds") -> dict[str, str]:
        return self.headers(scope, **RESIDENT)

    def doctor(self, scope: str = "user/*.cruds") -> dict[str, str]:
        return self.headers(scope, **DOCTOR)

    def admin(self) -> dict[str, str]:
        return self.headers("user/*.cruds", kind="user", role="admin", fhir_user="Practitioner/d2")


def make_world(database_url: str, **settings: Any) -> Iterator[World]:
    values: dict[str, Any] = {"background_tasks": False, **settings}
    config = Settings(database_url=database_url, base_url=BASE, auth="smart", **values)
    components = build_components(config)
    repo = FhirRepository(RequestContext(BASE, system_name="test-setup"), components)
    components.database.upgrade()  # type: ignore[attr-defined]
    for resource in RESOURCES:
        repo.update(resource["resourceType"], resource["id"], resource)
    for rid in DELETED:
        repo.delete("Observation", rid)
    app = create_app(config, components=components)
    store = AuthStore(components.database.engine)  # type: ignore[attr-defined]
    tokens = TokenService(SigningKeys.load_or_create(store), BASE, 900, store)
    with TestClient(app) as client:
        yield World(client, tokens, repo)


def bundle_ids(bundle: dict[str, Any]) -> list[str]:
    return sorted(
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("resource", {}).get("resourceType") != "OperationOutcome"
    )


def ids_in_text(
    body: Any,
    forbidden: set[str] | frozenset[str] | None = None,
    echoed: set[str] | frozenset[str] = frozenset(),
) -> set[str]:
    """Foreign ids a response shows: as entries (`id`, `fullUrl`), in paging links and their
    cursors, in OperationOutcome diagnostics and in AuditEvent-free totals' neighbours.  A
    reference inside a visible resource of the caller's own (oa names b as performer) is the
    caller's own data, not a leak; nor is an id the request itself named (`echoed`) repeated
    in a link or a not-found message — as long as it never appears as an entry."""
    import re

    def has(text: str, rid: str) -> bool:
        # as a resource id in a URL or a `Type/id` message: after a slash or a quote
        return re.search(rf"(?<=[/'\"=,]){re.escape(rid)}(?![\w-])", text) is not None

    shown: set[str] = set()
    texts: list[str] = []
    if isinstance(body, dict):
        if body.get("resourceType") == "OperationOutcome":
            texts += [str(i.get("diagnostics", "")) for i in body.get("issue", [])]
        if body.get("id"):
            shown.add(str(body["id"]))
        for link in body.get("link", []) or []:
            texts.append(link.get("url", ""))
            shown |= cursor_ids(link.get("url", ""))
        for entry in body.get("entry", []) or []:
            texts.append(str(entry.get("fullUrl", "")))
            res = entry.get("resource") or {}
            if res.get("resourceType") == "OperationOutcome":
                texts += [str(i.get("diagnostics", "")) for i in res.get("issue", [])]
            elif res.get("id"):
                shown.add(str(res["id"]))
            if entry.get("response", {}).get("location"):
                texts.append(entry["response"]["location"])
            outcome = entry.get("response", {}).get("outcome")
            if outcome:
                texts += [str(i.get("diagnostics", "")) for i in outcome.get("issue", [])]
    hidden = FOREIGN_IDS if forbidden is None else forbidden
    return {i for i in hidden if i in shown or (i not in echoed and any(has(t, i) for t in texts))}


def cursor_ids(url: str) -> set[str]:
    """Ids named inside the `_cursor` of a paging link (base64 JSON)."""
    from urllib.parse import parse_qs, urlsplit

    out: set[str] = set()
    for token in parse_qs(urlsplit(url).query).get("_cursor", []):
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(json.loads(raw)["p"])
        out |= {str(x) for x in payload[0]}
    return out
