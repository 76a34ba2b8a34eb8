"""The guide's terminology: INTERFACE.md's fixed codes, GB/T 2260 divisions of Guangdong, ICD-10
key-population rules, and the shape of every CodeSystem and ValueSet (unique codes, zh display and
en designation, one all-codes ValueSet per CodeSystem).

Seeds: 国卫办基层发〔2025〕21号 and the Guangdong plan (附件2 key populations); INTERFACE.md.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_data, load_ig_resources

BASE = "https://jiayi.health/fhir"
RESOURCES = load_ig_resources()
CODE_SYSTEMS = {r["id"]: r for r in RESOURCES if r["resourceType"] == "CodeSystem"}
VALUE_SETS = {r["id"]: r for r in RESOURCES if r["resourceType"] == "ValueSet"}
_CJK = re.compile(r"[\u4e00-\u9fff]")

FIXED = {
    "key-population": [
        "elderly-65",
        "hypertension",
        "t2dm",
        "copd",
        "severe-mental-disorder",
        "tuberculosis",
        "maternal",
        "child-0-6",
        "disabled",
        "cancer-high-risk",
    ],  # fmt: skip
    "contract-termination-reason": [
        "moved-out",
        "unreachable",
        "refused-service",
        "resident-request",
        "death",
        "transfer",
    ],  # fmt: skip
    "signing-channel": ["on-site", "online", "community-event", "home-visit"],
    "push-kind": ["personalised", "routine", "alert"],
    "slot-reservation": ["referral"],
}


def _concepts(concepts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for concept in concepts:
        yield concept
        yield from _concepts(concept.get("concept", []))


def _codes(cs: dict[str, Any]) -> list[str]:
    return [c["code"] for c in _concepts(cs.get("concept", []))]


@pytest.mark.parametrize("cs_id", sorted(FIXED))
def test_fixed_interface_codes(cs_id: str) -> None:
    cs = CODE_SYSTEMS[cs_id]
    assert cs["url"] == f"{BASE}/CodeSystem/{cs_id}"
    assert _codes(cs) == FIXED[cs_id]


def test_push_topics_cover_the_seeds() -> None:
    codes = set(_codes(CODE_SYSTEMS["push-topic"]))
    assert {"exercise", "diet", "tobacco", "alcohol", "three-reductions", "iodine", "weight", "chronic-disease", "health-literacy-66", "infectious-disease", "tcm", "vaccination", "climate-sensitive"} <= codes  # fmt: skip
    three = next(
        c for c in CODE_SYSTEMS["push-topic"]["concept"] if c["code"] == "three-reductions"
    )
    assert [c["display"] for c in three["concept"]] == ["减油", "减盐", "减糖"]


def test_solar_terms_in_calendar_order() -> None:
    terms = CODE_SYSTEMS["solar-term"]["concept"]
    assert len(terms) == 24
    assert (terms[0]["code"], terms[0]["display"]) == ("lichun", "立春")
    assert (terms[-1]["code"], terms[-1]["display"]) == ("dahan", "大寒")


@pytest.mark.parametrize("cs_id", sorted(CODE_SYSTEMS))
def test_code_system_shape(cs_id: str) -> None:
    cs = CODE_SYSTEMS[cs_id]
    codes = _codes(cs)
    assert codes and len(codes) == len(set(codes)), "codes must be unique"
    assert cs["status"] == "active" and cs["version"] == "0.1.0" and cs["publisher"] == "Jiayi"
    assert cs.get("description")
    if cs["content"] == "complete":
        assert cs["count"] == len(codes)
    for concept in _concepts(cs["concept"]):
        assert _CJK.search(concept["display"]), concept["code"]
        english = [d["value"] for d in concept.get("designation", []) if d.get("language") == "en"]
        assert english and english[0].strip(), concept["code"]


@pytest.mark.parametrize("cs_id", sorted(CODE_SYSTEMS))
def test_every_code_system_has_its_value_set(cs_id: str) -> None:
    vs = VALUE_SETS[cs_id]
    assert vs["url"] == f"{BASE}/ValueSet/{cs_id}"
    assert vs["compose"]["include"] == [{"system": CODE_SYSTEMS[cs_id]["url"]}]
    assert CODE_SYSTEMS[cs_id]["valueSet"] == vs["url"]


def test_resource_files_are_named_by_type_and_id() -> None:
    folder = Path(__file__).resolve().parents[3] / "terminology"
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "resourceType" in data:
            assert path.name == f"{data['resourceType']}-{data['id']}.json"


def test_gb2260_guangdong() -> None:
    cs = CODE_SYSTEMS["gb2260-guangdong"]
    [province] = cs["concept"]
    assert (province["code"], province["display"]) == ("440000", "广东省")
    cities = {c["code"]: c for c in province["concept"]}
    assert len(cities) == 21
    guangzhou = cities["440100"]
    assert guangzhou["display"] == "广州市"
    districts = {d["code"]: d["display"] for d in guangzhou["concept"]}
    assert districts["440106"] == "天河区"
    assert "440102" not in districts  # 东山区, abolished 2005
    assert "440101" not in districts  # 市辖区 placeholder
    assert "concept" not in cities["441900"] and "concept" not in cities["442000"]  # 东莞, 中山
    all_codes = _codes(cs)
    assert all(c.startswith("44") and len(c) == 6 for c in all_codes)
    shared = Path("/work/shared/data/guangdong-cities.csv")
    if shared.exists():
        with shared.open(encoding="utf-8") as fh:
            expected = {r["code"]: r["name"] for r in csv.DictReader(fh)}
        assert {k: v["display"] for k, v in cities.items()} == expected


def test_key_population_rules_are_data() -> None:
    rules = load_ig_data("terminology", "key-population-rules.json")
    by_code = {p["code"]: p for p in rules["populations"]}
    assert list(by_code) == FIXED["key-population"]
    prefixes = {
        code: [p for r in pop["rules"] if r["kind"] == "condition" for p in r["prefixes"]]
        for code, pop in by_code.items()
    }
    assert prefixes["hypertension"] == ["I10", "I11", "I12", "I13", "I15"]
    assert prefixes["t2dm"] == ["E11"] and prefixes["copd"] == ["J44"]
    assert prefixes["tuberculosis"] == ["A15", "A16", "A17", "A18", "A19"]
    assert prefixes["maternal"] == ["Z33", "Z34", "Z35", "Z36"]
    assert {"F20", "F22", "F25", "F31", "F06", "F70"} <= set(prefixes["severe-mental-disorder"])
    assert by_code["elderly-65"]["rules"] == [{"kind": "age", "minYears": 65}]
    risk = by_code["cancer-high-risk"]["rules"][0]
    assert (risk["minYears"], risk["maxYears"], risk["qualitativeRisk"]["code"]) == (40, 70, "high")
    icd = {c["code"] for c in CODE_SYSTEMS["icd-10-key-populations"]["concept"]}
    for pop, codes in prefixes.items():
        assert set(codes) <= icd
        if codes:
            vs = VALUE_SETS[f"icd-10-{pop}"]
            assert [c["code"] for c in vs["compose"]["include"][0]["concept"]] == codes
