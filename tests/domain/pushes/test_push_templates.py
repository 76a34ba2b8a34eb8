"""Push skeletons (issue 7 scale): every push the job can write — each library item, routine or
personalised, each delivery outcome, an alert — instantiated from its skeleton gives the same
search-index rows as extracting the real resource, and validates like it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from fhir_server.app import full_validator
from fhir_server.conformance.r4 import R4Definitions
from fhir_server.domain.pushes import messages as M
from fhir_server.domain.pushes.content import load_library
from fhir_server.search.extract import Extractor
from fhir_server.search.registry import r4_registry
from fhir_server.search.templates import RowTemplates, Skeleton, check_value, substitute

LIB = load_library()
EXTRACTOR = Extractor(r4_registry())
SENT = datetime(2026, 5, 5, 1, 2, 3, tzinfo=UTC)
OUTCOMES = [
    M.Outcome("preparation", 0),
    M.Outcome("completed", 1, "app-inbox", SENT, SENT),
    M.Outcome("completed", 2, "sms", SENT, None),
    M.Outcome("in-progress", 1, reason_code="delivery-failed", reason_text="sms: HTTP 503"),
    M.Outcome("not-done", 1, reason_code="opted-out", reason_text="居民已通过 Consent 退订"),
]


def _push(item_index: int, patient: str, outcome: M.Outcome) -> M.Push:
    item = LIB.items[item_index]
    push = M.planned_push(
        patient_id=patient,
        contract_id=f"c-{patient}",
        care_plan_id=f"cp-{patient}",
        year_start=date(2026, 3, 1),
        slot=item_index % 12,
        due=date(2026, 3, 5),
        item=item,
        personalised=item.personalised,
        sender="PractitionerRole/role-9",
        term="jingzhe",
    )
    body = M.with_outcome(
        push.body,
        outcome,
        M.SENT if outcome.sent else None,
        M.RECEIVED if outcome.received else None,
    )
    values = dict(push.values)
    if outcome.sent:
        values[M.SENT] = "2026-05-05T09:02:03+08:00"
    if outcome.received:
        values[M.RECEIVED] = "2026-05-05T09:02:04+08:00"
    return M.Push(body, values)


@pytest.mark.parametrize(
    ("item_index", "outcome"), list(itertools.product(range(len(LIB.items)), OUTCOMES))
)
def test_rows_from_the_skeleton_equal_a_full_extraction(
    item_index: int, outcome: M.Outcome
) -> None:
    for patient in ("a1", "Zhang-San.2"):  # different lengths and cases
        push = _push(item_index, patient, outcome)
        skeleton = push.skeleton()
        rows = substitute(EXTRACTOR.extract(skeleton.content), push.values)
        full = EXTRACTOR.extract(push.materialise())
        assert rows is not None
        for kind in ("token", "date", "reference", "uri", "text", "sort", "string"):
            assert sorted(getattr(rows, kind)) == sorted(getattr(full, kind)), kind


def test_alert_rows_and_the_template_cache() -> None:
    templates = RowTemplates()
    alert = M.alert_push(
        patient_id="p7",
        care_plan_id=None,
        request_id="req-1",
        topic={
            "system": "https://jiayi.health/fhir/CodeSystem/push-topic",
            "code": "climate-sensitive",
        },
        topic_text="预警提醒：气候敏感疾病",
        message="高温预警",
        due=date(2026, 7, 1),
    )
    other = M.Push(alert.body, {**alert.values, M.PATIENT: "p8", M.ID: "alert-x"})
    for push in (alert, other, other):
        rows = templates.rows(EXTRACTOR, push.skeleton(), push.values, push.materialise())
        assert rows == EXTRACTOR.extract(push.materialise())
    assert templates.full_extractions == 1  # compared once, substituted after


def test_skeletons_validate_like_their_instances() -> None:
    validator = full_validator(R4Definitions.load())
    for outcome in OUTCOMES:
        push = _push(3, "a1", outcome)
        errors = [i for i in validator.validate(push.body) if i.is_error]
        real = [i for i in validator.validate(push.materialise()) if i.is_error]
        assert errors == real == []


@pytest.mark.parametrize(
    ("placeholder", "value", "ok"),
    [
        (M.ID, "push-abc", True),
        (M.ID, 'a"b', False),
        (M.ID, "a b", False),
        (M.SLOT, "Contract/c1/2026-03-01/11", True),
        (M.DUE, "2026-03-05", True),
        (M.DUE, "2026-3-5", False),
        (M.SENT, "2026-05-05T09:02:03+08:00", True),
        (M.SENT, "2026-05-05", False),
    ],
)
def test_values_are_checked(placeholder: str, value: str, ok: bool) -> None:
    assert check_value(placeholder, value) is ok


def test_instantiate_replaces_every_placeholder() -> None:
    push = _push(0, "a1", OUTCOMES[1])
    text = Skeleton(push.materialise()).key
    assert "zzjyv" not in text and "1801-" not in text and "1802-" not in text


@pytest.mark.parametrize(
    ("values", "exact"),
    [
        ({M.PATIENT: "p9"}, True),
        ({M.PATIENT: "zzjyv1tok"}, False),  # a value spelling a placeholder: extract in full
        ({M.PATIENT: "p" * 64}, True),  # the longest id
    ],
)
def test_compiled_substitution_is_exact_or_declines(values: dict[str, str], exact: bool) -> None:
    push = _push(2, "a1", OUTCOMES[1])
    merged = {**push.values, **values}
    rows = substitute(EXTRACTOR.extract(push.skeleton().content), merged)
    if not exact:
        assert rows is None
        return
    full = EXTRACTOR.extract(M.Push(push.body, merged).materialise())
    assert rows is not None
    for kind in ("token", "date", "reference", "uri", "text", "sort", "string"):
        assert sorted(getattr(rows, kind)) == sorted(getattr(full, kind)), kind
