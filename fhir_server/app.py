"""THE composition root: `create_app(settings)` builds every component and the FastAPI app.

It is the only place that picks SQLite or PostgreSQL, loads the definitions, and decides which
interactions are routed (and hence what the CapabilityStatement lists).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import Response

from .auth.compartments import PatientCompartment
from .conformance.capability import capability_statement, guide_profiles
from .conformance.ig import load_ig_resources
from .conformance.packages import data_file
from .core import errors as E
from .core.discovery import declared
from .interactions.bundle import handle_bundle
from .interactions.capabilities import handle_capabilities
from .interactions.router import INTERACTIONS, InteractionSpec
from .operations.registry import OperationRegistry, handle_operation
from .operations.registry import discover as discover_operations
from .rest.failures import failure_error
from .rest.fhir_api import build_router
from .rest.health import build_health_router
from .rest.middleware import RequestIdMiddleware
from .rest.responses import error_response
from .search.capability import search_capabilities, system_search_params
from .search.registry import SearchRegistry, server_registry
from .services.audit import BackgroundAuditWriter
from .services.context import ResourceTypes, ResourceValidator, ServerComponents, WriteRule
from .settings import Settings
from .storage.sql import SqlDatabase
from .storage.sql.push_plan import PushPlanFactory

log = logging.getLogger("jiayi")


def interaction_table() -> dict[str, InteractionSpec]:
    return {
        **INTERACTIONS,
        "capabilities": InteractionSpec("capabilities", "system", handle_capabilities),
        "batch-transaction": InteractionSpec("batch-transaction", "system", handle_bundle),
        "operation": InteractionSpec("operation", "system", handle_operation),
    }


def operation_definitions() -> dict[str, dict[str, Any]]:
    """OperationDefinitions by canonical URL: the R4 base ones and the guide's own."""
    from .conformance.ig import load_ig_resources

    base = orjson.loads(data_file("r4-operation-definitions.json").read_bytes())
    ours = [r for r in load_ig_resources() if r.get("resourceType") == "OperationDefinition"]
    return {d["url"]: d for d in [*base, *ours]}


def add_computed_parameters(registry: SearchRegistry) -> None:
    """Derived search parameters: `key-population` (Patient, and the Condition, RiskAssessment
    and Flag halves), rewritten from terminology/key-population-rules.json at the server's date."""
    from .domain.populations.search import key_population_params, server_today
    from .domain.populations.service import population_rules

    for param in key_population_params(population_rules(), server_today):
        registry.add_computed(param)


def discover_write_rules() -> tuple[WriteRule, ...]:
    """Every domain package's `rules_on_write.WRITE_RULES`, in package-name order."""
    return tuple(declared("rules_on_write", "WRITE_RULES"))


def full_validator(defs: Any) -> ResourceValidator:
    """The whole validation pipeline (structure, base invariants and bindings, claimed profiles,
    the guide's extensions, the checks INTERFACE.md makes unconditional), with bindings expanded
    from the guide's and R4's package terminology (no database round trip on a write)."""
    from .terminology.adapters import members
    from .terminology.service import TerminologyService
    from .terminology.sources import package_source
    from .validation.pipeline import build_validator

    terminology = TerminologyService(package_source())
    return build_validator(defs, terminology=lambda url: members(terminology, url))


