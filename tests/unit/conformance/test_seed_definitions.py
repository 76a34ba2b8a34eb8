"""Seeding the guide's definitions on both databases: every resource passes the server's validation,
and a second run writes nothing (INTERFACE.md: service packages are present in every database)."""

from __future__ import annotations

import pytest

from fhir_server.app import build_components
from fhir_server.conformance import ig
from fhir_server.conformance.ig import load_ig_resources
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.conformance.seed import seed_definitions
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.ports import HistoryQuery
from fhir_server.validation.pipeline import Validator
from tests.api.conftest import make_settings

RESOURCES = load_ig_resources()


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(R4Definitions.load())


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_every_resource_passes_base_validation(resource: dict, validator: Validator) -> None:
    errors = [i for i in validator.validate(resource) if i.is_error]
    assert errors == []


def test_seed_is_idempotent(database_url: str) -> None:
    components = build_components(make_settings(database_url))
    repo = FhirRepository(RequestContext("http://testserver/fhir", system_name="seed"), components)
    try:
        assert seed_definitions(repo) == len(RESOURCES)
        assert seed_definitions(repo) == 0
        plan = repo.read("PlanDefinition", "kp-hypertension")
        assert plan.version_id == 1
        assert plan.content["url"] == "https://jiayi.health/fhir/PlanDefinition/kp-hypertension"
        _records, total = repo.history(HistoryQuery("PlanDefinition", "basic-public-health"))
        assert total == 1
        changed = dict(plan.content, title="changed")
        assert seed_definitions(repo, [changed]) == 1
        assert seed_definitions(repo) == 1  # restores the file's content as version 3
        assert repo.read("PlanDefinition", "kp-hypertension").version_id == 3
    finally:
        components.database.dispose()


def test_the_shared_parsed_guide_is_left_as_read(database_url: str) -> None:
    """The guide is parsed once per process and shared (conformance.ig): seeding it, validating
    the guide's examples against their profiles and building the server must not change it."""
    components = build_components(make_settings(database_url))
    repo = FhirRepository(RequestContext("http://testserver/fhir", system_name="seed"), components)
    try:
        seed_definitions(repo)
        for example in load_ig_resources(include_examples=True):
            components.validator.validate(example, example.get("meta", {}).get("profile", ()))
    finally:
        components.database.dispose()
    shared = load_ig_resources(include_examples=True)
    ig._parsed.cache_clear()
    assert shared == load_ig_resources(include_examples=True)
