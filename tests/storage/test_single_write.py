"""A write stores the same rows on both databases (PostgreSQL: in one statement,
`storage/sql/single_write.py`), and a lost race stores nothing at all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from fhir_server.app import build_components
from fhir_server.outbox.tables import outbox_delivery, outbox_event
from fhir_server.storage.ports import StoredResource, VersionConflict
from fhir_server.storage.sql.database import SqlDatabase
from fhir_server.storage.sql.search_tables import RESOURCE_TABLES, search_contained
from fhir_server.storage.sql.single_write import can_write_at_once, statement
from fhir_server.storage.sql.tables import resource_history
from tests.api.conftest import make_settings

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _db(database_url: str) -> SqlDatabase:
    db = build_components(make_settings(database_url)).database
    assert isinstance(db, SqlDatabase)
    return db


def _record(rid: str, version: int, content: dict[str, Any] | None) -> StoredResource:
    body = None
    if content is not None:
        body = {"resourceType": "Patient", "id": rid, "meta": {"versionId": str(version)}}
        body |= content
    return StoredResource("Patient", rid, version, NOW, content is None, body, "PUT")


def _index_counts(db: SqlDatabase, key: tuple[str, str]) -> dict[str, int]:
    with db.engine.connect() as conn:
        out = {
            t.name: int(
                conn.execute(
                    select(func.count()).where(t.c.res_type == key[0], t.c.res_id == key[1])
                ).scalar_one()
            )
            for t in RESOURCE_TABLES
        }
        out["contained"] = int(
            conn.execute(
                select(func.count()).where(
                    search_contained.c.container_type == "Patient",
                    search_contained.c.container_id == key[1],
                )
            ).scalar_one()
        )
    return {k: v for k, v in out.items() if v}


def _counts(db: SqlDatabase, rid: str) -> tuple[int, int, int]:
    with db.engine.connect() as conn:
        history = conn.execute(
            select(func.count()).where(resource_history.c.res_id == rid)
        ).scalar_one()
        events = conn.execute(select(func.count()).where(outbox_event.c.res_id == rid)).scalar_one()
        deliveries = conn.execute(
            select(func.count())
            .select_from(
                outbox_delivery.join(
                    outbox_event, outbox_delivery.c.event_seq == outbox_event.c.seq
                )
            )
            .where(outbox_event.c.res_id == rid)
        ).scalar_one()
    return int(history), int(events), int(deliveries)


def test_versions_replace_their_index_rows_and_a_deletion_leaves_none(database_url: str) -> None:
    db = _db(database_url)
    try:
        key = ("Patient", "sw1")
        contained = {
            "contained": [{"resourceType": "Organization", "id": "o", "name": "CHC"}],
            "managingOrganization": {"reference": "#o"},
        }
        with db.unit_of_work() as uow:
            uow.resources.write(_record("sw1", 1, {"gender": "male", **contained}), 0)
            uow.commit()
        first = _index_counts(db, key)
        assert first["search_token"] >= 1 and first["contained"] == 1
        with db.unit_of_work() as uow:
            current = uow.resources.current("Patient", "sw1", for_update=True)
            assert current is not None and current.version_id == 1
            uow.resources.write(_record("sw1", 2, {"birthDate": "1950-01-02"}), 1)
            uow.commit()
        second = _index_counts(db, key)
        assert "contained" not in second  # the old version's contained resource is gone
        assert second.get("search_date", 0) >= 1
        with db.unit_of_work() as uow:  # no read first: the previous version is not known
            uow.resources.write(_record("sw1", 3, {"gender": "female"}), 2)
            uow.commit()
        assert "search_date" not in _index_counts(db, key)
        with db.unit_of_work() as uow:
            uow.resources.write(_record("sw1", 4, None), 3)
            uow.commit()
        assert _index_counts(db, key) == {}
        assert _counts(db, "sw1")[0] == 4
    finally:
        db.dispose()


def test_a_lost_race_writes_nothing(database_url: str) -> None:
    db = _db(database_url)
    try:
        with db.unit_of_work() as uow:
            uow.resources.write(_record("sw2", 1, {"gender": "male"}), 0)
            uow.commit()
        before = (_counts(db, "sw2"), _index_counts(db, ("Patient", "sw2")))
        for version, previous in ((1, 0), (3, 2)):  # exists already / not the current version
            with db.unit_of_work() as uow:
                with pytest.raises(VersionConflict):
                    uow.resources.write(_record("sw2", version, {"gender": "female"}), previous)
                uow.commit()  # the transaction is intact: nothing of the write to commit
        assert (_counts(db, "sw2"), _index_counts(db, ("Patient", "sw2"))) == before
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("rows", "fresh", "expected"),
    [
        (None, False, True),
        ({"token": [{"param": "gender"}]}, False, True),
        ({"contained": [{"res_id": "x"}]}, True, True),  # a new resource: no old keys
        ({"contained": [{"res_id": "x"}]}, False, False),  # may reuse the old version's keys
        ({"number": [{"value": float("inf")}]}, True, False),  # not JSON
        ({"sort": [{"num_lo": float("nan")}]}, True, False),
        ({"sort": [{"num_lo": 1.5}]}, True, True),
    ],
)
def test_can_write_at_once(rows: Any, fresh: bool, expected: bool) -> None:
    assert can_write_at_once(rows, fresh) is expected


def test_statement_holds_only_the_parts_a_write_needs() -> None:
    create = statement(False, True, ("token",), False, False)
    assert "INSERT INTO search_token" in create and "search_string" not in create
    assert "DELETE" not in create and "outbox_event" not in create
    update = statement(True, True, (), True, False)
    assert update.count("DELETE FROM") == len(RESOURCE_TABLES)
    assert "outbox_delivery" in update
    with_contained = statement(True, True, (), False, True)
    assert with_contained.count("DELETE FROM") == 2 * len(RESOURCE_TABLES) + 1
