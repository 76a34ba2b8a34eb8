"""Every concept of the seed documents has a home in the guide (issue 4 "Done when").

`terminology/seed-concepts.json` maps each concept to its homes: canonical URLs of the guide's
profiles, extensions, code systems, measures or packages, or `system|code` of a guide code.  Each home
must exist; the concepts the audit found homeless are all listed; and the concepts each stand on a
clause of the seeds.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.conformance.ig import load_ig_data, load_ig_resources

CHECKLIST: dict[str, Any] = load_ig_data("terminology", "seed-concepts.json")
RESOURCES = load_ig_resources()
URLS = {r["url"] for r in RESOURCES if isinstance(r.get("url"), str)}


def _codes() -> set[str]:
    found: set[str] = set()
    for r in RESOURCES:
        if r["resourceType"] != "CodeSystem":
            continue
        stack = list(r.get("concept", []))
        while stack:
            c = stack.pop()
            found.add(f"{r['url']}|{c['code']}")
            stack.extend(c.get("concept", []))
    return found


CODES = _codes()

#: The concepts an audit found without a home (issue 4, gap 9): each must be in the checklist.
AUDITED = (
    "缺药登记",
    "外配处方流转",
    "药品配送到家",
    "重点人群用药监测",
    "年度健康评估报告",
    "家庭病床",
    "长护失能等级评估",
    "世界家庭医生日",
    "重阳节",
    "中国医师节",
    "五个一",
    "每万人家庭医生数",
    "上门服务费",
    "疫苗处方",
    "健康教育处方",
    "自我管理小组",
    "健康积分",
    "电子地图",
    "六个拓展",
    "六进",
    "互联网医院",
    "多点执业",
    "非政府办",
    "80岁及以上",
    "失能老年人",
    "多病共防共管",
    "签约真实、履约务实",
    "下转患者信息",
    "医保门诊统筹",
    "全年均可签约",
    "健康知识库",
)


@pytest.mark.parametrize(
    "row", CHECKLIST["concepts"], ids=[r["concept"][:20] for r in CHECKLIST["concepts"]]
)
def test_every_home_exists(row: dict[str, Any]) -> None:
    assert row["homes"] and row["clause"] and row["rationale"]
    for home in row["homes"]:
        assert (home in CODES) if "|" in home else (home in URLS), home


@pytest.mark.parametrize("concept", AUDITED)
def test_audited_concept_is_listed(concept: str) -> None:
    assert any(concept in row["concept"] for row in CHECKLIST["concepts"])


def test_concepts_left_out_say_why() -> None:
    """What the guide does not model is listed with its clause and the reason, not silently dropped."""
    homed = {row["concept"] for row in CHECKLIST["concepts"]}
    for row in CHECKLIST["not_modelled"]:
        assert row["clause"] and len(row["reason"]) > 20 and row["concept"] not in homed


def test_community_settings_are_the_six() -> None:
    (cs,) = [
        r
        for r in RESOURCES
        if r.get("id") == "community-setting" and r["resourceType"] == "CodeSystem"
    ]
    zh = [c["display"] for c in cs["concept"]]
    assert zh == ["机关", "企业", "校园", "社区", "家庭", "养老机构", "托育机构"]
    assert cs["count"] == len(zh)


def test_new_codes_carry_their_clause() -> None:
    for r in RESOURCES:
        if (
            r.get("id") in ("primary-care-service", "publicity-day", "community-setting")
            and r["resourceType"] == "CodeSystem"
        ):
            stack = list(r["concept"])
            while stack:
                c = stack.pop()
                assert "粤" in c["definition"] or "国卫办" in c["definition"], c["code"]
                assert c["designation"][0]["language"] == "en"
                stack.extend(c.get("concept", []))


def test_publicity_days() -> None:
    (days,) = [
        r for r in RESOURCES if r.get("id") == "publicity-day" and r["resourceType"] == "CodeSystem"
    ]
    dates = {
        c["code"]: {
            p["code"]: next(v for k, v in p.items() if k.startswith("value")) for p in c["property"]
        }
        for c in days["concept"]
    }
    assert dates["world-family-doctor-day"] == {"date": "--05-19", "calendar": "gregorian"}
    assert dates["chinese-physicians-day"] == {"date": "--08-19", "calendar": "gregorian"}
    assert dates["chongyang"] == {"date": "09-09", "calendar": "lunar"}
