"""`benchmarks/RESULTS.md` holds one section per benchmark, each between its own HTML comment
markers (`<!-- name:begin -->` … `<!-- name:end -->`): a benchmark rewrites only its own."""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of benchmark `name`'s section."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_section(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the section between `begin` and `end` (`section` carries the markers itself), or
    append it when the file has none yet."""
    text = path.read_text("utf-8") if path.exists() else ""
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text, "utf-8")
