"""An ASGI test client over the real app, once per database backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.settings import Settings
from fhir_server.storage.sql.store import SqlResourceStore
from fhir_server.validation.pipeline import Validator, build_validator

BASE = "http://testserver/fhir"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"background_tasks": False, **overrides}
    return Settings(database_url=database_url, auth="off", base_url=BASE, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, components=build_components(settings))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def bulk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records each `write_new_many` call wrote."""
    calls: list[int] = []
    original = SqlResourceStore.write_new_many

    def spy(self: SqlResourceStore, records: Any, index_rows: Any) -> Any:
        calls.append(len(records))
        return original(self, records, index_rows)

    monkeypatch.setattr(SqlResourceStore, "write_new_many", spy)
    return calls


@pytest.fixture(scope="module")
def validator() -> Validator:
    """The full validation pipeline over the R4 definitions, built once per module."""
    return build_validator(R4Definitions.load())


@pytest.fixture
def vclient(settings: Settings, validator: Validator) -> Iterator[TestClient]:
    """A client of a server validating with `validator`."""
    app = create_app(settings, components=build_components(settings, validator=validator))
    with TestClient(app) as c:
        yield c
