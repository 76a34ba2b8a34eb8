"""`/metadata` describes this server, and everything it lists answers (R4 capabilitystatement.html).

The statement is walked: for every resource type, every interaction and conditional flag it claims
is exercised against a real instance of that type (an empty one where R4 allows it, else the first
official example the server accepts); then the system-level interactions.  An interaction that is
listed but not routed would answer 404/405/501 and fail here.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.conformance.ig import load_ig_resources
from tests.api.conftest import BASE
from tests.support.r4_package import REFUSED_EXAMPLES, official_examples

FHIR = {"Content-Type": "application/fhir+json"}
PATCH = {"Content-Type": "application/json-patch+json"}


def _statement(client: TestClient) -> dict[str, Any]:
    r = client.get("/fhir/metadata")
    assert r.status_code == 200
    return r.json()


def test_statement_is_valid_and_names_this_server(client: TestClient) -> None:
    cs = _statement(client)
    components = client.app.state.components  # type: ignore[attr-defined]
    assert [i for i in components.validator.validate(cs) if i.is_error] == []
    assert cs["kind"] == "instance" and cs["fhirVersion"] == "4.0.1"
    assert cs["implementation"]["url"] == BASE and BASE in cs["implementation"]["description"]
    assert cs["software"]["name"] == "Jiayi" and cs["software"]["version"]
    assert cs["format"] == ["application/fhir+json", "json"]  # no XML: _format=xml is 406
    assert set(cs["patchFormat"]) == {"application/json-patch+json", "application/fhir+json"}
    assert cs["implementationGuide"] == [
        "https://jiayi.health/fhir/ImplementationGuide/jiayi.health.fhir"
    ]
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in cs["instantiates"]
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert len(resources) == 146
    for r in resources.values():
        assert r["versioning"] == "versioned-update" and r["readHistory"] and r["updateCreate"]
        assert r["conditionalCreate"] and r["conditionalUpdate"]
        assert r["conditionalDelete"] == "multiple" and r["conditionalRead"] == "full-support"


def test_supported_profiles_are_the_guides_and_enforced(client: TestClient) -> None:
    guide = {
        r["url"]: r["type"]
        for r in load_ig_resources()
        if r.get("resourceType") == "StructureDefinition"
        and r.get("kind") == "resource"
        and r.get("derivation") == "constraint"
    }
    listed = {
        url: r["type"]
        for r in _statement(client)["rest"][0]["resource"]
        for url in r.get("supportedProfile", [])
    }
    assert listed == guide and len(listed) >= 30
    # A resource claiming a listed profile is held to it (an empty Patient is not a resident).
    profile = next(url for url, t in listed.items() if t == "Patient")
    claimed = {"resourceType": "Patient", "meta": {"profile": [profile]}}
    assert client.post("/fhir/Patient", json=claimed, headers=FHIR).status_code == 422
    assert (
        client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FHIR).status_code
        == 201
    )


#: Types whose writes domain rules govern beyond R4: an instance those rules accept.
DOMAIN_INSTANCES: dict[str, dict[str, Any]] = {
    # Subscriptions are topic-based (R4 backport): criteria names one of the server's topics.
    "Subscription": {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "capability walk",
        "criteria": "https://jiayi.health/fhir/SubscriptionTopic/contract-renewed",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://receiver.test/hook",
            "payload": "application/fhir+json",
        },
    },
}


def _instance(
    client: TestClient, rtype: str, examples: dict[str, list[dict[str, Any]]]
) -> dict[str, Any] | None:
    """A stored instance of `rtype`: empty if R4 allows it, else the first accepted example."""
    candidates = [DOMAIN_INSTANCES.get(rtype, {"resourceType": rtype}), *examples.get(rtype, [])]
    for body in candidates:
        body = {k: v for k, v in body.items() if k not in ("id", "meta")}
        r = client.post(f"/fhir/{rtype}", json=body, headers=FHIR)
        if r.status_code == 201:
            return r.json()
    return None


def _examples_by_type() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, resource in official_examples():
        if name not in REFUSED_EXAMPLES:
            out.setdefault(resource["resourceType"], []).append(resource)
    return out


def _walk_type(client: TestClient, entry: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    rtype, rid = entry["type"], stored["id"]
    url = f"/fhir/{rtype}/{rid}"
    codes = {i["code"] for i in entry["interaction"]}
    problems: list[str] = []

    def expect(what: str, r: Any, *statuses: int) -> None:
        if r.status_code not in statuses:
            problems.append(f"{rtype} {what}: {r.status_code} {r.text[:160]}")

    if "read" in codes:
        expect("read", client.get(url), 200)
    if entry.get("conditionalRead") == "full-support":
        expect("conditional read", client.get(url, headers={"If-None-Match": 'W/"1"'}), 304)
    if "vread" in codes:
        expect("vread", client.get(f"{url}/_history/1"), 200)
    if "update" in codes:
        expect("update", client.put(url, json=stored, headers=FHIR), 200)
    if entry.get("updateCreate"):
        expect(
            "update-as-create",
            client.put(
                f"/fhir/{rtype}/uc-{rid[:8]}", json={**stored, "id": f"uc-{rid[:8]}"}, headers=FHIR
            ),
            201,
        )
    if "patch" in codes:
        patch = [{"op": "test", "path": "/id", "value": rid}]
        expect("patch", client.patch(url, json=patch, headers=PATCH), 200)
    if "history-instance" in codes:
        expect("history-instance", client.get(f"{url}/_history"), 200)
    if "history-type" in codes:
        expect("history-type", client.get(f"/fhir/{rtype}/_history?_count=1"), 200)
    if "search-type" in codes:
        expect("search-type", client.get(f"/fhir/{rtype}?_id={rid}"), 200)
    if entry.get("conditionalCreate"):
        body = {k: v for k, v in stored.items() if k not in ("id", "meta")}
        r = client.post(
            f"/fhir/{rtype}", json=body, headers={**FHIR, "If-None-Exist": f"_id={rid}"}
        )
        expect("conditional create", r, 200)
    if entry.get("conditionalUpdate"):
        expect(
            "conditional update",
            client.put(f"/fhir/{rtype}?_id={rid}", json=stored, headers=FHIR),
            200,
        )
    if "delete" in codes:
        expect("delete", client.delete(url), 200, 204)
        expect("read after delete", client.get(url), 410)
    if entry.get("conditionalDelete") in ("single", "multiple"):
        expect("conditional delete", client.delete(f"/fhir/{rtype}?_id=uc-{rid[:8]}"), 200, 204)
    return problems


def test_every_listed_interaction_answers(client: TestClient) -> None:
    cs = _statement(client)
    rest = cs["rest"][0]
    examples: dict[str, list[dict[str, Any]]] | None = None
    problems: list[str] = []
    for entry in rest["resource"]:
        if "create" not in {i["code"] for i in entry["interaction"]}:
            problems.append(f"{entry['type']}: no create listed, cannot walk")
            continue
        stored = _instance(client, entry["type"], {})
        if stored is None:
            examples = examples if examples is not None else _examples_by_type()
            stored = _instance(client, entry["type"], examples)
        if stored is None:
            problems.append(f"{entry['type']}: no instance could be created")
            continue
        problems += _walk_type(client, entry, stored)
    system = {i["code"] for i in rest["interaction"]}
    assert system == {"transaction", "batch", "search-system", "history-system"}
    for kind in ("transaction", "batch"):
        bundle = {
            "resourceType": "Bundle",
            "type": kind,
            "entry": [
                {
                    "resource": {"resourceType": "Basic", "code": {"text": kind}},
                    "request": {"method": "POST", "url": "Basic"},
                }
            ],
        }
        r = client.post("/fhir", json=bundle, headers=FHIR)
        if r.status_code != 200 or r.json()["entry"][0]["response"]["status"] != "201 Created":
            problems.append(f"{kind}: {r.status_code} {r.text[:160]}")
    if client.get("/fhir?_type=Basic&_count=1").status_code != 200:
        problems.append("search-system")
    if client.get("/fhir/_history?_count=1").status_code != 200:
        problems.append("history-system")
    assert not problems, "\n".join(problems)


def test_system_search_parameters_and_named_queries_are_listed_and_answer(
    client: TestClient,
) -> None:
    rest = _statement(client)["rest"][0]
    names = {p["name"] for p in rest["searchParam"]}
    assert {"_id", "_lastUpdated", "_tag", "_has", "_type", "_filter"} <= names
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    named = [o for o in patient["operation"] if o["name"] == "contracted-residents"]
    assert named and named[0]["definition"].endswith(
        "/OperationDefinition/query-contracted-residents"
    )
    assert any(o["name"] == "everything" for o in patient["operation"])  # the routed ones stay
    ok = client.get("/fhir/Patient?_query=contracted-residents&care-team=CareTeam/x")
    assert ok.status_code == 200 and ok.json()["type"] == "searchset"
    assert "_query=contracted-residents" in ok.json()["link"][0]["url"]
    bad = client.get("/fhir/Patient?_query=no-such-query")
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["_query"]
    assert client.get("/fhir?_lastUpdated=ge2020-01-01").status_code == 200
