"""An ASGI test client over the real app, once per database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.settings import Settings

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
