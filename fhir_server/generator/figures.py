"""The reference figures behind the generator, loaded from the guide's data
(`terminology/population/guangdong-reference-figures.json`, every figure with its source).

`Figures.probability(rule, age)` is a rule's chance for one resident of that age: the rule's age
gradient scaled so that, over the census age bands, the mean chance in the rule's population (its
age range, or all residents) equals the published figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..conformance.packages import ig_dir

#: Approximate city centres (latitude, longitude) for placing institutions.
CITY_CENTRES: dict[str, tuple[float, float]] = {
    "440100": (23.13, 113.26), "440200": (24.81, 113.60), "440300": (22.54, 114.06),
    "440400": (22.27, 113.58), "440500": (23.35, 116.68), "440600": (23.02, 113.12),
    "440700": (22.58, 113.08), "440800": (21.27, 110.36), "440900": (21.66, 110.92),
    "441200": (23.05, 112.47), "441300": (23.11, 114.42), "441400": (24.29, 116.12),
    "441500": (22.79, 115.37), "441600": (23.74, 114.70), "441700": (21.86, 111.98),
    "441800": (23.68, 113.06), "441900": (23.02, 113.75), "442000": (22.52, 113.39),
    "445100": (23.66, 116.62), "445200": (23.55, 116.37), "445300": (22.92, 112.04),
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One prevalence rule: who may have it, its age gradient, and the scale reaching the figure."""

    population: str  # key-population code
    icd10: str | None
    figure: float
    low: int
    high: int
    gradient: tuple[tuple[int, int, float], ...]
    over_all: bool  # the figure is a share of all residents (not of the age range)
    scale: float = 1.0

    def weight(self, age: int) -> float:
        if not self.low <= age <= self.high:
            return 0.0
        return next((w for lo, hi, w in self.gradient if lo <= age <= hi), 0.0)

    def probability(self, age: int) -> float:
        return min(1.0, self.scale * self.weight(age))


def band_mean(bands: list[dict[str, Any]], fn: Any, low: int = 0, high: int = 120) -> float:
    """Mean of fn(age) over the census bands (ages uniform within a band) restricted to
    [low, high], weighted by the bands' shares; 0 when no band overlaps."""
    total = weight = 0.0
    for band in bands:
        ages = [a for a in range(band["from"], band["to"] + 1) if low <= a <= high]
        if not ages:
            continue
        share = band["share"] * len(ages) / (band["to"] - band["from"] + 1)
        total += share * sum(fn(a) for a in ages) / len(ages)
        weight += share
    return total / weight if weight else 0.0


def compile_rule(raw: dict[str, Any], figures: dict[str, Any], bands: list[dict[str, Any]]) -> Rule:
    rule = Rule(
        population=raw["population"],
        icd10=raw.get("icd10"),
        figure=float(figures[raw["figure"]]["value"]),
        low=int(raw["ages"][0]),
        high=int(raw["ages"][1]),
        gradient=tuple((int(lo), int(hi), float(w)) for lo, hi, w in raw["gradient"]),
        over_all=raw.get("over") == "all",
    )
    low, high = (0, 120) if rule.over_all else (rule.low, rule.high)
    mean = band_mean(bands, rule.weight, low, high)
    scale = rule.figure / mean if mean else 0.0
    return Rule(**{**rule.__dict__, "scale": scale})


@dataclass(frozen=True)
class Figures:
    raw: dict[str, Any]
    districts: dict[str, list[tuple[str, str]]]  # city code → [(district code, name)]
    city_names: dict[str, str]
    rules: tuple[Rule, ...] = field(default=())

    def figure(self, name: str) -> float:
        return float(self.raw["figures"][name]["value"])

    @property
    def pregnancy(self) -> tuple[float, int, int]:
        """(chance for a woman in the age range, low, high), scaled from the share of all
        residents pregnant on a given day."""
        spec = self.raw["pregnancy"]
        low, high = spec["ages"]
        bands = self.raw["ageBands"]
        in_range = band_mean(bands, lambda a: 1.0 if low <= a <= high else 0.0)
        women = 1 - float(self.raw["maleShare"])
        return self.figure(spec["figure"]) / (in_range * women), low, high


@lru_cache(maxsize=1)
def load_figures() -> Figures:
    raw = json.loads(
        (ig_dir("terminology") / "population" / "guangdong-reference-figures.json").read_text(
            "utf-8"
        )
    )
    cs = json.loads((ig_dir("terminology") / "CodeSystem-gb2260-guangdong.json").read_text("utf-8"))
    province = cs["concept"][0]
    districts: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, str] = {}
    for city in province.get("concept", []):
        names[city["code"]] = city["display"]
        subs = [(d["code"], d["display"]) for d in city.get("concept", [])]
        districts[city["code"]] = subs or [(city["code"], city["display"])]
    rules = tuple(compile_rule(r, raw["figures"], raw["ageBands"]) for r in raw["prevalence"])
    return Figures(raw, districts, names, rules)
