"""Search-index rows of many resources made from one skeleton, for bulk writers (the pushes job).

A *skeleton* is a resource whose varying values are placeholders: ids and other token-like
strings (`token_placeholder(k)`), instants (`instant_placeholder(k)`) and dates
(`date_placeholder(k)`).  An *instance* is the skeleton with real values for its placeholders.
FHIRPath extraction runs once per skeleton; each instance's rows are the skeleton's rows with the
placeholders replaced (token-like strings verbatim, in `_content` in their normalised form, dates
and instants as their [low, high] range), then deduplicated and sorted exactly as the extractor
does (`IndexRows.dedupe`).  The first instance of every skeleton is also extracted in full and
compared; a skeleton whose rows differ (a placeholder inside a string parameter, a value the
extractor would have cut or parsed differently) is extracted in full from then on.

Values are checked before use: a token-like value must match `TOKEN_VALUE` (no JSON or
whitespace characters, so substituting it into the skeleton's JSON text is exact), an instant or
date the FHIR lexical form.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import text
from .extract import Extractor, IndexRows, date_value

_log = logging.getLogger(__name__)

TOKEN_VALUE = re.compile(r"^[A-Za-z0-9.\-/:|_]{1,200}$")
INSTANT_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
DATE_VALUE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_TYPED = ("token", "string", "date", "number", "quantity", "reference", "uri")
_MAX = 255


def token_placeholder(k: int) -> str:
    return f"zzjyv{k}tok"


def instant_placeholder(k: int) -> str:
    return f"1801-01-{k + 1:02d}T00:00:00Z"


def date_placeholder(k: int) -> str:
    return f"1802-01-{k + 1:02d}"


def _kind(placeholder: str) -> str:
    if placeholder.startswith("zzjyv"):
        return "token"
    if placeholder.startswith("1801-"):
        return "instant"
    if placeholder.startswith("1802-"):
        return "date"
    raise ValueError(f"{placeholder!r} is not a template placeholder")


def check_value(placeholder: str, value: str) -> bool:
    """May `value` stand for `placeholder`?"""
    kind = _kind(placeholder)
    pattern = TOKEN_VALUE if kind == "token" else INSTANT_VALUE if kind == "instant" else DATE_VALUE
    return isinstance(value, str) and bool(pattern.match(value))


@dataclass(frozen=True)
class Skeleton:
    """A resource with placeholders; `key` (its JSON text) identifies it."""

    content: dict[str, Any]
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", orjson.dumps(self.content).decode())

    def instantiate(self, values: Mapping[str, str]) -> dict[str, Any]:
        """The resource with every placeholder replaced (values checked by `check_value`)."""
        out = self.key
        for placeholder, value in values.items():
            out = out.replace(placeholder, value)
        return dict(orjson.loads(out))


@dataclass
class _Template:
    rows: IndexRows
    trusted: bool | None = None  # None: not compared with a full extraction yet
    #: compiled substitutions, per set of placeholders the instances give
    compiled: dict[frozenset[str], Compiled] = field(default_factory=dict)

    def compiled_for(self, values: Mapping[str, str]) -> Compiled:
        key = frozenset(values)
        found = self.compiled.get(key)
        if found is None:
            found = compile_rows(self.rows, list(values))
            self.compiled[key] = found
        return found


def _replace_all(value: Any, pairs: list[tuple[str, str]]) -> Any:
    if not isinstance(value, str):
        return value
    for old, new in pairs:
        if old in value:
            value = value.replace(old, new)
    return value


class RowTemplates:
    """Per skeleton, its extracted rows; `rows(skeleton, values)` gives an instance's rows."""

    def __init__(self) -> None:
        self._extractor: Extractor | None = None
        self._templates: dict[str, _Template] = {}
        self.full_extractions = 0  # skeletons compared or not substitutable (for tests/benchmarks)

    def rows(
        self,
        extractor: Extractor,
        skeleton: Skeleton,
        values: Mapping[str, str],
        instance: dict[str, Any],
    ) -> IndexRows:
        if extractor is not self._extractor:  # another registry (e.g. after $reindex): start over
            self._extractor, self._templates = extractor, {}
        template = self._templates.get(skeleton.key)
        if template is None:
            template = _Template(extractor.extract(skeleton.content))
            self._templates[skeleton.key] = template
        if template.trusted is False:
            self.full_extractions += 1
            return extractor.extract(instance)
        rows = template.compiled_for(values).apply(values)
        if template.trusted is None or rows is None:
            self.full_extractions += 1
            full = extractor.extract(instance)
            same = rows is not None and _same(rows, full)
            if template.trusted is None:
                template.trusted = same
                if not same:
                    _log.warning("index template differs from extraction; extracting in full")
            return full
        return rows


