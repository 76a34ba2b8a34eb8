"""`TerminologyService` over in-memory sources: compose evaluation ($expand), membership,
$validate-code, $lookup, $translate (http://hl7.org/fhir/R4/terminology-service.html)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.terminology import (
    ICD10,
    ChainSource,
    StaticSource,
    TerminologyService,
    TokenTerm,
    package_source,
)

CS = "urn:test:cs"
SNOMED = "http://snomed.info/sct"


def _vs(name: str, *include: dict[str, Any], exclude: list | None = None, **extra: Any) -> dict:
    compose: dict[str, Any] = {"include": list(include)}
    if exclude:
        compose["exclude"] = exclude
    return {"resourceType": "ValueSet", "url": f"urn:test:vs:{name}", "compose": compose, **extra}


def _concept(code: str, zh: str, en: str, *kids: dict, **extra: Any) -> dict:
    out = {"code": code, "display": zh, "designation": [{"language": "en", "value": en}], **extra}
    if kids:
        out["concept"] = list(kids)
    return out


CODESYSTEM = {
    "resourceType": "CodeSystem",
    "url": CS,
    "name": "Test",
    "version": "1",
    "content": "complete",
    "concept": [
        _concept(
            "chronic",
            "慢性病",
            "Chronic disease",
            _concept("htn", "高血压", "Hypertension"),
            _concept("dm", "糖尿病", "Diabetes"),
            _concept(
                "old",
                "旧编码",
                "Old code",
                property=[{"code": "status", "valueCode": "retired"}],
            ),
        ),
        _concept("tb", "肺结核", "Tuberculosis"),
    ],
}
VALUE_SETS = [
    _vs("all", {"system": CS}),
    _vs(
        "listed",
        {"system": CS, "concept": [{"code": "tb"}, {"code": "htn", "display": "原发性高血压"}]},
    ),
    _vs(
        "below",
        {
            "system": CS,
            "filter": [{"property": "concept", "op": "descendent-of", "value": "chronic"}],
        },
    ),
    _vs("but-dm", {"system": CS}, exclude=[{"system": CS, "concept": [{"code": "dm"}]}]),
    _vs("import", {"valueSet": ["urn:test:vs:below", "urn:test:vs:but-dm"]}),
    _vs("snomed", {"system": SNOMED, "concept": [{"code": "38341003", "display": "Hypertension"}]}),
    _vs("snomed-all", {"system": SNOMED}),
    _vs("loop", {"valueSet": ["urn:test:vs:loop"]}),
    {**_vs("active"), "compose": {"include": [{"system": CS}], "inactive": False}},
    _vs("icd", {"system": ICD10, "concept": [{"code": "I10"}, {"code": "I11"}]}),
]


@pytest.fixture
def tx() -> TerminologyService:
    local = StaticSource([CODESYSTEM, *VALUE_SETS])
    return TerminologyService(ChainSource(local, package_source()))


def _codes(tx: TerminologyService, vs: str, **kw: Any) -> list[str]:
    return [e.code for e in tx.expand(f"urn:test:vs:{vs}", **kw).entries]


@pytest.mark.parametrize(
    ("vs", "codes"),
    [
        ("all", ["chronic", "htn", "dm", "old", "tb"]),
        ("listed", ["tb", "htn"]),
        ("below", ["htn", "dm", "old"]),
        ("but-dm", ["chronic", "htn", "old", "tb"]),
        ("import", ["htn", "old"]),
        ("snomed", ["38341003"]),
        ("active", ["chronic", "htn", "dm", "tb"]),
    ],
)
def test_expand_compose(tx: TerminologyService, vs: str, codes: list[str]) -> None:
    assert _codes(tx, vs) == codes


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("高血压", ["htn"]),
        ("HYPERTENSION", ["htn"]),
        ("gaoxueya", ["htn"]),
        ("gxy", ["htn"]),
        ("tang niao", ["dm"]),
        ("慢性", ["chronic"]),
        ("nothing-like-this", []),
    ],
)
def test_expand_text_filter(tx: TerminologyService, text: str, codes: list[str]) -> None:
    assert _codes(tx, "all", filter=text) == codes


def test_expand_paging_language_and_active_only(tx: TerminologyService) -> None:
    page = tx.expand("urn:test:vs:all", offset=1, count=2, display_language="en")
    assert (page.total, page.offset, [e.code for e in page.entries]) == (5, 1, ["htn", "dm"])
    resource = page.to_valueset(
        identifier="urn:uuid:x", timestamp="2026-01-01T00:00:00Z", display_language="en"
    )
    assert resource["expansion"]["total"] == 5
    assert [c["display"] for c in resource["expansion"]["contains"]] == ["Hypertension", "Diabetes"]
    assert tx.expand("urn:test:vs:all", active_only=True).total == 4
    listed = tx.expand("urn:test:vs:listed", include_designations=True).entries
    assert listed[1].display == "原发性高血压" and listed[1].designations[0].value == "Hypertension"


@pytest.mark.parametrize(
    ("vs", "error", "status"),
    [
        ("urn:test:vs:nope", "not known", 404),
        ("urn:test:vs:loop", "imports itself", 400),
        ("urn:test:vs:snomed-all", "not available", 400),
    ],
)
def test_expand_errors(tx: TerminologyService, vs: str, error: str, status: int) -> None:
    with pytest.raises(FhirError) as exc:
        tx.expand(vs)
    assert exc.value.status == status and error in exc.value.message


def test_expand_too_large_is_too_costly() -> None:
    small = TerminologyService(StaticSource([CODESYSTEM, *VALUE_SETS]), max_expansion=3)
    with pytest.raises(FhirError) as exc:
        small.expand("urn:test:vs:all")
    assert exc.value.issues[0].code == "too-costly"


@pytest.mark.parametrize(
    ("vs", "system", "code", "member"),
    [
        ("all", CS, "htn", True),
        ("all", CS, "nope", False),
        ("below", CS, "chronic", False),
        ("below", CS, "old", True),
        ("but-dm", CS, "dm", False),
        ("import", CS, "htn", True),
        ("import", CS, "dm", False),
        ("active", CS, "old", False),
        ("snomed", SNOMED, "38341003", True),
        ("snomed", SNOMED, "1", False),
        ("snomed-all", SNOMED, "38341003", None),
        ("icd", ICD10, "I10.x00", True),
        ("icd", ICD10, "I15.x00", False),
        ("listed", "urn:other", "htn", False),
    ],
)
def test_membership(
    tx: TerminologyService, vs: str, system: str, code: str, member: bool | None
) -> None:
    assert tx.membership(f"urn:test:vs:{vs}", system, code) is member
    assert tx.is_in(f"urn:test:vs:{vs}", system, code) is (member is True)


@pytest.mark.parametrize(
    ("vs", "system", "code", "display", "result", "message"),
    [
        ("all", CS, "htn", "高血压", True, None),
        ("all", CS, "htn", "hypertension", True, None),
        ("all", CS, "htn", "Diabetes", True, "does not match"),
        ("all", None, "htn", None, True, None),
        ("all", CS, "zzz", None, False, "Unknown code"),
        ("below", CS, "tb", None, False, "not in the value set"),
        ("snomed-all", SNOMED, "1", None, False, "could not be checked"),
        ("icd", ICD10, "I10.x00", "高血压", True, "ICD-10 category 'I10'"),
    ],
)
def test_validate_code(
    tx: TerminologyService,
    vs: str,
    system: str | None,
    code: str,
    display: str | None,
    result: bool,
    message: str | None,
) -> None:
    out = tx.validate_code(f"urn:test:vs:{vs}", system, code, display)
    assert out.result is result
    assert (message is None and out.message is None) or (message and message in (out.message or ""))


def test_validate_in_code_system(tx: TerminologyService) -> None:
    assert tx.validate_in_code_system(CS, "dm", display_language="en").display == "Diabetes"
    assert not tx.validate_in_code_system(CS, "zz").result
    with pytest.raises(FhirError):
        tx.validate_in_code_system("urn:nope", "x")


def test_lookup(tx: TerminologyService) -> None:
    found = tx.lookup(CS, "chronic", display_language="en")
    assert (found.name, found.version, found.display) == ("Test", "1", "Chronic disease")
    assert [(d.language, d.value) for d in found.designations] == [
        ("zh", "慢性病"),
        ("en", "Chronic disease"),
    ]
    children = [v["valueCode"] for c, v in found.properties if c == "child"]
    assert children == ["htn", "dm", "old"]
    only = tx.lookup(CS, "htn", properties=["parent"])
    assert only.properties == (("parent", {"valueCode": "chronic"}),)
    with pytest.raises(FhirError) as exc:
        tx.lookup(CS, "zz")
    assert exc.value.status == 404


def test_search_helpers(tx: TerminologyService) -> None:
    assert tx.descendants(CS, "chronic") == ["htn", "dm", "old"]
    assert tx.token_terms("urn:test:vs:icd") == [
        TokenTerm(ICD10, "I10", True),
        TokenTerm(ICD10, "I11", True),
    ]
    assert [t.code for t in tx.below_terms(CS, "chronic")] == ["chronic", "htn", "dm", "old"]


@pytest.mark.parametrize(
    ("code", "reverse", "expected"),
    [
        ("I10.x00", False, [("wider", "hypertension")]),
        ("E11", False, [("wider", "t2dm")]),
        ("F06.x01", False, [("narrower", "severe-mental-disorder")]),
        ("J45", False, []),
    ],
)
def test_translate_icd10_key_population(code: str, reverse: bool, expected: list) -> None:
    tx = TerminologyService(package_source())
    out = tx.translate(ICD10, code, reverse=reverse)
    assert [(m.equivalence, m.code) for m in out.matches] == expected
    assert out.result is bool(expected)


def test_translate_reverse_and_unmapped() -> None:
    tx = TerminologyService(package_source())
    back = tx.translate("https://jiayi.health/fhir/CodeSystem/key-population", "copd", reverse=True)
    assert [(m.equivalence, m.system, m.code) for m in back.matches] == [("narrower", ICD10, "J44")]
    cm = {
        "resourceType": "ConceptMap",
        "url": "urn:test:cm",
        "group": [
            {
                "source": CS,
                "target": "urn:t",
                "element": [],
                "unmapped": {"mode": "fixed", "code": "x"},
            }
        ],
    }
    fixed = tx.translate(CS, "anything", concept_map=cm)
    assert [(m.equivalence, m.code) for m in fixed.matches] == [("inexact", "x")]
    with pytest.raises(FhirError) as exc:
        tx.translate(CS, "x", concept_map="urn:test:nope")
    assert exc.value.status == 404
