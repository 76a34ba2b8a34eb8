"""Test-only prototype of the `write_rules` wiring proposed for services/repository.py (see
fhir_server/domain/referrals/WIRING.md): a private `FhirRepository` subclass that runs the referral
write rules inside the writer's unit of work.  Used only while `ServerComponents` has no
`write_rules`; once the lead wires them, the real repository is used and this is bypassed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fhir_server.domain.referrals.rules_on_write import write_rules
from fhir_server.services.context import ServerComponents
from fhir_server.services.repository import FhirRepository


def wired() -> bool:
    """True once the lead's change is in: `ServerComponents.write_rules` exists."""
    return "write_rules" in {f.name for f in dataclasses.fields(ServerComponents)}


def with_rules(components: ServerComponents) -> ServerComponents:
    """Components whose writes run the referral rules (real wiring when present)."""
    if wired():
        present = getattr(components, "write_rules", ())
        if any(type(r).__module__.endswith("referrals.rules_on_write") for r in present):
            return components
        return dataclasses.replace(components, write_rules=(*present, *write_rules()))  # type: ignore[call-arg]
    return components


class _RuledRepository(FhirRepository):
    """Runs each applicable rule's `before_write` where the base checks references (inside the unit
    of work, after the row lock) and `after_write` once the record is stored, same transaction."""

    _rules: tuple[Any, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._method = "POST"
        self._target: tuple[str, str] | None = None
        self._after: list[tuple[Any, dict[str, Any] | None]] = []

    def _bound(self, uow: Any) -> FhirRepository:
        tx = FhirRepository(self.ctx, self.components)
        tx._uow = uow
        return tx

    def create(self, resource_type: str, body: Any, resource_id: str | None = None) -> Any:
        self._method = "POST"
        return super().create(resource_type, body, resource_id)

    def update(self, *args: Any, **kwargs: Any) -> Any:
        self._method = "PUT"
        return super().update(*args, **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> Any:
        self._method = "PATCH"
        return super().patch(*args, **kwargs)

    def delete(self, resource_type: str, resource_id: str, if_match: str | None = None) -> Any:
        self._method, self._target = "DELETE", (resource_type, resource_id)
        try:
            return super().delete(resource_type, resource_id, if_match)
        finally:
            self._target = None

    def _check_references(self, uow: Any, resource: dict[str, Any]) -> None:
        rtype = resource["resourceType"]
        rules = [r for r in self._rules if r.applies(rtype, self._method)]
        self._after = []
        if rules:
            record = uow.resources.current(rtype, resource["id"])
            current = record.content if record is not None and not record.deleted else None
            tx = self._bound(uow)
            for rule in rules:
                out = rule.before_write(tx, resource, current)
                if out is not resource and out is not None:
                    resource.clear()
                    resource.update(out)
            self._after = [(rule, current) for rule in rules]
        super()._check_references(uow, resource)

    def _write(self, fn: Callable[[Any], Any]) -> Any:
        def wrapped(uow: Any) -> Any:
            if self._target is not None:
                rtype, rid = self._target
                rules = [r for r in self._rules if r.applies(rtype, "DELETE")]
                record = uow.resources.current(rtype, rid)
                current = record.content if record is not None and not record.deleted else None
                self._after = [(rule, current) for rule in rules]
                for rule in rules:
                    rule.before_write(self._bound(uow), None, current)
            result = fn(uow)
            stored = getattr(getattr(result, "record", None), "content", None)
            for rule, current in self._after:
                rule.after_write(self._bound(uow), stored, current)
            self._after = []
            return result

        return super()._write(wrapped)


def ruled_repository_class(rules: tuple[Any, ...] | None = None) -> type[FhirRepository]:
    return type("RuledRepository", (_RuledRepository,), {"_rules": rules or write_rules()})


def repository(components: ServerComponents, ctx: Any) -> FhirRepository:
    """A repository that applies the referral rules: the real one once wired, else the prototype."""
    if wired():
        return FhirRepository(ctx, with_rules(components))
    return ruled_repository_class()(ctx, components)


@contextmanager
def rules_in_rest(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the REST edge (and jobs) build rule-running repositories while the wiring is pending."""
    if not wired():
        cls = ruled_repository_class()
        monkeypatch.setattr("fhir_server.rest.fhir_api.FhirRepository", cls)
        monkeypatch.setattr("fhir_server.jobs.runner.FhirRepository", cls)
    yield
