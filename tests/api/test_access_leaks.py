"""The leaks an audit of the gate reproduced (issue 5, gap 1), each now closed, on both databases:
chains and `_has` through foreign resources, `_total`, paging cursors, history of deleted foreign
resources, 410 for deleted foreign resources, and strict referential integrity as an existence
oracle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.access_world import World, bundle_ids, cursor_ids, ids_in_text, make_world


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


@pytest.fixture
def strict_world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url, referential_integrity="strict")


def _get(world: World, url: str, headers: dict[str, str], **params: str) -> dict:
    r = world.client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_chain_cannot_test_a_foreign_patient(world: World) -> None:
    query = {"performer:Patient.birthdate": "1980-01-01"}
    # The administrator sees the chain match: oa's performer b was born in 1980 …
    assert bundle_ids(_get(world, "/fhir/Observation", world.admin(), **query)) == ["oa"]
    # … resident a may not learn b's birthdate by hit or miss.
    for headers in (world.resident(), world.doctor()):
        hit = _get(world, "/fhir/Observation", headers, **query)
        miss = _get(world, "/fhir/Observation", headers, **{"performer:Patient.birthdate": "1990"})
        assert bundle_ids(hit) == bundle_ids(miss) == []
    # Through a chain to a visible patient the chain works as usual.
    own = _get(
        world, "/fhir/Observation", world.resident(), **{"subject:Patient.birthdate": "1950-02-03"}
    )
    assert bundle_ids(own) == ["oa", "oa2", "oa3"]


def test_has_cannot_test_a_foreign_resource(world: World) -> None:
    query = {"_has:Observation:focus:code": "75325-1"}
    assert bundle_ids(_get(world, "/fhir/Patient", world.admin(), **query)) == ["a"]
    assert bundle_ids(_get(world, "/fhir/Patient", world.resident(), **query)) == []
    assert bundle_ids(_get(world, "/fhir/Patient", world.doctor(), **query)) == []


def test_chain_through_a_type_outside_the_scopes_is_403(world: World) -> None:
    headers = world.resident("patient/Observation.rs")
    r = world.client.get(
        "/fhir/Observation", params={"subject:Patient.name": "陈"}, headers=headers
    )
    assert r.status_code == 403
    issue = r.json()["issue"][0]
    assert issue["code"] == "forbidden" and "Patient" in issue["diagnostics"]
    r = world.client.get(
        "/fhir/Patient", params={"_has:Encounter:subject:status": "finished"},
        headers=world.resident("patient/Patient.rs"),
    )  # fmt: skip
    assert r.status_code == 403


def test_chained_sort_through_partly_visible_type_is_refused(world: World) -> None:
    r = world.client.get(
        "/fhir/Observation", params={"_sort": "subject:Patient.birthdate"}, headers=world.resident()
    )
    assert r.status_code == 403 and r.json()["issue"][0]["expression"] == ["_sort"]
    ok = world.client.get(
        "/fhir/Observation", params={"_sort": "subject:Patient.birthdate"}, headers=world.admin()
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "url, params, visible",
    [
        (
            "/fhir",
            {"_type": "Observation,Patient", "_total": "accurate"},
            ["a", "oa", "oa2", "oa3"],
        ),
        ("/fhir/Patient/b/Observation", {"_total": "accurate"}, ["oa"]),
        ("/fhir/Observation", {"_total": "accurate", "_count": "1"}, ["oa", "oa2", "oa3"]),
        ("/fhir/Observation", {"_summary": "count"}, ["oa", "oa2", "oa3"]),
    ],
)
def test_totals_count_only_visible_rows(
    world: World, url: str, params: dict[str, str], visible: list[str]
) -> None:
    body = _get(world, url, world.resident(), **params)
    assert body["total"] == len(visible)
    if params.get("_summary") != "count" and params.get("_count") != "1":
        assert bundle_ids(body) == visible


def test_system_search_total_is_the_visible_count(world: World) -> None:
    body = _get(world, "/fhir", world.resident(), _total="accurate", _count="1000")
    shown = bundle_ids(body)
    assert body["total"] == len(shown)
    assert not ids_in_text(body) and "a" in shown and "oa" in shown
    everything = _get(world, "/fhir", world.admin(), _total="accurate", _count="1000")
    assert everything["total"] > body["total"]


def test_paging_links_name_visible_rows_only(world: World) -> None:
    headers = world.resident()
    url: str | None = "/fhir/Observation?_count=1&_total=accurate"
    seen: list[str] = []
    while url:
        body = world.client.get(url, headers=headers).json()
        seen += bundle_ids(body)
        nxt = [link["url"] for link in body["link"] if link["relation"] == "next"]
        for link in nxt:
            assert not (cursor_ids(link) & {"ob", "ob2", "ob3", "secret"}), link
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert seen == ["oa", "oa2", "oa3"]


def test_includes_never_bring_foreign_resources(world: World) -> None:
    headers = world.resident()
    body = _get(world, "/fhir/Observation", headers, _id="oa", _include="Observation:performer")
    assert bundle_ids(body) == ["oa"]  # performer b is not included
    body = _get(world, "/fhir/Patient", headers, _revinclude="Observation:focus")
    assert bundle_ids(body) == ["a"]  # b's Observation about a is not included
    doctor = _get(world, "/fhir/Patient", world.doctor(), _revinclude="Observation:subject")
    assert bundle_ids(doctor) == ["a", "oa", "oa2", "oa3"]


@pytest.mark.parametrize("url", ["/fhir/Observation/_history", "/fhir/_history"])
def test_history_hides_foreign_and_deleted_foreign_resources(world: World, url: str) -> None:
    body = _get(world, url, world.resident(), _count="1000")
    shown = {e["fullUrl"].rsplit("/", 1)[1] for e in body["entry"]}
    assert "gone" not in shown and not (shown & {"ob", "ob2", "ob3", "secret", "b"})
    assert "mine-gone" in shown and "oa" in shown
    assert not ids_in_text(body) and "total" not in body


def test_history_pages_are_refilled(world: World) -> None:
    body = _get(world, "/fhir/Observation/_history", world.resident(), _count="2")
    assert len(body["entry"]) == 2
    assert any(link["relation"] == "next" for link in body["link"])


def test_deleted_foreign_resources_are_not_found(world: World) -> None:
    headers = world.resident()
    client = world.client
    assert client.get("/fhir/Observation/gone", headers=headers).status_code == 404
    assert client.get("/fhir/Observation/gone/_history/1", headers=headers).status_code == 404
    assert client.get("/fhir/Observation/gone/_history/2", headers=headers).status_code == 404
    assert client.get("/fhir/Observation/gone/_history", headers=headers).status_code == 404
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    r = client.patch(
        "/fhir/Observation/gone",
        json=patch,
        headers={**headers, "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 404
    assert client.delete("/fhir/Observation/gone", headers=headers).status_code == 404
    # The caller's own deleted resource is gone (410), as the spec says.
    assert client.get("/fhir/Observation/mine-gone", headers=headers).status_code == 410
    assert client.get("/fhir/Observation/mine-gone/_history/2", headers=headers).status_code == 410
    assert client.get("/fhir/Observation/mine-gone/_history/1", headers=headers).status_code == 200
    # …and the foreign one is 410 for whoever may see it.
    assert client.get("/fhir/Observation/gone", headers=world.admin()).status_code == 410


def test_foreign_and_missing_look_the_same(world: World) -> None:
    headers = world.resident()
    foreign = world.client.get("/fhir/Observation/ob", headers=headers)
    missing = world.client.get("/fhir/Observation/nope", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"]


def test_strict_references_are_no_existence_oracle(strict_world: World) -> None:
    world = strict_world
    headers = world.resident()

    def create(target: str) -> dict:
        body = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/a"},
            "hasMember": [{"reference": f"Observation/{target}"}],
        }
        r = world.client.post("/fhir/Observation", json=body, headers=headers)
        assert r.status_code == 422, r.text
        return r.json()["issue"][0]

    foreign, missing = create("ob"), create("does-not-exist")
    assert foreign["code"] == missing["code"] == "not-found"
    assert foreign["diagnostics"].replace("ob", "X") == missing["diagnostics"].replace(
        "does-not-exist", "X"
    )
    ok = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/a"},
        "hasMember": [{"reference": "Observation/oa2"}],
    }
    assert world.client.post("/fhir/Observation", json=ok, headers=headers).status_code == 201