def build_components(
    settings: Settings,
    *,
    database: SqlDatabase | None = None,
    types: ResourceTypes | None = None,
    validator: ResourceValidator | None = None,
) -> ServerComponents:
    from .conformance.r4 import R4Definitions

    defs = R4Definitions.load()
    registry = server_registry()  # R4 (errata fixed) + the guide's SearchParameters + computed
    add_computed_parameters(registry)
    from .outbox.wiring import Integrations, build_writer
    from .subscriptions.topics import subscription_capability

    outbox = build_writer(settings)  # changes for subscriptions and adapters, in each transaction
    db = database or SqlDatabase(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        registry=registry,
        base_url=settings.public_base,
        outbox=outbox,
    )
    if isinstance(db, SqlDatabase) and db.outbox is None:
        db.outbox = outbox
    compartment = PatientCompartment.for_access(registry, base_url=settings.public_base)
    table = interaction_table()
    codes = set(table) | {"transaction", "batch"}
    operations = OperationRegistry(discover_operations(), operation_definitions())
    security = None
    if settings.auth == "smart":
        from .auth.smart import SmartConfig, security_extension

        security = security_extension(SmartConfig.from_settings(settings))
    search = search_capabilities(registry)  # searchParam / searchInclude / searchRevInclude
    statement = capability_statement(
        base_url=settings.public_base,
        security=security,
        resource_types=sorted(defs.resource_types),
        interactions=codes,
        search_params={t: p["searchParam"] for t, p in search.items() if "searchParam" in p},
        operations=operations.capability_entries(None),
        resource_extras={
            t: {
                **{k: v for k, v in search.get(t, {}).items() if k != "searchParam"},
                **(
                    {"operation": ops}
                    if (
                        ops := [
                            *operations.capability_entries(t),
                            *search.get(t, {}).get("operation", []),  # named queries (_query)
                        ]
                    )
                    else {}
                ),
            }
            for t in defs.resource_types
        }
        | {
            "Subscription": {
                **{k: v for k, v in search.get("Subscription", {}).items() if k != "searchParam"},
                **subscription_capability(operations.capability_entries("Subscription")),
            }
        },
        system_search_params=system_search_params(registry),
        references_enforced=settings.referential_integrity == "strict",
        supported_profiles=guide_profiles(load_ig_resources()),
    )
    components = ServerComponents(
        write_rules=discover_write_rules(),
        settings=settings,
        database=db,
        types=types or defs,
        validator=validator or full_validator(defs),
        referential_integrity=settings.referential_integrity,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        interactions=table,
        capability_statement=statement,
        operations=operations,
        compartment=compartment,
        audit=BackgroundAuditWriter(db, compartment.patients) if settings.auth == "smart" else None,
        messaging=push_channels(settings),
        push_plans=PushPlanFactory(db.engine) if isinstance(db, SqlDatabase) else None,
    )
    if not isinstance(db, SqlDatabase):
        return components
    integrations = Integrations.from_settings(components, settings)
    integrations.attach(db.outbox)
    return dataclasses.replace(components, integrations=integrations)


def push_channels(settings: Settings) -> tuple[Any, ...]:
    """The health-push delivery channels (issue 7) from the settings, in preference order."""
    from adapters.messaging.registry import build_channels

    token = settings.push_webhook_token.get_secret_value() if settings.push_webhook_token else None
    return tuple(build_channels(settings.push_inbox_dir, settings.push_webhooks, token=token))


def prepare_database(settings: Settings) -> int:
    """Migrate to head, then seed the implementation guide's definitions (service packages,
    terminology) idempotently.  Returns how many definitions were created or changed.

    Fast on a fresh database: all definitions are written in one transaction, and the packaged
    definitions are not re-validated — their exact content is proven valid by the full pipeline
    in the test suite (`tests/unit/conformance/test_seed_definitions.py` seeds them through the
    validating gate on both databases); a definition that differs from the package is validated
    as any write.  Write rules, references and search indexing apply as on every write.  When
    another server seeds the same database at the same moment (a version conflict), the seed is
    redone one definition at a time, each retried on a lost race."""
    from .conformance.seed import seed_definitions
    from .services.context import RequestContext
    from .services.repository import FhirRepository

    components = build_components(settings)
    database = components.database
    try:
        database.upgrade()  # type: ignore[attr-defined]
        resources = load_ig_resources()
        trusted = dataclasses.replace(
            components, validator=PackagedDefinitions(components.validator, resources)
        )
        repo = FhirRepository(RequestContext(settings.public_base, system_name="seed"), trusted)
        try:
            with repo.transaction() as tx:
                return seed_definitions(tx, resources)
        except E.FhirError as exc:
            if exc.status not in (409, 412):
                raise
            log.info("another server is seeding the database: seeding one by one")
            return seed_definitions(repo, resources)
    finally:
        database.dispose()


