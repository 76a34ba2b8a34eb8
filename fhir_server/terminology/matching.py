"""Text filter of `$expand`: Chinese display, English designation, code, or pinyin.

Spec: http://hl7.org/fhir/R4/valueset-operation-expand.html (`filter`: "a text filter applied to
restrict the codes … the server can document the way this parameter works").  Jiayi's way: the filter
and each candidate text are normalised (case, width, accents; `fhir_server.search.text.normalize`) and
the filter must occur in the code, the display, any designation, or a pinyin reading of the Chinese
display (full, with or without spaces, or initials: 高血压 ← `gaoxueya`, `gao xue ya`, `gxy`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..search.text import has_han, normalize, pinyin_forms, query_forms


class TextFilter:
    """`matches(code, display, designations)` for one filter string."""

    def __init__(self, text: str) -> None:
        self.forms = [f for f in query_forms(text) if f]
        # Pinyin readings are worth computing only for a filter written in Latin letters.
        self._pinyin = any(f.replace(" ", "").isascii() and f.strip() for f in self.forms)

    def __bool__(self) -> bool:
        return bool(self.forms)

    def matches(self, code: str, display: str | None, designations: Iterable[str]) -> bool:
        texts = [code, display or "", *designations]
        normal = [normalize(t) for t in texts if t]
        if any(form in text for form in self.forms for text in normal):
            return True
        if not self._pinyin:
            return False
        readings = [p for t in texts if t and has_han(t) for p in pinyin_forms(t)]
        compact = [f.replace(" ", "") for f in self.forms]
        return any(form in r for form in compact for r in (x.replace(" ", "") for x in readings))
