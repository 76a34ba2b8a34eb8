"""`_filter`: the FHIR filter expression language parsed into the search IR.

Spec: http://hl7.org/fhir/R4/search_filter.html — comparisons `eq ne co sw ew gt lt ge le sa eb
ap pr po ss sb in ni re`, `and`, `or`, `not(...)`, parentheses, and parameter paths (chains with
`.`).  Each comparison becomes an ordinary `Clause` built by the query parser, so `_filter` runs
through the same SQL compiler as every other parameter.  Sub-filters on a path (`param[...]`) are
not supported (a 400 says so).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Protocol

from ..core.errors import bad_request
from .params import AnyOf, Clause, Condition, Negation

_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"]+))')
OPERATORS = frozenset(
    {
        "eq",
        "ne",
        "co",
        "sw",
        "ew",
        "gt",
        "lt",
        "ge",
        "le",
        "sa",
        "eb",
        "ap",
        "pr",
        "po",
        "ss",
        "sb",
        "in",
        "ni",
        "re",
    }
)
_PREFIXED = {"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}
#: (parameter type, operator) → (modifier, negate)
_MAPPING: dict[tuple[str, str], tuple[str | None, bool]] = {
    ("string", "eq"): ("_eq", False),
    ("string", "ne"): ("_eq", True),
    ("string", "co"): ("contains", False),
    ("string", "sw"): (None, False),
    ("string", "ew"): ("_ew", False),
    ("text", "co"): ("contains", False),
    ("text", "eq"): ("contains", False),
    ("token", "eq"): (None, False),
    ("token", "ne"): (None, True),
    ("token", "ss"): ("below", False),
    ("token", "sb"): ("above", False),
    ("token", "in"): ("in", False),
    ("token", "ni"): ("not-in", False),
    ("reference", "eq"): (None, False),
    ("reference", "re"): (None, False),
    ("reference", "ne"): (None, True),
    ("uri", "eq"): (None, False),
    ("uri", "ne"): (None, True),
    ("uri", "sw"): ("below", False),
    ("uri", "ss"): ("above", False),
    ("uri", "sb"): ("below", False),
}


class Terms(Protocol):
    def param_type(self, name: str) -> str: ...

    def clause(self, name: str, raw: str) -> Clause: ...


def tokenize(expression: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise bad_request(f"_filter: cannot read '{text[pos:]}'", "_filter")
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Reader:
    def __init__(self, tokens: list[str], terms: Terms) -> None:
        self.tokens = tokens
        self.pos = 0
        self.terms = terms

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            raise bad_request(
                f"_filter: expected {expected or 'more'} but found {token or 'the end'}", "_filter"
            )
        self.pos += 1
        return token

    def expression(self) -> Condition:
        groups = [self.conjunction()]
        while (self.peek() or "").lower() == "or":
            self.take()
            groups.append(self.conjunction())
        return groups[0][0] if len(groups) == 1 and len(groups[0]) == 1 else AnyOf(tuple(groups))

    def conjunction(self) -> tuple[Condition, ...]:
        items = [self.unary()]
        while (self.peek() or "").lower() == "and":
            self.take()
            items.append(self.unary())
        return tuple(items)

    def unary(self) -> Condition:
        token = self.peek()
        if token is not None and token.lower() == "not" and self._next_is("("):
            self.take()
            return Negation(self.group())
        if token == "(":
            return self.group()
        return self.comparison()

    def _next_is(self, token: str) -> bool:
        return self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == token

    def group(self) -> Condition:
        self.take("(")
        inner = self.expression()
        self.take(")")
        return inner

    def comparison(self) -> Condition:
        path = self.take()
        if "[" in path:
            raise bad_request("_filter: sub-filters (param[...]) are not supported", "_filter")
        op = self.take().lower()
        if op not in OPERATORS:
            raise bad_request(f"_filter: unknown operator '{op}'", "_filter")
        raw = self.take()
        value = _unquote(raw)
        return comparison(self.terms, path, op, value)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$")


def comparison(terms: Terms, path: str, op: str, value: str) -> Condition:
    """One `path op value` as a condition."""
    kind = terms.param_type(path)
    if op == "pr":
        if value not in ("true", "false"):
            raise bad_request("_filter: pr takes true or false", "_filter")
        return terms.clause(f"{path}:missing", "false" if value == "true" else "true")
    if kind in ("date", "number", "quantity") and op in _PREFIXED | {"po"}:
        if op == "po":
            if kind != "date":
                raise bad_request("_filter: po applies to dates", "_filter")
            clause = terms.clause(path, _escape(value))
            return dataclasses.replace(
                clause,
                values=tuple(dataclasses.replace(v, prefix="po") for v in clause.values),  # type: ignore[arg-type]
            )
        return terms.clause(path, op + _escape(value))
    mapped = _MAPPING.get((kind, op))
    if mapped is None:
        raise bad_request(f"_filter: '{op}' does not apply to {kind} parameter '{path}'", "_filter")
    modifier, negate = mapped
    value = value if kind in ("token", "reference", "uri") and "|" in value else _escape(value)
    clause = terms.clause(f"{path}:{modifier}" if modifier else path, value)
    return Negation(clause) if negate else clause


def parse_filter(expression: str, terms: Terms) -> Condition:
    """The condition a `_filter` expression denotes."""
    reader = _Reader(tokenize(expression), terms)
    if reader.peek() is None:
        raise bad_request("_filter is empty", "_filter")
    result = reader.expression()
    if reader.peek() is not None:
        raise bad_request(f"_filter: unexpected '{reader.peek()}'", "_filter")
    return result
