"""`docs/SEED-CONCEPTS.md`: the seed-concept checklist (`terminology/seed-concepts.json`) as a table,
seed clause → concept → its homes in the guide (profile, extension, code system or code, measure,
operation, package), and the concepts left out on purpose with the reason.

    python -m fhir_server.ig.seed_table            # rewrite docs/SEED-CONCEPTS.md
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..conformance.ig import load_ig_data

BASE = "https://jiayi.health/fhir/"
DOC = Path(__file__).resolve().parents[2] / "docs" / "SEED-CONCEPTS.md"


def short(home: str) -> str:
    """`https://jiayi.health/fhir/CodeSystem/x|code` → `CodeSystem/x#code` (other URLs unchanged)."""
    url, _, code = home.partition("|")
    name = url.removeprefix(BASE)
    return f"`{name}#{code}`" if code else f"`{name}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(checklist: Mapping[str, Any]) -> str:
    lines = [
        "# Seed concepts and their homes in the guide",
        "",
        "Generated from `terminology/seed-concepts.json` by `python -m fhir_server.ig.seed_table`"
        " (do not edit by hand; `tests/unit/conformance/test_seed_concepts.py` checks every home"
        " exists, `tests/unit/ig/test_seed_table.py` that this file is current). Clauses: 一(n) the"
        " national notice 国卫办基层发〔2025〕21号, 粤(n) the Guangdong action plan, 附件 its annexes."
        f" Home names are relative to `{BASE}`.",
        "",
        "| seed clause | concept | homes | how |",
        "|---|---|---|---|",
    ]
    for c in checklist["concepts"]:
        homes = "<br>".join(short(h) for h in c["homes"])
        row = [c.get("clause", ""), c["concept"], homes, c.get("rationale", "")]
        lines.append("| " + " | ".join(_cell(str(x)) for x in row) + " |")
    lines += [
        "",
        "## Not modelled (on purpose)",
        "",
        "| seed clause | concept | why |",
        "|---|---|---|",
    ]
    for c in checklist.get("not_modelled", []):
        row = [c.get("clause", ""), c["concept"], c.get("reason", "")]
        lines.append("| " + " | ".join(_cell(str(x)) for x in row) + " |")
    return "\n".join(lines) + "\n"


def current() -> str:
    return render(load_ig_data("terminology", "seed-concepts.json"))


if __name__ == "__main__":
    DOC.write_text(current(), encoding="utf-8")
    print(f"{DOC} written")
