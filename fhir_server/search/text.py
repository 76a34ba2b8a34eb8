"""String normalisation for string search: case folding, accents, width, and Chinese pinyin.

Spec: http://hl7.org/fhir/R4/search.html#string (case- and accent-insensitive matching).

- `normalize`: NFKC (full-width → half-width), case fold, accents removed, whitespace collapsed.
- `index_forms`: what is stored for one source string: its normal form and, for a name holding
  Chinese characters, the pinyin readings (full with and without spaces, and initials) so that
  张三 is found by `zhangsan`, `zhang san`, `Zhāng Sān` and `zs`.
- `query_forms`: the normal forms of a search value (tone numbers such as `zhang1san1` dropped).
Readings come from PyPI `pypinyin` (most common reading of each character).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from pypinyin.core import Pinyin

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TONE_NUMBERS = re.compile(r"^[a-z1-5 ]+$")
MAX_INDEXED = 200
#: strings up to this length are memoised (names, places, codes' displays repeat; a resource's
#: whole `_content` does not, and would only evict them)
_MEMO_LEN = 80


def normalize(value: str) -> str:
    """Case-, accent- and width-insensitive form of `value`."""
    if len(value) <= _MEMO_LEN:
        return _normalize_short(value)
    return _normalize(value)


@functools.lru_cache(maxsize=65536)
def _normalize_short(value: str) -> str:
    return _normalize(value)


def _normalize(value: str) -> str:
    if value.isascii():  # NFKC, NFKD and combining marks change nothing; casefold is lower
        return " ".join(value.lower().split())
    text = unicodedata.normalize("NFKC", value).casefold()
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    return " ".join(text.split())


def has_han(value: str) -> bool:
    return bool(_HAN.search(value))


def pinyin_forms(value: str) -> list[str]:
    """Pinyin readings of the Chinese text in `value`: spaced, joined and initials."""
    if not has_han(value):
        return []
    return list(_pinyin_forms(value))


#: pypinyin's default segmentation (what `lazy_pinyin` applies to a string)
_SEGMENTER = Pinyin()


@functools.lru_cache(maxsize=65536)
def _word_readings(word: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The readings (full, initials) of one segment of `lazy_pinyin`'s segmentation: a phrase
    of its dictionary, one character or a run of other characters.  `lazy_pinyin` converts the
    segments one by one, so joining these is its answer for the whole string — and the
    segments of a population's names are a few thousand characters, not a million names."""
    return (
        tuple(lazy_pinyin([word], style=Style.NORMAL)),
        tuple(lazy_pinyin([word], style=Style.FIRST_LETTER)),
    )


def _readings(value: str) -> tuple[list[str], list[str]]:
    words = [_word_readings(w) for w in _SEGMENTER.seg(value)]
    return [s for w in words for s in w[0]], [s for w in words for s in w[1]]


@functools.lru_cache(maxsize=65536)
def _pinyin_forms(value: str) -> tuple[str, ...]:
    """Memoised (a pure function of `value`; names repeat, and pypinyin is the costly part of
    indexing a Patient)."""
    full, first = _readings(value)
    syllables = [s.strip() for s in full if s.strip()]
    initials = [s.strip() for s in first if s.strip()]
    spaced = normalize(" ".join(syllables))
    forms = [spaced, spaced.replace(" ", ""), normalize("".join(initials)).replace(" ", "")]
    return tuple(dict.fromkeys(f for f in forms if f))


def index_forms(value: str, pinyin: bool = True) -> list[str]:
    """Distinct normalised forms stored for one source string (each at most MAX_INDEXED long);
    `pinyin` False: the normal form only (addresses, titles: readings of a whole address are
    costly to compute and store, and nobody spells an address in pinyin initials)."""
    if not pinyin:
        base = normalize(value)
        return [base[:MAX_INDEXED]] if base else []
    if len(value) <= _MEMO_LEN:
        return list(_index_forms_short(value))
    return list(_index_forms(value))


@functools.lru_cache(maxsize=65536)
def _index_forms_short(value: str) -> tuple[str, ...]:
    return _index_forms(value)


def _index_forms(value: str) -> tuple[str, ...]:
    base = normalize(value)
    forms = [base, *pinyin_forms(value)] if base else []
    return tuple(dict.fromkeys(f[:MAX_INDEXED] for f in forms))


def query_forms(value: str) -> list[str]:
    """Normal forms of a search value; pinyin typed with tone numbers also matches without them."""
    base = normalize(value)
    forms = [base]
    if _TONE_NUMBERS.match(base) and any(ch.isdigit() for ch in base):
        forms.append(re.sub(r"(?<=[a-z])[1-5]", "", base))
    return list(dict.fromkeys(f[:MAX_INDEXED] for f in forms if f))
