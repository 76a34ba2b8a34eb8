"""Extract the service-package tables of 附件1 and 附件2 row by row from the Guangdong seed text.

Reads `/work/shared/seeds/002_*.txt` (or a path given on the command line) and writes
`tests/data/annex_rows.json`: package id → list of rows, each with 服务项目, 服务内容, 服务要求 (附件2),
or 服务项目, 服务内容, 服务频次 (附件1, whose table has no 服务项目 column: the item is the text of
the 服务内容 cell before its first "：", without the leading number).  The parser works on the table
layout of the text (rows separated by blank lines, cells introduced by a tab, merged cells empty)
and knows nothing about the packages in `profiles/packages/`, so the conformance test can compare
the two independently.  Only OCR/table artefacts are removed: `[bookmark: …]` marks, tabs, line
breaks inside a cell and surrounding blanks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = Path("/work/shared/seeds")
OUT = ROOT / "tests" / "data" / "annex_rows.json"
_BOOKMARK = re.compile(r"\[bookmark: [^\]]*\]")
_NUMBER = re.compile(r"^\d+\.")
ANNEX1_PACKAGES = {"基本公卫服务包": "basic-public-health", "基本医疗服务包": "basic-medical"}
ANNEX2_PACKAGES = {
    "65岁及以上老年人": "kp-elderly-65",
    "高血压患者": "kp-hypertension",
    "2型糖尿病患者": "kp-t2dm",
    "慢性阻塞性肺疾病患者": "kp-copd",
    "严重精神障碍患者": "kp-severe-mental-disorder",
    "肺结核患者": "kp-tuberculosis",
    "孕产妇": "kp-maternal",
    "0～6岁儿童": "kp-child-0-6",
    "残疾人": "kp-disabled",
    "癌症高危人群（40-70岁）": "kp-cancer-high-risk",
}


def _blocks(lines: list[str]) -> list[list[str]]:
    """Table rows: groups of lines separated by blank lines, split into tab-introduced cells."""
    rows: list[list[str]] = []
    cells: list[str] = []
    for line in lines + [""]:
        if not line.strip("\n") or line.strip() == "" and "\t" not in line:
            if cells:
                rows.append([_clean(x) for x in cells])
            cells = []
            continue
        if line.startswith("\t"):
            cells.append(line[1:])
        elif cells:
            cells[-1] += line  # a line break inside a cell
        else:
            cells = []  # prose (a heading or note), not a table row
            if rows and rows[-1] != []:
                rows.append([])
    return rows


def _clean(text: str) -> str:
    return _BOOKMARK.sub("", text).replace("\t", "").strip()


def _annex_lines(text: str, start: str, end: str | None) -> list[str]:
    lines = text.splitlines()
    first = next(i for i, x in enumerate(lines) if x.strip() == start)
    last = len(lines)
    if end is not None:
        last = next(i for i, x in enumerate(lines) if x.strip() == end and i > first)
    return lines[first + 1 : last]


def _item_of(content: str) -> str:
    text = _NUMBER.sub("", content)
    return text.split("：", 1)[0].rstrip("。") if "：" in text else text.rstrip("。")


def annex1(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in ANNEX1_PACKAGES.values()}
    package = None
    for cells in _blocks(_annex_lines(text, "附件1", "附件2")):
        if len(cells) != 4 or not cells[2] or cells[2] == "服务内容":
            continue
        package = ANNEX1_PACKAGES.get(cells[1], package)
        if package is None:
            raise ValueError(f"附件1 row before any package: {cells}")
        out[package].append(
            {"服务项目": _item_of(cells[2]), "服务内容": cells[2], "服务频次": cells[3] or None}
        )
    return out


def annex2(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in ANNEX2_PACKAGES.values()}
    package = service_type = None
    for cells in _blocks(_annex_lines(text, "附件2", None)):
        if len(cells) != 5 or cells[2] in ("", "服务项目"):
            continue
        if cells[0]:
            package = ANNEX2_PACKAGES[cells[0]]
        if cells[1]:
            service_type = cells[1]
        if package is None:
            raise ValueError(f"附件2 row before any population: {cells}")
        out[package].append(
            {
                "服务类型": service_type,
                "服务项目": cells[2],
                "服务内容": cells[3],
                "服务要求": cells[4] or None,
            }
        )
    return out


def extract(seed: Path) -> dict[str, list[dict[str, Any]]]:
    text = seed.read_text(encoding="utf-8")
    return {**annex1(text), **annex2(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seed", nargs="?", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    seed = args.seed or next(SEEDS.glob("002_*.txt"))
    rows = extract(seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: " + ", ".join(f"{k} {len(v)}" for k, v in rows.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