class PackagedDefinitions:
    """A validator that passes the guide's packaged definitions as they ship (byte for byte,
    keys sorted) and validates everything else with `inner`: for seeding only."""

    def __init__(self, inner: Any, packaged: Any) -> None:  # validation.pipeline validator
        self.inner = inner
        self.profiles = getattr(inner, "profiles", None)
        self._packaged = frozenset(_canonical_json(r) for r in packaged)

    def validate(self, resource: dict[str, Any], profiles: Any = ()) -> list[E.Issue]:
        if not profiles and _canonical_json(resource) in self._packaged:
            return []
        return list(self.inner.validate(resource, profiles))


def _canonical_json(resource: Any) -> bytes:
    return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)


class BackgroundWorker(Protocol):
    """A loop of the server process (outbox delivery, the job scheduler …): started after the
    database is ready, stopped (finishing its current round) before it is disposed."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def background_workers(comps: ServerComponents, settings: Settings) -> list[BackgroundWorker]:
    """The background loops `jiayi serve` runs (off with `JIAYI_BACKGROUND_TASKS=false`; tests
    build apps without them unless they test them)."""
    from .jobs.scheduler import build_scheduler

    workers: list[BackgroundWorker] = []
    if isinstance(comps.database, SqlDatabase):  # the scheduled JOBS, one runner across processes
        workers.append(build_scheduler(comps, settings))
    if comps.integrations is not None:  # outbox: subscriptions, adapters, orphaned bulk jobs
        workers.append(comps.integrations.pump)
    return workers


def create_app(
    settings: Settings | None = None,
    *,
    components: ServerComponents | None = None,
    migrate: bool = False,
) -> FastAPI:
    settings = settings or Settings()
    comps = components or build_components(settings)
    database = comps.database

    workers = background_workers(comps, settings) if settings.background_tasks else []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate and isinstance(database, SqlDatabase):
            database.upgrade()
        for worker in workers:
            worker.start()
        yield
        for worker in reversed(workers):
            worker.stop()
        if comps.audit is not None:
            comps.audit.close()
        database.dispose()

    app = FastAPI(
        title="Jiayi FHIR server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.components = comps
    app.include_router(build_health_router(database))
    verifier = None
    if settings.auth == "smart":
        from .auth.smart import build_smart_router, build_token_service
        from .auth.smart.events import no_events
        from .auth.store import AuthStore
        from .auth.tokens import SigningKeys
        from .services.smart_bridge import auth_events, patient_check

        keys = SigningKeys.deferred(AuthStore(database.engine))  # type: ignore[attr-defined]
        # Before the FHIR catch-all, which would otherwise take /fhir/.well-known/*.
        app.include_router(
            build_smart_router(
                settings,
                database,
                keys,
                events=auth_events(comps.audit) if comps.audit is not None else no_events,
                patient_check=patient_check(comps, settings.public_base),
            )
        )
        verifier = build_token_service(settings, database, keys)
    if comps.integrations is not None:  # Bulk Data $export, before the FHIR catch-all
        from .bulk.access import smart_authorizer
        from .bulk.router import build_bulk_router

        app.include_router(
            build_bulk_router(
                comps,
                settings,
                authorize=smart_authorizer(verifier) if verifier is not None else None,
                background=comps.integrations.background_exports,
                start_jobs=settings.background_tasks,
            )
        )
    app.include_router(
        build_router(comps, settings.public_base, settings.max_request_bytes, verifier)
    )
    if settings.cors_origins:  # browser apps (SMART): the FHIR API and /auth/*
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept", "Prefer", "If-Match",
                           "If-None-Match", "If-None-Exist", "If-Modified-Since", "X-Request-Id"],
            expose_headers=["Location", "Content-Location", "ETag", "Last-Modified",
                            "X-Request-Id", "WWW-Authenticate"],
            max_age=600,
        )  # fmt: skip
    app.add_middleware(RequestIdMiddleware)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(E.FhirError)
    async def _fhir_error(_request: Request, exc: E.FhirError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(E.bad_request(str(exc)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Reached only by failures outside RequestIdMiddleware, which answers all the others.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(failure_error(exc))


def app_from_env() -> Any:
    """uvicorn factory for multi-worker serving: settings come from JIAYI_* variables.  Runs in
    each worker; `jiayi serve` hands uvicorn the logging config, other launchers get it here."""
    from .rest.logconfig import ensure_logging

    ensure_logging()
    return create_app(Settings())