def substitute(rows: IndexRows, values: Mapping[str, str]) -> IndexRows | None:
    """The rows with placeholders replaced; None when that cannot be exact."""
    return compile_rows(rows, list(values)).apply(values)


#: a row of one table kind: unchanged (cells None), or with the cells holding placeholders
#: (cell index, the placeholders in it in replacement order), or a date row whose range is a
#: placeholder's (date placeholder)
_Row = tuple[tuple[Any, ...], tuple[tuple[int, tuple[str, ...]], ...] | None, str | None]


@dataclass(frozen=True)
class Compiled:
    """The rows of one skeleton prepared for a fixed set of placeholders: which cells of which
    rows hold a placeholder is found once, so an instance only replaces those cells (the same
    result as replacing every placeholder in every cell, as `substitute` defines it)."""

    kinds: dict[str, list[_Row]]
    text: list[tuple[str, str, tuple[str, ...]]]  # (code, folded value, placeholders in it)
    folded: dict[str, str]  # placeholder → its normal form
    exact: bool  # False: a substitution can never be exact (string rows, composite, position)

    def apply(self, values: Mapping[str, str]) -> IndexRows | None:
        if not self.exact:
            return None
        for value in values.values():  # a value spelling a placeholder: replacement order matters
            if "zzjyv" in value or value.startswith(("1801-", "1802-")):
                return None
        out = IndexRows()
        dated: dict[str, tuple[int, int] | None] = {}
        for kind, plan in self.kinds.items():
            new_rows: list[Any] = []
            for row, cells, date_of in plan:
                if date_of is not None:
                    rng = dated.get(date_of)
                    if rng is None:
                        rng = dated[date_of] = date_value(values[date_of])
                        if rng is None:
                            return None
                    new_rows.append((row[0], *rng))
                    continue
                if cells is None:
                    new_rows.append(row)
                    continue
                new = list(row)
                for i, names in cells:
                    cell = new[i]
                    for name in names:
                        cell = cell.replace(name, values[name])
                    if cell != row[i] and len(cell) > _MAX:
                        return None  # the extractor would have cut it: extract in full
                    new[i] = cell
                new_rows.append(tuple(new))
            setattr(out, kind, new_rows)
        text_rows = []
        normal: dict[str, str] = {}
        for code, value, names in self.text:
            for name in names:
                form = normal.get(name)
                if form is None:
                    form = normal[name] = text.normalize(values[name])
                value = value.replace(self.folded[name], form)
            text_rows.append((code, value))
        out.text = text_rows
        return out.dedupe()


def compile_rows(rows: IndexRows, placeholders: list[str]) -> Compiled:
    """Prepare `rows` (a skeleton's) for instances giving values for `placeholders`."""
    tokens = [p for p in placeholders if _kind(p) == "token"]
    timed = [p for p in placeholders if _kind(p) != "token"]
    order = timed + tokens  # the replacement order of `substitute`
    dated = {date_value(p): p for p in timed}
    kinds: dict[str, list[_Row]] = {}
    exact = not (rows.composite or rows.position)
    for kind in _TYPED:
        plan: list[_Row] = []
        for row in getattr(rows, kind):
            cells = tuple(
                (i, names)
                for i, v in enumerate(row)
                if isinstance(v, str) and (names := tuple(p for p in order if p in v))
            )
            if cells and kind == "string":
                exact = False  # index forms would differ: extract in full
            if kind == "date" and (row[1], row[2]) in dated:
                plan.append((row, None, dated[(row[1], row[2])]))
            else:
                plan.append((row, cells or None, None))
        kinds[kind] = plan
    folded = {p: text.normalize(p) for p in order}
    text_plan = [
        (code, value, tuple(p for p in order if folded[p] in value)) for code, value in rows.text
    ]
    return Compiled(kinds, text_plan, folded, exact)


def _too_long(value: Any) -> bool:
    return isinstance(value, str) and len(value) > _MAX


def _same(a: IndexRows, b: IndexRows) -> bool:
    return all(
        sorted(map(repr, getattr(a, k))) == sorted(map(repr, getattr(b, k)))
        for k in (*_TYPED, "composite", "position", "text", "sort")
    )
