"""Pure rules of issue 6, table-driven: ages (INTERFACE.md key populations), schedules
(terminology/README.md package conventions; 3rd-edition specification), terms and the
confirmation window (粤(一)(十)), fees (附件1 备注2), fulfilment (附件2 note)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fhir_server.domain.careplans import rules as P
from fhir_server.domain.careplans.rules import add_months, recurring, term_end
from fhir_server.domain.contracting import rules as C
from fhir_server.domain.fulfilment.rules import Tally, rate
from fhir_server.domain.populations.rules import Record, age_in_years, derive
from fhir_server.domain.populations.service import population_rules


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("1961-01-05", "2026-01-05", 65),
        ("1961-01-06", "2026-01-05", 64),
        ("2020-02-29", "2026-02-28", 5),
        ("2019-03-01", "2026-02-28", 6),
    ],
)
def test_age_in_years(birth: str, on: str, age: int) -> None:
    assert age_in_years(date.fromisoformat(birth), date.fromisoformat(on)) == age


ICD = "http://hl7.org/fhir/sid/icd-10"


def _cond(code: str, verification: str | None = None) -> dict:
    c = {
        "resourceType": "Condition",
        "id": code,
        "code": {"coding": [{"system": ICD, "code": code}]},
    }
    if verification:
        c["verificationStatus"] = {"coding": [{"code": verification}]}
    return c


@pytest.mark.parametrize(
    ("patient", "conditions", "expected"),
    [
        ({"birthDate": "1950-01-01"}, ["I10.x00"], ["elderly-65", "hypertension"]),
        ({"birthDate": "2021-01-01"}, [], ["child-0-6"]),
        ({"birthDate": "1990-01-01", "gender": "male"}, ["Z34.0"], []),
        ({"birthDate": "1990-01-01", "gender": "female"}, ["Z34.0"], ["maternal"]),
        ({"birthDate": "1990-01-01"}, ["F06.1"], []),
        (
            {"birthDate": "1990-01-01"},
            ["F20.0", "E11", "J44.1", "A15.0"],
            ["t2dm", "copd", "severe-mental-disorder", "tuberculosis"],
        ),
    ],
)
def test_derive(patient: dict, conditions: list[str], expected: list[str]) -> None:
    record = Record(
        {"resourceType": "Patient", "id": "p", **patient}, [_cond(c) for c in conditions]
    )
    assert [m.code for m in derive(population_rules(), record, date(2026, 1, 5))] == expected


def test_flag_declares_disability() -> None:
    flag = {
        "resourceType": "Flag",
        "id": "f",
        "status": "active",
        "code": {"coding": [{"system": C.CS + "key-population", "code": "disabled"}]},
    }
    record = Record({"resourceType": "Patient", "id": "p", "birthDate": "1990-01-01"}, flags=[flag])
    [m] = derive(population_rules(), record, date(2026, 1, 5))
    assert (m.code, m.evidence[0].reference) == ("disabled", "Flag/f")


@pytest.mark.parametrize(
    ("repeat", "years", "count", "first", "last"),
    [
        ({"frequency": 12, "period": 1, "periodUnit": "a"}, 1, 12, "2026-01-31", "2026-12-31"),
        ({"frequency": 4, "period": 1, "periodUnit": "a"}, 3, 12, "2026-03-31", "2028-12-31"),
        ({"frequency": 1, "period": 1, "periodUnit": "a"}, 2, 2, "2026-12-31", "2027-12-31"),
        ({"frequency": 1, "period": 5, "periodUnit": "a"}, 3, 1, "2028-12-31", "2028-12-31"),
        ({"frequency": 1, "period": 10, "periodUnit": "d"}, 1, 37, "2026-01-10", "2026-12-31"),
        (
            {"count": 3, "frequency": 1, "period": 1, "periodUnit": "a"},
            3,
            3,
            "2026-12-31",
            "2028-12-31",
        ),
    ],
)
def test_recurring(repeat: dict, years: int, count: int, first: str, last: str) -> None:
    start = date(2026, 1, 1)
    events = recurring(repeat, start, term_end(start, years))
    assert (len(events), events[0].isoformat(), events[-1].isoformat()) == (count, first, last)


def test_dates() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert C.add_years_end(date(2024, 2, 29), 1) == date(2025, 2, 28)


@pytest.mark.parametrize(
    ("term", "ok"), [(1, True), (3, True), (0, False), (4, False), (True, False), ("1", False)]
)
def test_term(term: object, ok: bool) -> None:
    if ok:
        assert C.check_term(term) == term
    else:
        with pytest.raises(C.E.FhirError):
            C.check_term(term)


@pytest.mark.parametrize(
    ("on", "window"),
    [
        ("2026-10-01", ("2026-10-01", "2027-03-31")),
        ("2027-02-01", ("2026-10-01", "2027-03-31")),
        ("2026-06-30", None),
    ],
)
def test_renewal_window(on: str, window: tuple[str, str] | None) -> None:
    got = C.renewal_window(date.fromisoformat(on))
    assert (tuple(d.isoformat() for d in got) if got else None) == window


def _fee(amount: float | None, source: str, parts: tuple[tuple[str, float], ...] = ()) -> dict:
    ext = [
        {
            "url": "fundingSource",
            "valueCodeableConcept": {"coding": [{"code": source}]},
        }
    ]
    if amount is not None:
        ext.insert(0, {"url": "amount", "valueMoney": {"value": amount}})
    for label, value in parts:
        ext.append(
            {
                "url": "part",
                "extension": [
                    {"url": "amount", "valueMoney": {"value": value}},
                    {"url": "component", "valueString": label},
                ],
            }
        )
    return {"url": C.EXT_FEE, "extension": ext}


PH = {
    "resourceType": "PlanDefinition",
    "id": "basic-public-health",
    "title": "基本公卫",
    "extension": [_fee(20, "public-health-funds", (("健康档案", 5.13), ("签约服务费", 10)))],
}
MI = {"resourceType": "PlanDefinition", "id": "kp-x", "title": "医疗", "extension": [_fee(None, "medical-insurance")]}  # fmt: skip


def test_fees_per_resident_and_year_with_the_split() -> None:
    fees = C.FeeBreakdown(
        (C.charge("Patient/a", PH, 3), C.charge("Patient/a", MI, 2), C.charge("Patient/b", PH, 3))
    )
    assert fees.sources() == ["public-health-funds", "medical-insurance"]
    assert fees.total("public-health-funds") == Decimal(120)  # 2 residents × 3 years × 20
    assert fees.total("medical-insurance") == 0 and fees.member_years("medical-insurance") == 2
    [ph, mi] = C.fee_terms(fees)
    assert [a["context"][0]["reference"]["reference"] for a in ph["asset"]] == ["Patient/a", "Patient/b"]  # fmt: skip
    assert ph["asset"][0]["valuedItem"][0]["net"] == {"value": 60.0, "currency": "CNY"}
    split = {
        g["offer"]["text"]: g["asset"][0]["valuedItem"][0]["net"]["value"] for g in ph["group"]
    }
    assert split == {"其中 健康档案 5.13 元/人·年": 30.78, "其中 签约服务费 10.00 元/人·年": 60.0}
    assert "unitPrice" not in mi["asset"][0]["valuedItem"][0]
    # the stored terms give back what was charged (member → definition → years)
    stored = C.with_fees({"resourceType": "Contract", "extension": []}, fees)
    assert C.charged(stored) == {
        "Patient/a": {"PlanDefinition/basic-public-health": 3, "PlanDefinition/kp-x": 2},
        "Patient/b": {"PlanDefinition/basic-public-health": 3},
    }
    assert C.with_fees(stored, C.FeeBreakdown()).get("term") is None


@pytest.mark.parametrize(
    ("status", "applies", "on", "active"),
    [
        ("executed", ("2026-01-05", "2027-01-04"), "2026-06-01", True),
        ("renewed", ("2026-01-05", "2027-01-04"), "2026-06-01", True),  # renewal signed, still runs
        ("renewed", ("2026-01-05", "2027-01-04"), "2027-01-05", False),
        ("terminated", ("2026-01-05", "2026-03-01"), "2026-02-01", False),
        ("executed", ("2027-01-05", "2028-01-04"), "2026-06-01", False),
    ],
)
def test_is_active(status: str, applies: tuple[str, str], on: str, active: bool) -> None:
    contract = {"status": status, "applies": {"start": applies[0], "end": applies[1]}}
    assert C.is_active(contract, date.fromisoformat(on)) is active


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        (
            "2026-01-05",
            "2029-01-04",
            [
                ("2026-01-05", "2027-01-04"),
                ("2027-01-05", "2028-01-04"),
                ("2028-01-05", "2029-01-04"),
            ],
        ),  # fmt: skip
        ("2026-01-05", "2026-06-30", [("2026-01-05", "2026-06-30")]),
        ("2024-02-29", "2026-02-27", [("2024-02-29", "2025-02-28"), ("2025-03-01", "2026-02-27")]),
    ],
)
def test_contract_years(start: str, end: str, years: list[tuple[str, str]]) -> None:
    got = C.contract_years(date.fromisoformat(start), date.fromisoformat(end))
    assert [(a.isoformat(), b.isoformat()) for a, b in got] == years
    assert [(a.isoformat(), b.isoformat()) for a, b in P.contract_years(date.fromisoformat(start), date.fromisoformat(end))] == years  # fmt: skip


@pytest.mark.parametrize(
    ("applies", "period", "begun"),
    [
        (("2026-01-05", "2029-01-04"), ("2026-01-01", "2026-12-31"), 1),
        (("2026-01-05", "2029-01-04"), ("2027-01-01", "2027-12-31"), 1),
        (("2026-01-05", "2029-01-04"), ("2026-01-01", "2029-12-31"), 3),
        (("2026-01-05", "2026-03-01"), ("2027-01-01", "2027-12-31"), 0),  # ended early
    ],
)
def test_years_begun(applies: tuple[str, str], period: tuple[str, str], begun: int) -> None:
    contract = {"applies": {"start": applies[0], "end": applies[1]}}
    start, end = (date.fromisoformat(d) for d in period)
    assert C.years_begun(contract, start, end) == begun


def test_signing_report_counts_sinking_doctors() -> None:
    def contract(cid: str, role: str, members: int, channel: str) -> dict:
        return {
            "id": cid,
            "status": "executed",
            "issued": "2026-01-05T09:00:00Z",
            "applies": {"start": "2026-01-05", "end": "2027-01-04"},
            "subject": [{"reference": f"Patient/{cid}{i}"} for i in range(members)],
            "signer": [{"party": {"reference": role}}],
            "extension": [
                {"url": C.EXT_CARE_TEAM, "valueReference": {"reference": "CareTeam/t"}},
                {"url": C.EXT_CHANNEL, "valueCoding": {"code": channel}},
            ],
        }

    roles = {
        "PractitionerRole/s": {
            "practitioner": {"reference": "Practitioner/s"},
            "extension": [
                {"url": C.EXT_SINKING_FROM, "valueReference": {"reference": "Organization/h"}}
            ],  # fmt: skip
        }
    }
    report = C.signing_report(
        [
            contract("a", "PractitionerRole/d", 1, "on-site"),
            contract("b", "PractitionerRole/s", 3, "online"),
        ],  # fmt: skip
        roles,
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert [(d.role, d.sinking_from, d.panel, d.resident_years, d.fee) for d in report.doctors] == [
        ("PractitionerRole/d", None, 1, 1, Decimal(10)),
        ("PractitionerRole/s", "Organization/h", 3, 3, Decimal(30)),
    ]
    assert report.teams == (("CareTeam/t", 4),) and report.panel == 4 and report.fee == Decimal(40)
    assert report.channels == (("on-site", 1, 1), ("online", 1, 3))


def test_rate() -> None:
    assert rate([]) == 1.0
    assert rate([Tally("a", "a", 4, 3), Tally("b", "b", 12, 20)]) == round(15 / 16, 4)


# -- schedules from the record (3rd-edition specification) ------------------------------------------
def _leaf(timing: dict, anchor: str | None = None, conditions: tuple = ()) -> P.Leaf:
    return P.Leaf("pkg", "pkg.item", "item", None, timing, anchor, conditions)


MONTHS = {"system": "http://unitsofmeasure.org", "code": "mo"}
PHASE = {
    "timingTiming": {
        "repeat": {
            "frequency": 1,
            "period": 1,
            "periodUnit": "mo",
            "boundsRange": {"low": {"value": 2, **MONTHS}, "high": {"value": 6, **MONTHS}},
        }
    }
}


@pytest.mark.parametrize(
    ("anchors", "status", "events"),
    [
        (
            {"treatment-start": "2026-01-04"},
            "scheduled",
            ["2026-04-03", "2026-05-03", "2026-06-03", "2026-07-03"],
        ),  # fmt: skip
        (
            {"treatment-start": "2025-12-04"},
            "scheduled",
            ["2026-03-03", "2026-04-03", "2026-05-03", "2026-06-03"],
        ),  # fmt: skip
        ({"treatment-start": "2025-01-04"}, "scheduled", []),  # the phase ended before the period
        ({}, "on-hold", []),
    ],
)
def test_a_phase_runs_inside_its_bounds_from_the_anchor(
    anchors: dict[str, str], status: str, events: list[str]
) -> None:
    found = {k: date.fromisoformat(v) for k, v in anchors.items()}
    got = P.schedule(_leaf(PHASE, "treatment-start"), date(2026, 1, 5), date(2027, 1, 4), found)
    assert (got.status, [e.isoformat() for e in got.events]) == (status, events)


WEEKS = {"system": "http://unitsofmeasure.org", "code": "wk"}


@pytest.mark.parametrize(
    ("low", "high", "delivered", "events"),
    [
        (28, 36, None, ["2026-06-10"]),
        (28, 36, "2026-06-01", ["2026-06-01"]),  # the window ends at the delivery
        (37, 40, "2026-06-01", []),  # it began after the delivery: not promised
    ],
)
def test_antenatal_windows_and_a_recorded_delivery(
    low: int, high: int, delivered: str | None, events: list[str]
) -> None:
    timing = {"timingRange": {"low": {"value": low, **WEEKS}, "high": {"value": high, **WEEKS}}}
    anchors = {"gestational-age": date(2025, 10, 1)}
    if delivered:
        anchors[P.DELIVERED] = date.fromisoformat(delivered)
    got = P.schedule(_leaf(timing, "gestational-age"), date(2026, 1, 5), date(2027, 1, 4), anchors)
    assert [e.isoformat() for e in got.events] == events


@pytest.mark.parametrize(
    ("count", "start", "end", "events"),
    [
        (4, "2026-01-05", "2028-01-04", ["2026-07-05", "2027-01-04", "2027-07-05", "2028-01-04"]),
        (1, "2026-03-01", "2026-03-31", ["2026-03-31"]),
        (3, "2026-01-01", "2026-01-03", ["2026-01-01", "2026-01-02", "2026-01-03"]),
    ],
)
def test_spread(count: int, start: str, end: str, events: list[str]) -> None:
    got = P.spread(count, date.fromisoformat(start), date.fromisoformat(end))
    assert [e.isoformat() for e in got] == events


def test_applicability_per_contract_year() -> None:
    """A yearly service for 80+ of someone turning 80 in the second year: from that year on."""
    yearly = {"timingTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "a"}}}
    cond = P.Condition("text/fhirpath", "%subject.birthDate <= today() - 80 years")
    years = [P.Year(a, b) for a, b in P.contract_years(date(2026, 1, 5), date(2029, 1, 4))]
    subject = {"resourceType": "Patient", "birthDate": "1947-06-10"}
    got = P.plan_leaf(_leaf(yearly, conditions=(cond,)), subject, years, {})
    assert got is not None and [e.isoformat() for e in got.events] == ["2028-01-04", "2029-01-04"]
    younger = {"resourceType": "Patient", "birthDate": "1960-01-01"}
    assert P.plan_leaf(_leaf(yearly, conditions=(cond,)), younger, years, {}) is None


# -- fulfilment: nothing is due after the plan ended ------------------------------------------------
@pytest.mark.parametrize(
    ("end", "on", "due"),
    [
        ("2027-01-04", "2027-01-04", 4),
        ("2026-06-30", "2027-01-04", 1),
        ("2027-01-04", "2026-08-01", 2),
    ],
)
def test_due_is_capped_at_the_plan_end(end: str, on: str, due: int) -> None:
    from fhir_server.domain.fulfilment.rules import tally_plan

    plan = {
        "id": "cp",
        "period": {"start": "2026-01-05", "end": end},
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "code": {"coding": [{"system": P.SERVICE_ITEM, "code": "x.follow-up"}]},
                    "scheduledTiming": {
                        "event": ["2026-04-04", "2026-07-04", "2026-10-04", "2027-01-04"]
                    },  # fmt: skip
                }
            }
        ],
    }
    [tally] = tally_plan(plan, [], date.fromisoformat(on))
    assert tally.due == due


# -- Patient?key-population= rewrites -------------------------------------------------------------
def test_key_population_search_terms() -> None:
    from fhir_server.domain.populations import search as S

    rules = population_rules()
    on = date(2026, 1, 5)
    assert S.patient_terms(rules, "elderly-65", on)[0] == [("birthdate", "le1961-01-05")]
    assert S.patient_terms(rules, "child-0-6", on)[0] == [
        ("birthdate", "le2026-01-05"),
        ("birthdate", "gt2019-01-05"),
    ]
    assert S.patient_terms(rules, "maternal", on)[0] == [
        ("gender", "female"),
        ("_has:Condition:subject:key-population", "maternal"),
    ]
    assert S.patient_terms(rules, "disabled", on) == [
        [("_has:Flag:subject:key-population", "disabled")]
    ]
    assert S.patient_terms(rules, "nope", on) == []
    f06 = [g for g in S.condition_terms(rules, "severe-mental-disorder") if ("code:below", "http://hl7.org/fhir/sid/icd-10|F06") in g]  # fmt: skip
    assert all(("verification-status", "confirmed") in g for g in f06) and len(f06) == 2
    assert S.years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)


# -- orders ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task", "item"),
    [
        (
            {
                "instantiatesCanonical": "https://jiayi.health/fhir/ActivityDefinition/personalised.x"
            },
            "ActivityDefinition/personalised.x",
        ),  # fmt: skip
        (
            {"focus": {"reference": "ActivityDefinition/personalised.x"}},
            "ActivityDefinition/personalised.x",
        ),  # fmt: skip
        (
            {"code": {"coding": [{"system": P.SERVICE_ITEM, "code": "personalised.x"}]}},
            "ActivityDefinition/personalised.x",
        ),  # fmt: skip
        (
            {
                "focus": {"reference": "ServiceRequest/r"},
                "code": {"coding": [{"system": P.SERVICE_ITEM, "code": "x"}]},
            },
            None,
        ),  # fmt: skip
        ({"focus": {"reference": "Contract/c"}}, None),
    ],
)
def test_what_an_order_names(task: dict, item: str | None) -> None:
    from fhir_server.domain.careplans.rules_on_write import item_reference as plan_side
    from fhir_server.domain.contracting.rules_on_write import item_reference as contract_side

    assert plan_side(task) == item
    assert (contract_side(task) or (None,))[0] == item


# -- fulfilment: a service is matched by its service-item or its clinical code, once ------------
def _wanted(items: tuple[str, ...] = ("x.follow-up",), clinical: tuple[tuple[str, str], ...] = ()):
    from fhir_server.domain.fulfilment.rules import Wanted

    return Wanted(frozenset(items), frozenset(clinical))


SCT = ("http://snomed.info/sct", "390906007")
BP = ("http://loinc.org", "85354-9")


def _record(ref: str, items=(), clinical=(), part_of=(), not_done=False):
    from fhir_server.domain.fulfilment.rules import Delivered

    return Delivered(
        ref, date(2026, 3, 1), not_done, frozenset(items), frozenset(clinical), frozenset(part_of)
    )


@pytest.mark.parametrize(
    ("wanted", "records", "counted"),
    [
        # the service-item code alone, the clinical code alone, both (once)
        (_wanted(), [_record("Encounter/a", items=["x.follow-up"])], (1, 0)),
        (_wanted(clinical=(SCT,)), [_record("Encounter/a", clinical=[SCT])], (1, 0)),
        (
            _wanted(clinical=(SCT,)),
            [_record("Encounter/a", items=["x.follow-up"], clinical=[SCT])],
            (1, 0),
        ),
        # a clinical code the activity does not name, another item's code: nothing
        (_wanted(clinical=(SCT,)), [_record("Encounter/a", clinical=[BP])], (0, 0)),
        (_wanted(), [_record("Encounter/a", items=["x.health-check"])], (0, 0)),
        # the same code in another system is another code
        (_wanted(clinical=(SCT,)), [_record("Encounter/a", clinical=[("urn:x", SCT[1])])], (0, 0)),
        # an Observation taken at a counted Encounter is the same service
        (
            _wanted(clinical=(SCT, BP)),
            [
                _record("Encounter/a", clinical=[SCT]),
                _record("Observation/o", clinical=[BP], part_of=["Encounter/a"]),
            ],
            (1, 0),
        ),
        # … but not when its Encounter does not count for this activity
        (
            _wanted(clinical=(BP,)),
            [
                _record("Encounter/a", clinical=[SCT]),
                _record("Observation/o", clinical=[BP], part_of=["Encounter/a"]),
            ],
            (1, 0),
        ),
        # two separate visits are two
        (
            _wanted(clinical=(SCT,)),
            [_record("Encounter/a", clinical=[SCT]), _record("Encounter/b", items=["x.follow-up"])],
            (2, 0),
        ),
        # not-done: declined, by either code; a done record does not hide a declined one
        (
            _wanted(clinical=(SCT,)),
            [_record("Procedure/p", clinical=[SCT], not_done=True)],
            (0, 1),
        ),
        (
            _wanted(clinical=(SCT, BP)),
            [
                _record("Encounter/a", clinical=[SCT]),
                _record("Observation/o", clinical=[BP], part_of=["Encounter/a"], not_done=True),
            ],
            (1, 1),
        ),
    ],
)
def test_delivered_service_matching(wanted, records, counted: tuple[int, int]) -> None:
    from fhir_server.domain.fulfilment.rules import count_delivered

    assert count_delivered(wanted, records) == counted


@pytest.mark.parametrize(
    ("record", "clinical"),
    [
        ({"resourceType": "Encounter", "type": [{"coding": [{"system": SCT[0], "code": SCT[1]}]}]},
         {SCT}),
        ({"resourceType": "Observation", "code": {"coding": [{"system": BP[0], "code": BP[1]}]}},
         {BP}),
        # a component's code, a reason, a category are not what the record delivered
        ({"resourceType": "Observation", "code": {"text": "x"},
          "component": [{"code": {"coding": [{"system": BP[0], "code": BP[1]}]}}]}, set()),
        ({"resourceType": "Encounter",
          "reasonCode": [{"coding": [{"system": SCT[0], "code": SCT[1]}]}]}, set()),
    ],
)  # fmt: skip
def test_clinical_codes_come_from_the_records_own_code(record: dict, clinical: set) -> None:
    from fhir_server.domain.fulfilment.rules import delivered

    found = delivered({**record, "id": "r", "effectiveDateTime": "2026-03-01",
                       "period": {"start": "2026-03-01"}}, "CarePlan/cp")  # fmt: skip
    assert (found.clinical if found else set()) == clinical


def test_activity_codes_include_its_definitions_clinical_codes() -> None:
    from fhir_server.domain.fulfilment.rules import wanted

    activity = {
        "detail": {
            "code": {
                "coding": [
                    {"system": P.SERVICE_ITEM, "code": "x.follow-up"},
                    {"system": BP[0], "code": BP[1]},
                ]
            },
            "instantiatesCanonical": ["https://example.org/AD/x|0.1.0"],
        }
    }
    got = wanted(activity, {"https://example.org/AD/x": frozenset({SCT})})
    assert got.items == {"x.follow-up"} and got.clinical == {SCT, BP}
    assert wanted(activity).clinical == {BP}
