"""The service packages against the annex tables of the Guangdong plan (附件1, 附件2), row by row.

Seed: /work/shared/seeds/002_*.txt, 附件1 一般人群家庭医生签约基本服务包参考内容 and 附件2 重点人群家庭医生
签约基本服务包参考内容; INTERFACE.md fixes the PlanDefinition ids.  `tests/data/annex_rows.json` is
written by `scripts/extract_annex_rows.py` from the seed text, independently of `profiles/packages/`;
when the seed is present the extraction is re-run and must equal the committed table.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_resources

ROOT = Path(__file__).resolve().parents[3]
ANNEX_ROWS = json.loads((ROOT / "tests" / "data" / "annex_rows.json").read_text(encoding="utf-8"))
BASE = "https://jiayi.health/fhir"
KEY_POPULATIONS = ["elderly-65", "hypertension", "t2dm", "copd", "severe-mental-disorder", "tuberculosis", "maternal", "child-0-6", "disabled", "cancer-high-risk"]  # fmt: skip
PACKAGE_IDS = ["basic-public-health", "basic-medical", *[f"kp-{c}" for c in KEY_POPULATIONS]]
RESOURCES = load_ig_resources()
BY_URL = {r["url"]: r for r in RESOURCES if "url" in r}
PLANS = {r["id"]: r for r in RESOURCES if r["resourceType"] == "PlanDefinition"}


def _walk(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for action in actions:
        yield action
        yield from _walk(action.get("action", []))


def _codes(concepts: list[dict[str, Any]]) -> Iterator[str]:
    for concept in concepts:
        yield concept["code"]
        yield from _codes(concept.get("concept", []))


def _codings(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "system" in value and "code" in value and isinstance(value["code"], str):
            yield value
        for v in value.values():
            yield from _codings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _codings(v)


def test_extraction_matches_the_seed(tmp_path: Path) -> None:
    seeds = sorted(Path("/work/shared/seeds").glob("002_*.txt"))
    if not seeds:
        pytest.skip("seed text not available on this machine")
    spec = importlib.util.spec_from_file_location(
        "extract", ROOT / "scripts" / "extract_annex_rows.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.extract(seeds[0]) == ANNEX_ROWS


def test_every_package_of_the_annexes_exists() -> None:
    assert sorted(ANNEX_ROWS) == sorted(PACKAGE_IDS)
    assert sorted(PLANS) == sorted(PACKAGE_IDS)
    for pid, plan in PLANS.items():
        assert plan["url"] == f"{BASE}/PlanDefinition/{pid}"
        assert (
            plan["status"] == "active"
            and plan["version"] == "0.1.0"
            and plan["publisher"] == "Jiayi"
        )


@pytest.mark.parametrize("package", PACKAGE_IDS)
def test_actions_match_annex_rows_verbatim(package: str) -> None:
    actions = PLANS[package]["action"]
    rows = ANNEX_ROWS[package]
    assert len(actions) == len(rows)
    for action, row in zip(actions, rows, strict=True):
        assert action["title"] == row["服务项目"]
        assert action["description"] == row["服务内容"]
        if "服务要求" in row:  # 附件2
            assert action.get("textEquivalent") == row["服务要求"]
        else:  # 附件1: 服务频次 kept in Timing.code.text
            assert action["timingTiming"]["code"]["text"] == row["服务频次"]


def test_row_counts() -> None:
    counts = {pid: len(p["action"]) for pid, p in PLANS.items()}
    assert counts == {pid: len(rows) for pid, rows in ANNEX_ROWS.items()}
    assert sum(counts.values()) == 95


@pytest.mark.parametrize("package", PACKAGE_IDS)
def test_definitions_resolve(package: str) -> None:
    for action in _walk(PLANS[package]["action"]):
        canonical = action["definitionCanonical"]
        definition = BY_URL.get(canonical)
        assert definition is not None, canonical
        assert definition["resourceType"] == "ActivityDefinition"
        action_codes = {(c["system"], c["code"]) for c in _codings(action["code"])}
        ad_codes = {(c["system"], c["code"]) for c in definition["code"]["coding"]}
        assert ad_codes <= action_codes


def test_activity_definition_files_are_named_by_id() -> None:
    folder = ROOT / "profiles" / "packages"
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"{data['resourceType']}-{data['id']}.json"
        assert data["url"] == f"{BASE}/{data['resourceType']}/{data['id']}"


def test_every_code_used_exists_in_its_code_system() -> None:
    systems = {
        r["url"]: set(_codes(r.get("concept", [])))
        for r in RESOURCES
        if r["resourceType"] == "CodeSystem"
    }
    used = Counter()
    for resource in RESOURCES:
        if resource["resourceType"] not in ("PlanDefinition", "ActivityDefinition"):
            continue
        for coding in _codings(resource):
            if coding["system"].startswith(BASE):
                assert coding["code"] in systems[coding["system"]], (resource["id"], coding)
                used[coding["system"]] += 1
    assert used[f"{BASE}/CodeSystem/service-item"] > 0


def test_basic_public_health_fee_split() -> None:
    """附件1 备注2: 20 yuan, including 5.13 health records, 4.38 health education, 10 signing fee."""
    [fee] = [
        e for e in PLANS["basic-public-health"]["extension"] if e["url"].endswith("/fee-standard")
    ]
    parts = {p["url"]: p for p in fee["extension"] if p["url"] != "part"}
    assert parts["amount"]["valueMoney"] == {"value": 20, "currency": "CNY"}
    assert (
        parts["fundingSource"]["valueCodeableConcept"]["coding"][0]["code"] == "public-health-funds"
    )
    included = {}
    for part in (p for p in fee["extension"] if p["url"] == "part"):
        sub = {x["url"]: x for x in part["extension"]}
        assert sub["amount"]["valueMoney"]["currency"] == "CNY"
        included[sub["component"]["valueString"]] = Decimal(
            str(sub["amount"]["valueMoney"]["value"])
        )
    assert included == {"建立居民健康档案": Decimal("5.13"), "健康教育": Decimal("4.38"), "家庭医生签约服务费": Decimal("10")}  # fmt: skip
    assert sum(included.values()) <= Decimal("20")


def _find(package: str, title: str) -> dict[str, Any]:
    return next(a for a in PLANS[package]["action"] if a["title"] == title)


def test_structured_frequencies() -> None:
    reminders = _find("kp-hypertension", "健康提醒与健康咨询")["action"]
    first = reminders[0]["timingTiming"]["repeat"]
    assert (first["frequency"], first["period"], first["periodUnit"]) == (12, 1, "a")
    assert first["extension"][0]["valueCode"] == ">="
    follow_up = _find("kp-hypertension", "高血压患者健康管理服务")["action"][0]["timingTiming"][
        "repeat"
    ]
    assert (follow_up["frequency"], follow_up["extension"][0]["valueCode"]) == (4, ">=")
    smd = _find("kp-severe-mental-disorder", "严重精神障碍患者健康管理服务")["action"][0]
    assert smd["timingTiming"]["repeat"]["frequency"] == 4
    general = _find("basic-medical", "结合地方实际和健康需求，确定一定的一般诊疗服务纳入服务包")
    assert general["timingTiming"]["repeat"]["extension"][0]["valueCode"] == "<="
    outpatient = _find("kp-t2dm", "门诊服务")["timingTiming"]
    assert outpatient["code"]["coding"][0]["code"] == "on-demand" and "repeat" not in outpatient
    antenatal = _find("kp-maternal", "孕产妇健康管理服务")["action"]
    assert sum(1 for a in antenatal if a["id"].startswith("maternal-management.antenatal")) == 5
    child = _find("kp-child-0-6", "0～6岁儿童健康管理服务")["action"]
    ages = [(a["timingAge"]["value"], a["timingAge"]["code"]) for a in child if "timingAge" in a]
    assert ages == [(3, "mo"), (6, "mo"), (8, "mo"), (12, "mo"), (18, "mo"), (24, "mo"), (30, "mo"), (36, "mo"), (4, "a"), (5, "a"), (6, "a")]  # fmt: skip


def test_applicability_conditions() -> None:
    home = _find("kp-elderly-65", "上门健康随访（80岁及以上）")
    expressions = [c["expression"]["expression"] for c in home["condition"]]
    assert "%subject.birthDate <= today() - 80 years" in expressions
    for pid in PACKAGE_IDS[2:]:
        population = pid.removeprefix("kp-")
        for action in PLANS[pid]["action"]:
            first = action["condition"][0]
            assert first["kind"] == "applicability"
            assert f"code = '{population}'" in first["expression"]["expression"]
        focus = PLANS[pid]["useContext"][0]["valueCodeableConcept"]["coding"][0]
        assert focus["code"] == population


def _fhirpath_conditions() -> list[tuple[str, str, str]]:
    """(package, action code or title, expression) of every text/fhirpath condition of every action."""
    found = []
    for pid, plan in sorted(PLANS.items()):
        for action in _walk(plan.get("action", [])):
            for cond in action.get("condition", []):
                expression = cond["expression"]
                if expression["language"] == "text/fhirpath":
                    found.append((pid, action.get("title", "?"), expression["expression"]))
    return found


FHIRPATH_CONDITIONS = _fhirpath_conditions()


def _resident(born: str, *populations: str) -> tuple[dict[str, Any], dict[str, Any]]:
    subject = {"resourceType": "Patient", "id": "r", "birthDate": born, "gender": "female"}
    kps = [{"system": f"{BASE}/CodeSystem/key-population", "code": c} for c in populations]
    return subject, {"subject": subject, "keyPopulations": kps}


def test_every_package_row_has_a_fhirpath_condition_or_none_needed() -> None:
    """附件2 rows all carry the population as FHIRPath; 附件1 (every signed resident) needs none."""
    with_fhirpath = {pid for pid, _title, _expr in FHIRPATH_CONDITIONS}
    assert with_fhirpath == set(PACKAGE_IDS[2:])


@pytest.mark.parametrize(
    ("package", "title", "expression"),
    FHIRPATH_CONDITIONS,
    ids=[f"{p}:{t[:12]}:{i}" for i, (p, t, _e) in enumerate(FHIRPATH_CONDITIONS)],
)
def test_fhirpath_condition_compiles_and_yields_a_boolean(
    package: str, title: str, expression: str
) -> None:
    """Applicability conditions compile (fhirpathpy, as `domain/careplans/rules.py` runs them) and
    answer one boolean for a member of the package's population and for a resident outside it."""
    import fhirpathpy

    compiled = fhirpathpy.compile(expression)
    population = package.removeprefix("kp-")
    for born in ("1940-03-01", "1990-03-01", "2023-03-01"):
        for pops in ((population,), ()):
            subject, env = _resident(born, *pops)
            result = compiled(subject, env)
            assert result in ([True], [False]), (expression, born, pops, result)
    if f"code = '{population}'" in expression:
        assert compiled(*_resident("1990-03-01", population)) == [True]
        assert compiled(
            *_resident("1990-03-01", "disabled" if population != "disabled" else "copd")
        ) == [False]


def test_age_conditions_decide() -> None:
    import fhirpathpy

    over_80 = "%subject.birthDate <= today() - 80 years"
    assert fhirpathpy.evaluate(
        *_resident("1930-01-01")[:1], over_80, _resident("1930-01-01")[1]
    ) == [True]
    assert fhirpathpy.evaluate(
        *_resident("1955-01-01")[:1], over_80, _resident("1955-01-01")[1]
    ) == [False]
