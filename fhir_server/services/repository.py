"""THE gate: every resource read and write passes through `FhirRepository`.

Order of a write: type and id rules → validation → version check → storage (+ search index, same
transaction) → after-commit events.  A repository used inside `transaction()` shares one unit of
work, so a Bundle transaction is all or nothing.  Spec: http://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ..auth.bearer import forbidden
from ..auth.matching import RestrictionMatcher
from ..core import errors as E
from ..core.clock import fhir_instant
from ..core.ids import is_valid_id, is_valid_version, new_id
from ..core.refs import is_placeholder, iter_reference_holders, parse_local
from ..storage.ports import HistoryQuery, StoredResource, UnitOfWork, VersionConflict
from .access import AccessControl
from .batch import BatchCache, Instance, PendingCreateFailed, PendingCreates
from .context import RequestContext, ServerComponents, WriteRule
from .every_match import search_all

_RETRIES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class WriteResult:
    record: StoredResource
    created: bool  # 201 rather than 200
    #: Warnings the write rules reported on this write (`FhirRepository.warn`): the write
    #: succeeded, the response's OperationOutcome says what the caller should know.
    issues: tuple[E.Issue, ...] = ()


def packaged_terminology(resource_type: str, canonical: str) -> dict[str, Any] | None:
    """`:in`/`:not-in`/`:below` over a ValueSet or CodeSystem not stored on the server: the
    guide's and R4's package terminology (one copy per process, shared with validation)."""
    from ..terminology.sources import package_source

    found = package_source().find(resource_type, canonical)
    return dict(found) if found is not None else None


class FhirRepository:
    def __init__(self, ctx: RequestContext, components: ServerComponents) -> None:
        self.ctx = ctx
        self.components = components
        self._uow: UnitOfWork | None = None
        self._warnings: list[E.Issue] | None = None  # a write rule's sink (`_rule_repo`)
        self.access = self._access_control()

    def _access_control(self) -> AccessControl | None:
        """The caller's policy; None when authorisation is off or the server acts as itself."""
        if self.ctx.principal is None or self.components.compartment is None:
            return None
        system = self.as_system("access-relationships")

        def find(resource_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
            return search_all(system, resource_type, query)

        compartment = self.components.compartment
        matcher = RestrictionMatcher(compartment.registry, self.ctx.base_url)
        return AccessControl(
            self.ctx.principal, compartment, find, matcher, self.components.clock.now
        )

    # -- access checks (the caller's policy; no-ops without one) -------------------------------
    def _visible(self, uow: UnitOfWork, interaction: str, resource_type: str, rid: str) -> bool:
        """Is the stored current version of Type/id visible to the caller for `interaction`?
        The same SQL restriction as a search, so a read never admits what a search hides."""
        if self.access is None:
            return True
        result = uow.resources.search(
            [resource_type],
            [("_id", rid)],
            base_url=self.ctx.base_url,
            page_size=1,
            max_page_size=self.components.max_page_size,
            access=self.access.rules(interaction),
        )
        return bool(result.matches)

    def _last_content(self, uow: UnitOfWork, record: StoredResource) -> dict[str, Any] | None:
        """A version's content; for a deletion, the content it deleted."""
        if not record.deleted:
            return record.content
        if record.version_id <= 1:
            return None
        before = uow.resources.version(record.resource_type, record.id, record.version_id - 1)
        return before.content if before is not None else None

    def _permits_version(self, uow: UnitOfWork, interaction: str, record: StoredResource) -> bool:
        """May the caller see this version (a tombstone: the resource it deleted)?"""
        if self.access is None:
            return True
        return self.access.permits(interaction, self._last_content(uow, record))

    def _hide_foreign(
        self,
        uow: UnitOfWork,
        interaction: str,
        current: StoredResource | None,
        rtype: str,
        rid: str,
    ) -> None:
        """404 for a current version (live or deleted) outside the caller's reach: a deleted
        foreign resource is as unknown as one that never existed (never 410)."""
        if self.access is None or current is None:
            return
        visible = (
            self._permits_version(uow, interaction, current)
            if current.deleted
            else self._visible(uow, interaction, rtype, rid)
        )
        if not visible:
            raise E.not_found(rtype, rid)

    def _check_stored(self, uow: UnitOfWork, interaction: str, record: StoredResource) -> None:
        """After a write, in its unit of work: what was stored must be within the caller's reach
        (else 403 and the unit of work rolls back, nothing is written)."""
        if self.access is None or record.deleted:
            return
        if not self._visible(uow, interaction, record.resource_type, record.id):
            raise forbidden(
                f"Access denied: the {record.resource_type} would be outside what this caller "
                f"may {interaction}"
            )

    def as_system(self, name: str) -> FhirRepository:
        """The same unit of work, acting as the named server component (audited, not the caller)."""
        ctx = RequestContext(self.ctx.base_url, self.ctx.request_id, None, name)
        repo = FhirRepository(ctx, self.components)
        repo._uow = self._uow
        return repo

    # -- units of work ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[FhirRepository]:
        """A repository bound to one unit of work; commits when the block ends without error."""
        if self._uow is not None:
            yield self
            return
        with self.components.database.unit_of_work(write=True) as uow:
            bound = FhirRepository(self.ctx, self.components)
            bound._uow = uow
            bound.access = self.access
            yield bound
            uow.commit()

    @property
    def in_transaction(self) -> bool:
        return self._uow is not None

    @contextmanager
    def _reading(self) -> Iterator[UnitOfWork]:
        if self._uow is not None:
            yield self._uow
            return
        with self.components.database.unit_of_work(write=False) as uow:
            yield uow

    def _write(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run `fn(uow)` in the bound unit of work, or in a fresh one retried on lost races."""
        if self._uow is not None:
            try:
                return fn(self._uow)
            except VersionConflict as exc:
                raise E.conflict(str(exc)) from exc
        for attempt in range(_RETRIES):
            with self.components.database.unit_of_work(write=True) as uow:
                try:
                    result = fn(uow)
                    uow.commit()
                    return result
                except VersionConflict as exc:
                    if attempt == _RETRIES - 1:
                        raise E.conflict(str(exc)) from exc
        raise AssertionError("unreachable")

    # -- checks ---------------------------------------------------------------------------------
    def check_type(self, resource_type: str) -> None:
        if not self.components.types.is_resource_type(resource_type):
            raise E.unknown_type(resource_type)

    @staticmethod
    def check_id(resource_id: str, where: str = "id") -> None:
        if not is_valid_id(resource_id):
            raise E.bad_request(
                f"'{resource_id}' is not a valid resource id ([A-Za-z0-9-.]{{1,64}})", where
            )

    def _check_body(self, resource_type: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise E.bad_request(
                "The body must be a JSON object holding a FHIR resource", code="structure"
            )
        body_type = body.get("resourceType")
        if not isinstance(body_type, str):
            raise E.bad_request(
                "The resource has no resourceType", "resourceType", code="structure"
            )
        if body_type != resource_type:
            raise E.bad_request(
                f"The body holds a {body_type} but the URL names {resource_type}", "resourceType"
            )
        return body

    def validate(self, resource: dict[str, Any]) -> None:
        issues = self.components.validator.validate(resource)
        errors = [i for i in issues if i.is_error]
        if not errors:
            return
        status = 400 if any(i.code == "structure" for i in errors) else 422
        raise E.FhirError(status, errors)

    def _check_references(self, uow: UnitOfWork, resource: dict[str, Any]) -> None:
        if self.components.referential_integrity != "strict":
            return
        problems = []
        for holder, path in iter_reference_holders(resource):
            ref = holder["reference"]
            if ref.startswith("#") or is_placeholder(ref):
                continue
            local = parse_local(ref, self.ctx.base_url)
            if local is None or not self.components.types.is_resource_type(local.resource_type):
                continue
            if not uow.resources.exists(local.resource_type, local.id) or not self._may_see(
                uow, local.resource_type, local.id
            ):
                problems.append(
                    E.error(
                        "not-found",
                        f"Reference '{ref}' points to a resource that does not exist",
                        f"{resource['resourceType']}.{path}.reference",
                        message_id="JY-0422-REF",
                    )
                )
        if problems:
            raise E.unprocessable(problems)

    def _check_incoming(self, uow: UnitOfWork, resource_type: str, resource_id: str) -> None:
        """Under strict referential integrity a resource that live resources reference (through
        their indexed reference search parameters) is not deleted: 409, naming the referrers the
        caller may see (the others only counted, so nothing leaks)."""
        if self.components.referential_integrity != "strict":
            return
        found = uow.resources.search(
            [resource_type],
            [("_id", resource_id), ("_revinclude", "*")],
            base_url=self.ctx.base_url,
            page_size=1,
            strict=False,
            max_page_size=self.components.max_page_size,
        )
        referrers = [
            r
            for r in found.includes
            if (r.resource_type, r.id) != (resource_type, resource_id) and not r.deleted
        ]
        if not referrers:
            return
        shown = [
            f"{r.resource_type}/{r.id}"
            for r in referrers
            if self._may_see(uow, r.resource_type, r.id)
        ]
        hidden = len(referrers) - len(shown)
        names = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        if hidden:
            names = f"{names} and {hidden} other(s)" if names else f"{hidden} resource(s)"
        raise E.FhirError(
            409,
            E.error(
                "conflict",
                f"{resource_type}/{resource_id} is referenced by {names}: under strict "
                "referential integrity deleting it would leave dangling references",
                resource_type,
                message_id="JY-0409-REF",
            ),
        )

    def _may_see(self, uow: UnitOfWork, resource_type: str, rid: str) -> bool:
        """Strict referential integrity must not be an existence oracle: a reference to what the
        caller may not read is reported like a dangling one."""
        if self.access is None:
            return True
        if not self.access.may("read", resource_type):
            return False
        return self._visible(uow, "read", resource_type, rid)

    def _stamp(self, resource: dict[str, Any], version: int, now: datetime) -> dict[str, Any]:
        out = copy.deepcopy(resource)
        meta = out.pop("meta", None)
        meta = dict(meta) if isinstance(meta, dict) else {}
        meta["versionId"] = str(version)
        meta["lastUpdated"] = fhir_instant(now)
        # resourceType, id and meta first, as FHIR JSON writers customarily do.
        return {"resourceType": out.pop("resourceType"), "id": out.pop("id"), "meta": meta, **out}

    # -- write rules (ServerComponents.write_rules), inside the writer's unit of work ----------------
    def _rules(self, resource_type: str, method: str) -> list[WriteRule]:
        return [r for r in self.components.write_rules if r.applies(resource_type, method)]

    def _rule_repo(self, uow: UnitOfWork, sink: list[E.Issue] | None = None) -> FhirRepository:
        """The rules' repository: the same unit of work, acting as the server; what the rules
        write themselves runs no rules (a rule's own slot release or notification is trusted).
        What the rules `warn` of lands in `sink` (the write's `WriteResult.issues`)."""
        ctx = RequestContext(
            self.ctx.base_url, self.ctx.request_id, None, "write-rules", writer=self.ctx
        )
        repo = FhirRepository(ctx, dataclasses.replace(self.components, write_rules=()))
        repo._uow = uow
        repo._warnings = sink
        return repo

    def warn(self, issue: E.Issue) -> None:
        """A write rule's warning about the write it rules on (e.g. an emergency let past a
        business rule): returned in the write's `WriteResult.issues`, so the response's
        OperationOutcome carries it.  Outside a write rule it is dropped."""
        if self._warnings is not None and issue not in self._warnings:
            self._warnings.append(issue)

    def _before_rules(
        self,
        uow: UnitOfWork,
        rules: list[WriteRule],
        resource: dict[str, Any] | None,
        current: dict[str, Any] | None,
        sink: list[E.Issue] | None = None,
    ) -> dict[str, Any] | None:
        if not rules:
            return resource
        tx, amended = self._rule_repo(uow, sink), resource
        for rule in rules:
            amended = rule.before_write(tx, amended, current)
        if amended is not None and amended is not resource:
            self.validate(amended)
        return amended

    def _after_rules(
        self,
        uow: UnitOfWork,
        rules: list[WriteRule],
        stored: dict[str, Any] | None,
        current: dict[str, Any] | None,
        sink: list[E.Issue] | None = None,
    ) -> None:
        if rules:
            tx = self._rule_repo(uow, sink)
            for rule in rules:
                rule.after_write(tx, stored, current)

    # -- reads -------------------------------------------------------------------------------------
    def _require(self, interaction: str, resource_type: str) -> None:
        if self.access is not None:
            self.access.require(interaction, resource_type)

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        self.check_type(resource_type)
        self.check_id(resource_id)
        self._require("read", resource_type)
        with self._reading() as uow:
            record = uow.resources.current(resource_type, resource_id)
            self._hide_foreign(uow, "read", record, resource_type, resource_id)
        if record is None:
            raise E.not_found(resource_type, resource_id)
        if record.deleted:
            raise E.gone(resource_type, resource_id, record.version_id)
        return record

    def vread(self, resource_type: str, resource_id: str, version: str) -> StoredResource:
        self.check_type(resource_type)
        self.check_id(resource_id)
        if not is_valid_version(version):  # also bounds it to what a BIGINT holds
            raise E.not_found(resource_type, resource_id, version)
        self._require("vread", resource_type)
        with self._reading() as uow:
            record = uow.resources.version(resource_type, resource_id, int(version))
            if record is not None and not self._permits_version(uow, "vread", record):
                record = None
        if record is None:
            raise E.not_found(resource_type, resource_id, version)
        if record.deleted:
            raise E.gone(resource_type, resource_id, record.version_id)
        return record

    def current_or_none(self, resource_type: str, resource_id: str) -> StoredResource | None:
        with self._reading() as uow:
            return uow.resources.current(resource_type, resource_id)

    def search(
        self,
        resource_types: list[str] | None,
        query: list[tuple[str, str]],
        *,
        strict: bool = False,
        page_size: int | None = None,
        compartment: tuple[str, str, list[str]] | None = None,
    ) -> Any:
        """A FHIR search page (matches, includes, total, next cursor, issues) over live resources.

        Under a caller's policy the restriction is part of the SQL (`search.access`): matches,
        `_total`, paging cursors, chains, `_has` and includes see only what the caller may."""
        for rtype in resource_types or []:
            self.check_type(rtype)
        access = None
        if self.access is not None:
            interaction = (
                "search-compartment"
                if compartment is not None
                else "search-type"
                if resource_types
                else "search-system"
            )
            for rtype in resource_types or []:
                self.access.require(interaction, rtype)
            access = self.access.rules(interaction)
        with self._reading() as uow:
            return uow.resources.search(
                resource_types,
                query,
                base_url=self.ctx.base_url,
                page_size=page_size or self.components.default_page_size,
                strict=strict,
                max_page_size=self.components.max_page_size,
                compartment=compartment,
                access=access,
                allow_explain=self._may_explain(),
                packaged=packaged_terminology,
            )

    def _may_explain(self) -> bool:
        """`_explain=true` (the database plan): administrators, and the server's operator when
        authorisation is off (loopback only)."""
        principal = self.ctx.principal
        return principal is None or principal.role == "admin"

    def lock(self, key: str) -> None:
        """Within a transaction: serialise concurrent writers deciding on `key`."""
        assert self._uow is not None, "lock() needs a transaction"
        self._uow.lock(key)

    def history(self, query: HistoryQuery) -> tuple[list[StoredResource], int | None]:
        """A page of history, newest first.  Under a caller's policy each version is checked
        (a deletion by the content it deleted) and the page is refilled from older versions,
        so a page is short only at the end; the total is then withheld."""
        if query.resource_type:
            self.check_type(query.resource_type)
        if query.id:
            self.check_id(query.id)
        level = (
            "history-instance"
            if query.id
            else "history-type"
            if query.resource_type
            else "history-system"
        )
        if self.access is not None and query.resource_type:
            self.access.require(level, query.resource_type)
        with self._reading() as uow:
            if self.access is None:
                records = uow.resources.history(query)
                total: int | None = uow.resources.history_count(
                    HistoryQuery(
                        query.resource_type, query.id, query.since, query.at_start, query.at_end
                    )
                )
                if query.id and total == 0:
                    raise E.not_found(query.resource_type or "", query.id)
                return records, total
            records = self._visible_history(uow, level, query)
        if query.id and not records and query.before_seq is None:
            raise E.not_found(query.resource_type or "", query.id)
        return records, None

    def _visible_history(
        self, uow: UnitOfWork, level: str, query: HistoryQuery
    ) -> list[StoredResource]:
        kept: list[StoredResource] = []
        batch = max(query.count * 4, 200)
        before = query.before_seq
        while len(kept) < query.count:
            page = dataclasses.replace(query, before_seq=before, count=batch)
            raw = uow.resources.history(page)
            kept.extend(r for r in raw if self._permits_version(uow, level, r))
            if len(raw) < batch:
                break
            before = raw[-1].seq
        return kept[: query.count]

    # -- writes ------------------------------------------------------------------------------------
    def create(
        self,
        resource_type: str,
        body: Any,
        resource_id: str | None = None,
        *,
        pending: PendingCreates | None = None,
        tag: int = 0,
    ) -> WriteResult:
        """POST: a server-assigned id (an id in the body is ignored, as the spec says).

        With `pending` (inside a transaction, a type no POST write rule applies to: see
        `defers_creates`) every check runs now but the write waits in `pending` for
        `flush_creates`; the result is the version that will be written (no history `seq`)."""
        self.check_type(resource_type)
        resource = dict(self._check_body(resource_type, body))
        resource["id"] = resource_id or new_id()
        self.validate(resource)
        self._require("create", resource_type)
        now = self.components.clock.now()
        if pending is not None and self._uow is not None and self.defers_creates(resource_type):
            return self._create_later(self._uow, resource, now, pending, tag)

        def run(uow: UnitOfWork) -> WriteResult:
            rules, warnings = self._rules(resource_type, "POST"), list[E.Issue]()
            final = self._before_rules(uow, rules, resource, None, warnings) or resource
            self._check_references(uow, final)
            content = self._stamp(final, 1, now)
            record = StoredResource(resource_type, final["id"], 1, now, False, content, "POST")
            written = uow.resources.write(record, 0)
            self._check_stored(uow, "create", written)
            self._after_rules(uow, rules, written.content, None, warnings)
            return WriteResult(written, True, tuple(warnings))

        return self._write(run)

    def defers_creates(self, resource_type: str) -> bool:
        """May a create of `resource_type` wait for a bulk write (`create(..., pending=)`)?
        Inside a transaction, when no write rule applies to its POST: a rule may read or
        write stored resources, so those creates are written at once."""
        return self._uow is not None and not self._rules(resource_type, "POST")

    def _create_later(
        self,
        uow: UnitOfWork,
        resource: dict[str, Any],
        now: datetime,
        pending: PendingCreates,
        tag: int,
    ) -> WriteResult:
        if self.components.referential_integrity == "strict" and self._refers_to(resource, pending):
            self.flush_creates(pending)  # the check reads what they reference from the store
        self._check_references(uow, resource)
        content = self._stamp(resource, 1, now)
        record = StoredResource(
            resource["resourceType"], resource["id"], 1, now, False, content, "POST"
        )
        pending.add(record, tag)
        return WriteResult(record, True)

    def _refers_to(self, resource: dict[str, Any], pending: PendingCreates) -> bool:
        if not pending.keys:
            return False
        for holder, _path in iter_reference_holders(resource):
            local = parse_local(holder["reference"], self.ctx.base_url)
            if local is not None and (local.resource_type, local.id) in pending.keys:
                return True
        return False

    def flush_creates(self, pending: PendingCreates) -> list[StoredResource]:
        """Write the pending creates (one bulk write: `write_new_many`, COPY on PostgreSQL; a
        single one the ordinary way) in this transaction, with the search-index, history and
        outbox rows of `create`, then check each is within the caller's reach.  A failure
        raises `PendingCreateFailed` naming the create it is about (the transaction must roll
        back)."""
        if not pending.records:
            return []
        records, tags = pending.take()

        def run(uow: UnitOfWork) -> list[StoredResource]:
            bulk = getattr(uow.resources, "write_new_many", None)
            if bulk is not None and len(records) > 1:
                written: list[StoredResource] = bulk(records, [None] * len(records))
            else:
                written = [uow.resources.write(r, 0) for r in records]
            for record, tag in zip(written, tags, strict=True):
                try:
                    self._check_stored(uow, "create", record)
                except E.FhirError as exc:
                    raise PendingCreateFailed(tag, exc) from exc
            return written

        try:
            return self._write(run)
        except E.FhirError as exc:  # a conflict: one of them exists already
            raise PendingCreateFailed(tags[0], exc) from exc

    def update(
        self, resource_type: str, resource_id: str, body: Any, if_match: str | None = None
    ) -> WriteResult:
        """PUT: a new version, or update-as-create with the client's id."""
        self.check_type(resource_type)
        self.check_id(resource_id)
        resource = self._check_body(resource_type, body)
        body_id = resource.get("id")
        if body_id is None:
            raise E.bad_request("The resource in an update must carry its id", "id")
        if body_id != resource_id:
            raise E.bad_request(
                f"The body's id '{body_id}' differs from the URL's '{resource_id}'", "id"
            )
        self.validate(resource)
        return self._put(resource, if_match, "PUT")

    @property
    def unit_of_work(self) -> UnitOfWork | None:
        """The unit of work this repository is bound to (inside `transaction()`), else None:
        for domain state that must commit with the resources (e.g. the push planner's)."""
        return self._uow

    def create_instances(
        self, resource_type: str, instances: Sequence[Instance], cache: BatchCache
    ) -> list[StoredResource]:
        """Version 1 of many new resources with the server's own ids (update-as-create), each an
        `Instance` of a skeleton, written at once (COPY on PostgreSQL) with the search-index and
        outbox rows a create writes; for server jobs (the pushes planner).  The checks of
        `update`: type, the caller's right to create, validation (each skeleton in full, once per
        `cache`; each value by its placeholder kind, ids as ids), strict references per resource.
        Where a write rule applies to the type, each resource goes through `update` instead, so
        no rule is bypassed.  409 when one exists already (nothing is written)."""
        from ..search.templates import check_value
        from .batch import LAST_UPDATED

        self.check_type(resource_type)
        self._require("update", resource_type)
        now = self.components.clock.now()
        stamp = fhir_instant(now)
        bodies: list[tuple[Any, dict[str, str], dict[str, Any]]] = []
        for inst in instances:
            skeleton = cache.stamp(inst.skeleton)
            if skeleton.content["resourceType"] != resource_type:
                raise E.bad_request(f"an instance is not a {resource_type}", "resourceType")
            issues = cache.issues.get(skeleton.key)
            if issues is None:
                issues = list(self.components.validator.validate(skeleton.content))
                cache.issues[skeleton.key] = issues
            if any(i.is_error for i in issues):
                self.validate(skeleton.content)  # raises with the issues
            for placeholder, value in inst.values.items():
                if not check_value(placeholder, value):
                    raise E.bad_request(f"'{value}' cannot stand for {placeholder}")
            values = {**inst.values, LAST_UPDATED: stamp}
            content = skeleton.instantiate(values)
            self.check_id(content["id"])
            bodies.append((skeleton, values, content))
        if self._rules(resource_type, "PUT"):
            return [self._put_new(content) for _s, _v, content in bodies]

        def run(uow: UnitOfWork) -> list[StoredResource]:
            records: list[StoredResource] = []
            rows: list[Callable[[Any], Any]] = []
            for skeleton, values, content in bodies:
                self._check_references(uow, content)
                records.append(
                    StoredResource(resource_type, content["id"], 1, now, False, content, "PUT")
                )

                def template_rows(
                    ex: Any, s: Any = skeleton, v: Any = values, c: Any = content
                ) -> Any:
                    return cache.rows.rows(ex, s, v, c)

                rows.append(template_rows)
            bulk = getattr(uow.resources, "write_new_many", None)
            if bulk is not None:
                written: list[StoredResource] = bulk(records, rows)
            else:  # a store without bulk writes: one by one, same rows
                written = [uow.resources.write(r, 0) for r in records]
            for record in written:
                self._check_stored(uow, "update", record)
            return written

        return self._write(run)

    def put_new_many(self, resources: Sequence[dict[str, Any]]) -> list[StoredResource]:
        """Update-as-create of many resources under their own ids, none of which is stored (not
        even deleted): the checks of `update` (type, id, body, the caller's right to update,
        validation, references), written at once (`write_new_many`: one statement per table,
        COPY on PostgreSQL) with the search-index, history and outbox rows `update` writes; for
        loads (the demo).  Resources of a type with a PUT write rule go through `update`, so
        no rule is bypassed.  409 when one has a row already (nothing is written)."""
        bodies: list[dict[str, Any]] = []
        for body in resources:
            rtype, rid = body.get("resourceType"), body.get("id")
            self.check_type(str(rtype))
            self.check_id(str(rid))
            resource = self._check_body(str(rtype), body)
            self._require("update", str(rtype))
            self.validate(resource)
            bodies.append(resource)
        ruled = [r for r in bodies if self._rules(r["resourceType"], "PUT")]
        plain = [r for r in bodies if not self._rules(r["resourceType"], "PUT")]
        now = self.components.clock.now()

        def run(uow: UnitOfWork) -> list[StoredResource]:
            records = []
            for resource in plain:
                self._check_references(uow, resource)
                content = self._stamp(resource, 1, now)
                records.append(
                    StoredResource(
                        resource["resourceType"], resource["id"], 1, now, False, content, "PUT"
                    )  # fmt: skip
                )
            bulk = getattr(uow.resources, "write_new_many", None)
            if bulk is not None and len(records) > 1:
                written: list[StoredResource] = bulk(records, [None] * len(records))
            else:
                written = [uow.resources.write(r, 0) for r in records]
            for record in written:
                self._check_stored(uow, "update", record)
            return written

        with self.transaction() as tx:  # the bulk write and the ruled updates: all or nothing
            written = tx._write(run) if plain else []
            return written + [tx._put_new(r) for r in ruled]

    def _put_new(self, content: dict[str, Any]) -> StoredResource:
        """`update` of a resource that must be new (409 when it exists); server-owned meta
        elements of `content` (versionId, lastUpdated) are dropped."""
        given = content.get("meta") or {}
        meta = {k: v for k, v in given.items() if k not in ("versionId", "lastUpdated")}
        body = {k: v for k, v in content.items() if k != "meta"} | ({"meta": meta} if meta else {})
        result = self.update(content["resourceType"], content["id"], body)
        if not result.created:
            raise E.conflict(f"{content['resourceType']}/{content['id']} exists already")
        return result.record

    def _put(self, resource: dict[str, Any], if_match: str | None, method: str) -> WriteResult:
        resource_type, resource_id = resource["resourceType"], resource["id"]

        self._require("update", resource_type)

        def run(uow: UnitOfWork) -> WriteResult:
            current = uow.resources.current(resource_type, resource_id, for_update=True)
            if current is not None and not current.deleted:
                self._hide_foreign(uow, "update", current, resource_type, resource_id)
            self._check_if_match(resource_type, resource_id, current, if_match)
            before = current.content if current is not None and not current.deleted else None
            rules, warnings = self._rules(resource_type, method), list[E.Issue]()
            final = self._before_rules(uow, rules, resource, before, warnings) or resource
            self._check_references(uow, final)
            previous = current.version_id if current else 0
            now = self.components.clock.now()
            content = self._stamp(final, previous + 1, now)
            record = StoredResource(
                resource_type, resource_id, previous + 1, now, False, content, method
            )
            created = current is None or current.deleted
            written = uow.resources.write(record, previous)
            self._check_stored(uow, "update", written)
            self._after_rules(uow, rules, written.content, before, warnings)
            return WriteResult(written, created, tuple(warnings))

        return self._write(run)

    @staticmethod
    def _check_if_match(
        resource_type: str, resource_id: str, current: StoredResource | None, if_match: str | None
    ) -> None:
        if if_match is None:
            return
        have = str(current.version_id) if current else None
        if have != if_match:
            raise E.conflict(
                f"Version conflict on {resource_type}/{resource_id}: If-Match names version "
                f"{if_match}, the current version is {have or 'none'}",
                status=412,
            )

    def patch(
        self,
        resource_type: str,
        resource_id: str,
        apply: Any,
        if_match: str | None = None,
    ) -> WriteResult:
        """Apply `apply(current_content) -> new_content` to the current version and store it."""
        self.check_type(resource_type)
        self.check_id(resource_id)
        self._require("patch", resource_type)

        def run(uow: UnitOfWork) -> WriteResult:
            current = uow.resources.current(resource_type, resource_id, for_update=True)
            if current is None:
                raise E.not_found(resource_type, resource_id)
            self._hide_foreign(uow, "patch", current, resource_type, resource_id)
            if current.deleted:
                raise E.gone(resource_type, resource_id, current.version_id)
            self._check_if_match(resource_type, resource_id, current, if_match)
            patched = apply(copy.deepcopy(current.content))
            self.validate(patched)
            rules, warnings = self._rules(resource_type, "PATCH"), list[E.Issue]()
            patched = self._before_rules(uow, rules, patched, current.content, warnings) or patched
            self._check_references(uow, patched)
            now = self.components.clock.now()
            content = self._stamp(patched, current.version_id + 1, now)
            record = StoredResource(
                resource_type, resource_id, current.version_id + 1, now, False, content, "PATCH"
            )
            written = uow.resources.write(record, current.version_id)
            self._check_stored(uow, "patch", written)
            self._after_rules(uow, rules, written.content, current.content, warnings)
            return WriteResult(written, False, tuple(warnings))

        return self._write(run)

    def delete(
        self, resource_type: str, resource_id: str, if_match: str | None = None
    ) -> StoredResource | None:
        """DELETE: a tombstone version; None when the resource is already deleted (404 if unknown)."""
        self.check_type(resource_type)
        self.check_id(resource_id)

        self._require("delete", resource_type)

        def run(uow: UnitOfWork) -> StoredResource | None:
            current = uow.resources.current(resource_type, resource_id, for_update=True)
            if current is None:
                raise E.not_found(resource_type, resource_id)
            self._hide_foreign(uow, "delete", current, resource_type, resource_id)
            self._check_if_match(resource_type, resource_id, current, if_match)
            if current.deleted:
                return None
            rules = self._rules(resource_type, "DELETE")
            self._before_rules(uow, rules, None, current.content)
            self._check_incoming(uow, resource_type, resource_id)
            now = self.components.clock.now()
            record = StoredResource(
                resource_type, resource_id, current.version_id + 1, now, True, None, "DELETE"
            )
            written = uow.resources.write(record, current.version_id)
            self._after_rules(uow, rules, None, current.content)
            return written

        return self._write(run)
