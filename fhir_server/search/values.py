"""Typed search values: one parsed value of an or-list, per parameter type (pure).

Spec: http://hl7.org/fhir/R4/search.html#prefix (prefixes), #number (precision ranges), #date,
#string, #token, #quantity, #reference, #uri and #escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from . import text
from .dates import date_range
from .references import parse_reference

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIXED = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+0-9.])")


class ValueError_(ValueError):
    """A search value that cannot be parsed for its parameter type."""


@dataclass(frozen=True)
class TokenValue:
    system: str | None  # None: any system (unless `no_system`)
    code: str | None  # None: any code in `system`
    no_system: bool = False  # `|code`: the code without a system


@dataclass(frozen=True)
class TextValue:  # token :text, string
    forms: tuple[str, ...]
    raw: str


@dataclass(frozen=True)
class DateValue:
    prefix: str
    low: int
    high: int


@dataclass(frozen=True)
class NumberValue:
    prefix: str
    value: float
    low: float  # the precision range of the value as written ([low, high))
    high: float


@dataclass(frozen=True)
class QuantityValue:
    number: NumberValue
    system: str | None
    code: str | None


@dataclass(frozen=True)
class ReferenceValue:
    type: str | None
    id: str | None
    url: str | None


@dataclass(frozen=True)
class UriValue:
    value: str


@dataclass(frozen=True)
class MissingValue:
    missing: bool


@dataclass(frozen=True)
class ConceptValue:
    """Token `:in`/`:not-in` (a ValueSet canonical) or `:above`/`:below` (system|code)."""

    op: str  # in | not-in | above | below
    system: str | None = None
    code: str | None = None
    valueset: str | None = None


@dataclass(frozen=True)
class CodeSetValue:
    """A resolved concept set: exact codes, whole systems, code prefixes (ICD-10 `:below`) and
    codes whose stored value is a prefix of the given one (ICD-10 `:above`)."""

    codes: frozenset[tuple[str | None, str]] = frozenset()
    systems: frozenset[str] = frozenset()
    prefixes: frozenset[tuple[str, str]] = frozenset()
    above: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class OfTypeValue:
    """Identifier `:of-type`: type system|type code|identifier value."""

    system: str
    code: str
    value: str


@dataclass(frozen=True)
class CompositeValue:
    """One composite value: a value per component, in component order (`a$b`)."""

    parts: tuple[SearchValue, ...]


@dataclass(frozen=True)
class NearValue:
    """Location `near`: latitude, longitude and the radius in kilometres."""

    latitude: float
    longitude: float
    km: float


@dataclass(frozen=True)
class ListValue:
    """`_list`: the id of a List whose entries are the matches."""

    list_id: str


SearchValue = (
    TokenValue
    | TextValue
    | DateValue
    | NumberValue
    | QuantityValue
    | ReferenceValue
    | UriValue
    | MissingValue
    | ConceptValue
    | CodeSetValue
    | OfTypeValue
    | CompositeValue
    | NearValue
    | ListValue
)


def split_escaped(value: str, sep: str) -> list[str]:
    """Split on unescaped `sep`, then unescape `\\,`, `\\|`, `\\$` and `\\\\`."""
    parts, current, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            current.append(value[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    return re.sub(r"\\([,|$\\])", r"\1", value)


def _prefix(raw: str) -> tuple[str, str]:
    match = _PREFIXED.match(raw)
    return (match.group(1), raw[2:]) if match else ("eq", raw)


def parse_number(raw: str) -> NumberValue:
    prefix, rest = _prefix(raw)
    try:
        dec = Decimal(rest)
    except InvalidOperation as exc:
        raise ValueError_(f"'{raw}' is not a number") from exc
    if not dec.is_finite():
        raise ValueError_(f"'{raw}' is not a number")
    half = Decimal(5).scaleb(dec.as_tuple().exponent - 1)  # type: ignore[operator]
    return NumberValue(prefix, float(dec), float(dec - half), float(dec + half))


def parse_date(raw: str) -> DateValue:
    prefix, rest = _prefix(raw)
    rng = date_range(rest.replace(" ", "+"))  # a '+' in a query string may arrive as a space
    if rng is None:
        raise ValueError_(f"'{raw}' is not a valid date")
    return DateValue(prefix, *rng)


def parse_token(raw: str) -> TokenValue:
    parts = split_escaped(raw, "|")
    if len(parts) == 1:
        return TokenValue(None, unescape(parts[0]) or None)
    if len(parts) != 2:
        raise ValueError_(f"'{raw}' is not a valid token (system|code)")
    system, code = unescape(parts[0]), unescape(parts[1])
    if not system:
        return TokenValue(None, code or None, no_system=True)
    return TokenValue(system, code or None)


def parse_quantity(raw: str) -> QuantityValue:
    parts = split_escaped(raw, "|")
    if len(parts) not in (1, 3):
        raise ValueError_(f"'{raw}' is not a valid quantity (number|system|code)")
    number = parse_number(unescape(parts[0]))
    if len(parts) == 1:
        return QuantityValue(number, None, None)
    return QuantityValue(number, unescape(parts[1]) or None, unescape(parts[2]) or None)


def parse_reference_value(
    raw: str, type_modifier: str | None, base_url: str | None
) -> ReferenceValue:
    value = unescape(raw)
    if "/" not in value and ":" not in value:
        return ReferenceValue(type_modifier, value, None)
    parsed = parse_reference(value, base_url)
    if parsed is None:
        raise ValueError_(f"'{raw}' is not a valid reference")
    if type_modifier and parsed.type and parsed.type != type_modifier:
        raise ValueError_(f"'{raw}' does not match the type modifier :{type_modifier}")
    return ReferenceValue(parsed.type, parsed.id, parsed.url)


def parse_text(raw: str) -> TextValue:
    value = unescape(raw)
    forms = tuple(text.query_forms(value))
    if not forms:
        raise ValueError_("an empty string matches nothing")
    return TextValue(forms, value)


def parse_missing(raw: str) -> MissingValue:
    if raw not in ("true", "false"):
        raise ValueError_(f":missing takes true or false, not '{raw}'")
    return MissingValue(raw == "true")


def parse_concept(raw: str, op: str) -> ConceptValue:
    if op in ("in", "not-in"):
        url = unescape(raw).strip()
        if not url:
            raise ValueError_(f":{op} needs a ValueSet URL")
        return ConceptValue(op, valueset=url)
    token = parse_token(raw)
    if token.code is None:
        raise ValueError_(f":{op} needs a code (system|code)")
    return ConceptValue(op, token.system, token.code)


def parse_of_type(raw: str) -> OfTypeValue:
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 3 or not all(parts):
        raise ValueError_(f"'{raw}' is not type-system|type-code|value")
    return OfTypeValue(*parts)


#: UCUM length units accepted by `near`, in kilometres.
_KM = {"km": 1.0, "m": 0.001, "[mi_i]": 1.609344, "mi": 1.609344}
DEFAULT_NEAR_KM = 50.0


def parse_near(raw: str) -> NearValue:
    parts = [unescape(p).strip() for p in split_escaped(raw, "|")]
    if len(parts) < 2 or len(parts) > 4:
        raise ValueError_(f"'{raw}' is not latitude|longitude[|distance[|unit]]")
    try:
        lat, lon = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else None
    except ValueError as exc:
        raise ValueError_(f"'{raw}' is not latitude|longitude[|distance[|unit]]") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError_(f"'{raw}': latitude or longitude out of range")
    unit = parts[3] if len(parts) > 3 and parts[3] else "km"
    if unit not in _KM:
        raise ValueError_(f"unsupported distance unit '{unit}' (km, m, [mi_i])")
    km = DEFAULT_NEAR_KM if distance is None else distance * _KM[unit]
    if km < 0:
        raise ValueError_("the distance must not be negative")
    return NearValue(lat, lon, km)
