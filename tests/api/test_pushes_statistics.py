"""The pushes job refreshes the planner statistics once per run, after planning and before the
retry and due steps (the searches stale statistics made quadratic), on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.record import RecordKeyPopulations
from fhir_server.domain.pushes.service import PushService
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import BASE


class CountingPlans:
    """The server's planner tables, recording when statistics are refreshed."""

    def __init__(self, inner: Any, log: list[str]) -> None:
        self.inner = inner
        self.log = log

    def __call__(self, uow: Any = None) -> Any:
        return self.inner(uow)

    def refresh_statistics(self) -> list[str]:
        self.log.append("refresh")
        refreshed: list[str] = self.inner.refresh_statistics()
        return refreshed


def test_statistics_are_refreshed_once_per_run_before_the_retry_step(
    client: TestClient,
) -> None:
    components = client.app.state.components  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(BASE, system_name="test"), components)
    log: list[str] = []

    class Service(PushService):
        def retry_pending(self, *args: Any, **kwargs: Any) -> None:
            log.append("retry")
            super().retry_pending(*args, **kwargs)

        def deliver_due(self, *args: Any, **kwargs: Any) -> bool:
            log.append("due")
            return super().deliver_due(*args, **kwargs)

    service = Service(
        repo,
        load_library(),
        RecordKeyPopulations(),
        plans=CountingPlans(components.push_plans, log),
        channels=(),
    )
    for day in (date(2026, 1, 1), date(2026, 2, 1)):
        log.clear()
        assert service.run(day).finished
        assert log == ["refresh", "retry", "due"]
