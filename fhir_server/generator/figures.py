"""The reference figures behind the generator, loaded from the guide's data (cited there)."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
class Figures:
    raw: dict[str, Any]
    districts: dict[str, list[tuple[str, str]]]  # city code → [(district code, name)]
    city_names: dict[str, str]


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
    return Figures(raw, districts, names)
