"""String normalisation for search (http://hl7.org/fhir/R4/search.html#string): case, accents,
full-width forms and Chinese names by pinyin (full, spaced, initials)."""

from __future__ import annotations

import pytest

from fhir_server.search.text import index_forms, normalize, pinyin_forms, query_forms


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Müller", "muller"),
        ("  JOHN   Smith ", "john smith"),
        ("Ｚｈａｎｇ", "zhang"),
        ("Zhāng Sān", "zhang san"),
        ("Straße", "strasse"),
        ("张三", "张三"),
        ("１２３", "123"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", ["zhang san", "zhangsan", "zs"]),
        ("李", ["li", "l"]),
        ("Smith", []),
    ],
)
def test_pinyin_forms(raw: str, expected: list[str]) -> None:
    assert pinyin_forms(raw) == expected


def test_index_forms_hold_the_text_and_its_readings() -> None:
    assert index_forms("张三") == ["张三", "zhang san", "zhangsan", "zs"]
    assert index_forms("Ｍüller") == ["muller"]
    assert index_forms("   ") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Zhāng Sān", ["zhang san"]),
        ("zhang1san1", ["zhang1san1", "zhangsan"]),
        ("ZS", ["zs"]),
        ("", []),
    ],
)
def test_query_forms(raw: str, expected: list[str]) -> None:
    assert query_forms(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "王测试7",
        "重庆市长",
        "单于 李白",
        "欧阳娜娜",
        "张三 Smith 3号",
        "行长银行",
        "曾经曾小贤",
        "ǅ李",
    ],
)
def test_readings_by_segment_are_lazy_pinyins(raw: str) -> None:
    """Readings joined from memoised segments equal `lazy_pinyin` of the whole string
    (phrases read in context: 重庆 chong qing, 银行 yin hang)."""
    from pypinyin import Style, lazy_pinyin

    from fhir_server.search.text import _readings

    assert _readings(raw) == (
        lazy_pinyin(raw, style=Style.NORMAL),
        lazy_pinyin(raw, style=Style.FIRST_LETTER),
    )
