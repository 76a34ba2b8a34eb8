"""The 24 solar terms (二十四节气) of any Gregorian year, computed, never typed in per year.

粤(三) and 附件1/附件2 ask for pushes "按照节气" (by solar term).  The instants come from PyPI
`lunar-python` (astronomical algorithm, to the second, China Standard Time); this module only maps
them to the codes of `https://jiayi.health/fhir/CodeSystem/solar-term` and to dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from lunar_python import Solar

CHINA_TZ = timezone(timedelta(hours=8), "CST")

#: Chinese name → code of the solar-term CodeSystem, in calendar order from 小寒 (early January).
TERM_CODES: dict[str, str] = {
    "小寒": "xiaohan",
    "大寒": "dahan",
    "立春": "lichun",
    "雨水": "yushui",
    "惊蛰": "jingzhe",
    "春分": "chunfen",
    "清明": "qingming",
    "谷雨": "guyu",
    "立夏": "lixia",
    "小满": "xiaoman",
    "芒种": "mangzhong",
    "夏至": "xiazhi",
    "小暑": "xiaoshu",
    "大暑": "dashu",
    "立秋": "liqiu",
    "处暑": "chushu",
    "白露": "bailu",
    "秋分": "qiufen",
    "寒露": "hanlu",
    "霜降": "shuangjiang",
    "立冬": "lidong",
    "小雪": "xiaoxue",
    "大雪": "daxue",
    "冬至": "dongzhi",
}

#: The table also lists the neighbouring years' terms under upper-case pinyin keys.
_ALIASES = {
    "DONG_ZHI": "冬至",
    "XIAO_HAN": "小寒",
    "DA_HAN": "大寒",
    "LI_CHUN": "立春",
    "YU_SHUI": "雨水",
    "JING_ZHE": "惊蛰",
    "DA_XUE": "大雪",
}


@dataclass(frozen=True)
class SolarTerm:
    code: str  # solar-term CodeSystem code
    name: str  # 立春 …
    at: datetime  # the instant, China Standard Time

    @property
    def day(self) -> date:
        return self.at.date()


@lru_cache(maxsize=64)
def _year_terms(year: int) -> tuple[SolarTerm, ...]:
    # The lunar year holding mid-June of `year` tabulates every term of the Gregorian year
    # (from the preceding 冬至 to the following ones); keep the 24 that fall in `year`.
    table = Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()
    terms: dict[str, SolarTerm] = {}
    for key, solar in table.items():
        name = _ALIASES.get(key, key)
        if name not in TERM_CODES or solar.getYear() != year:
            continue
        at = datetime(
            solar.getYear(),
            solar.getMonth(),
            solar.getDay(),
            solar.getHour(),
            solar.getMinute(),
            solar.getSecond(),
            tzinfo=CHINA_TZ,
        )
        terms[name] = SolarTerm(TERM_CODES[name], name, at)
    if len(terms) != 24:
        raise ValueError(f"expected 24 solar terms in {year}, found {len(terms)}")
    return tuple(sorted(terms.values(), key=lambda t: t.at))


def solar_terms(year: int) -> list[SolarTerm]:
    """The 24 terms falling in the Gregorian `year`, in order (小寒 … 冬至)."""
    return list(_year_terms(year))


def terms_between(start: date, end: date) -> list[SolarTerm]:
    """Terms whose (Beijing) date is in [start, end)."""
    out: list[SolarTerm] = []
    for year in range(start.year, end.year + 1):
        out.extend(t for t in _year_terms(year) if start <= t.day < end)
    return out
