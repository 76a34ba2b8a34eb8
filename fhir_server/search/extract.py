"""Resource → search-index values, one row set per parameter type (FHIRPath via fhirpathpy).

Spec: http://hl7.org/fhir/R4/search.html (what each parameter type matches on, by data type).

`Extractor(registry).extract(resource)` evaluates every parameter of the resource's type, using the
expression narrowed to that type (see `registry.narrow_expression`); compiled expressions are
cached on the registry instance.  Values are interpreted by their FHIR data type (as fhirpathpy
reports it, else by shape).  Rows are plain tuples, ready for bulk insert by the SQL indexer.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

from . import text
from .dates import date_range, period_range
from .plain_paths import (
    Step,
    Undecided,
    absent,
    plain_path,
    presence_path,
    root_fields,
    run_plain,
    run_presence,
)
from .references import parse_reference
from .registry import SearchParam, SearchRegistry, narrow_expression, split_union

_log = logging.getLogger(__name__)
_MAX = 255
SKIPPED = frozenset({"_id", "_text", "_content", "_query", "_filter", "_list", "_has", "_type"})
_AS = re.compile(r"^(\w+)\.as\((\w+)\)$")
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class IndexRows:
    """Index values of one resource, per table: tuples start with the parameter code."""

    token: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    string: list[tuple[str, str, str]] = field(default_factory=list)
    date: list[tuple[str, int, int]] = field(default_factory=list)
    number: list[tuple[str, float]] = field(default_factory=list)
    quantity: list[tuple[str, str | None, str | None, float]] = field(default_factory=list)
    reference: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    uri: list[tuple[str, str]] = field(default_factory=list)
    #: composite components: (table kind, group number, row as above with param `code#k`)
    composite: list[tuple[str, int, tuple[Any, ...]]] = field(default_factory=list)
    #: (param, latitude, longitude, x, y, z): degrees and the point on the unit sphere
    position: list[tuple[str, float, float, float, float, float]] = field(default_factory=list)
    text: list[tuple[str, str]] = field(default_factory=list)
    #: (param, num_lo, num_hi, str_lo, str_hi): one sort row per parameter with values
    sort: list[tuple[str, float | None, float | None, str | None, str | None]] = field(
        default_factory=list
    )
    #: contained resources: (type, local id, content, their own rows)
    contained: list[tuple[str, str, dict[str, Any], IndexRows]] = field(default_factory=list)

    def dedupe(self) -> IndexRows:
        for name in (
            "token",
            "string",
            "date",
            "number",
            "quantity",
            "reference",
            "uri",
            "composite",
        ):
            setattr(self, name, list(dict.fromkeys(getattr(self, name))))
        self.sort = sort_rows(self)
        return self


#: per table kind: (sort column for ascending, for descending) — as `_SORT_COLUMN` in search_sql
_SORT_FIELDS = {
    "string": (1, 1),
    "token": (2, 2),
    "date": (1, 2),
    "number": (1, 1),
    "quantity": (3, 3),
    "reference": (2, 2),
    "uri": (1, 1),
}
_NUMERIC = frozenset({"date", "number", "quantity"})


def sort_rows(
    rows: IndexRows,
) -> list[tuple[str, float | None, float | None, str | None, str | None]]:
    """The lowest and highest sort value of each indexed parameter (ascending/descending keys)."""
    out: dict[str, tuple[Any, Any]] = {}
    kinds: dict[str, str] = {}
    for kind, (lo_i, hi_i) in _SORT_FIELDS.items():
        for row in getattr(rows, kind):
            code, lo, hi = row[0], row[lo_i], row[hi_i]
            if lo is None or hi is None or ":" in code:
                continue
            kinds[code] = kind
            old = out.get(code)
            out[code] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    result: list[tuple[str, float | None, float | None, str | None, str | None]] = []
    for code, (lo, hi) in sorted(out.items()):
        if kinds[code] in _NUMERIC:
            result.append((code, float(lo), float(hi), None, None))
        else:
            result.append((code, None, None, lo, hi))
    return result


#: a reader of an expression straight from the JSON and its steps (see `plain_paths`)
_Plain = tuple[
    Callable[[list[list[Step]], dict[str, Any], str], list[tuple[Any, Any]]], list[list[Step]]
]


@dataclass(frozen=True)
class _Node:
    type: str | None
    data: Any


def unit_sphere(latitude: float, longitude: float) -> tuple[float, float, float]:
    """(x, y, z) of a position on the unit sphere."""
    p, q = math.radians(latitude), math.radians(longitude)
    return math.cos(p) * math.cos(q), math.cos(p) * math.sin(q), math.sin(p)


def contained_key(container_type: str, container_id: str, local_id: str) -> str:
    """The index key of a contained resource: `Type/id#local`, hashed when longer than 64.
    Holds '#', which no resource id may, so it never collides with a resource."""
    key = f"{container_type}/{container_id}#{local_id}"
    return key if len(key) <= 64 else "#" + hashlib.sha1(key.encode()).hexdigest()


def _cut(value: str | None) -> str | None:
    return value[:_MAX] if isinstance(value, str) else None


class Extractor:
    """Evaluates parameter expressions of one registry (compiled once per registry instance)."""

    def __init__(
        self, registry: SearchRegistry, base_url: str | None = None, *, plain: bool = True
    ) -> None:
        self.registry = registry
        self.base_url = base_url
        self.plain = plain  # False: every expression through the FHIRPath engine (tests compare)

    def _plain_paths(self, resource_type: str, param: SearchParam) -> _Plain | None:
        """How to read `param`'s expression on `resource_type` without the engine: a plain
        path (`run_plain`) or a presence flag (`run_presence`); None when the engine must."""
        key = ("plain", resource_type, param.code)
        cache = self.registry.compiled
        if key not in cache:
            expression, _required = narrow_expression(param.expression, resource_type)
            found: _Plain | None = None
            if expression:
                if (paths := plain_path(expression, resource_type)) is not None:
                    found = (run_plain, paths)
                elif (paths := presence_path(expression, resource_type)) is not None:
                    found = (run_presence, paths)
            cache[key] = found
            cache[("roots", resource_type, param.code)] = (
                root_fields(expression, resource_type) if expression and found is None else None
            )
        plain: _Plain | None = cache[key]
        return plain

    def _compiled(self, resource_type: str, param: SearchParam) -> Any:
        key = ("extract", resource_type, param.code)
        cache = self.registry.compiled
        if key not in cache:
            expression, required = narrow_expression(param.expression, resource_type)
            fn = None
            if expression:
                try:
                    fn = fhirpathpy.compile(expression, models["r4"], {"returnRawData": True})
                except Exception as exc:  # noqa: BLE001 - an unsupported expression is skipped
                    _log.warning("search parameter %s not indexable: %s", param.url, exc)
            cache[key] = (fn, required)
        return cache[key]

    def values(self, resource: dict[str, Any], param: SearchParam) -> list[_Node]:
        """The items of `param`'s expression in `resource`: a plain path read straight from the
        JSON (`plain_paths`), anything else (or data a plain reading cannot decide) by fhirpathpy."""
        if self.plain:
            plain = self._plain_paths(resource["resourceType"], param)
            if plain is not None:
                run, paths = plain
                try:
                    found = run(paths, resource, resource["resourceType"])
                    return [_Node(t, v) for t, v in found if v is not None]
                except Undecided:
                    pass
            roots = self.registry.compiled[("roots", resource["resourceType"], param.code)]
            if roots is not None and absent(roots, resource):
                return []  # a navigation from fields the resource does not have
        fn, _required = self._compiled(resource["resourceType"], param)
        if fn is None:
            return []
        try:
            raw = fn(resource)
        except Exception as exc:  # noqa: BLE001 - bad data must not block a write
            _log.debug("evaluating %s failed: %s", param.code, exc)
            return []
        nodes = []
        for item in raw:
            data = getattr(item, "data", item)
            if data is not None:
                nodes.append(_Node(getattr(item, "path", None), data))
        return nodes

    def extract(self, resource: dict[str, Any]) -> IndexRows:
        rows = IndexRows()
        resource_type = resource["resourceType"]
        for code, param in self.registry.for_type(resource_type).items():
            if code in SKIPPED:
                continue
            nodes = self.values(resource, param)
            if not nodes:
                continue
            if param.type == "composite":
                self._composite(rows, param, nodes, resource)
            elif param.type == "special":
                if code == "near":
                    self._position(rows, param, nodes)
            else:
                _, required = self._compiled(resource_type, param)
                _ADD[param.type](self, rows, param, nodes, required)
        rows.text.extend(text_rows(resource))
        for item in resource.get("contained") or ():
            if (
                isinstance(item, dict)
                and isinstance(item.get("resourceType"), str)
                and isinstance(item.get("id"), str)
                and item["resourceType"] in self.registry.resource_types
            ):
                inner = {k: v for k, v in item.items() if k != "contained"}
                rows.contained.append((item["resourceType"], item["id"], item, self.extract(inner)))
        rows.reference = self._local_references(resource, rows)
        return rows.dedupe()

    def _local_references(self, resource: dict[str, Any], rows: IndexRows) -> list[Any]:
        """References to contained resources (`#local`) become (type, contained key) rows, so
        `_revinclude` finds the container of a contained match; unresolvable ones are dropped."""
        local = {lid: t for t, lid, _content, _rows in rows.contained}
        rtype, rid = resource["resourceType"], resource.get("id")
        out = []
        for code, target_type, target_id, url in rows.reference:
            if not (isinstance(url, str) and url.startswith("#")):
                out.append((code, target_type, target_id, url))
                continue
            found = local.get(url[1:])
            param = self.registry.get(rtype, code)
            if found is None or not isinstance(rid, str):
                continue
            if param is not None and param.target and found not in param.target:
                continue
            out.append((code, found, contained_key(rtype, rid, url[1:]), None))
        return out

    def rows_for(self, resource: dict[str, Any], params: Iterable[SearchParam]) -> IndexRows:
        """The index rows of just `params` (in-memory matching, e.g. access restrictions)."""
        rows = IndexRows()
        for param in params:
            if param.type not in _ADD:
                continue
            nodes = self.values(resource, param)
            if nodes:
                _, required = self._compiled(resource["resourceType"], param)
                _ADD[param.type](self, rows, param, nodes, required)
        return rows.dedupe()

    def _composite(
        self, rows: IndexRows, p: SearchParam, nodes: list[_Node], resource: dict[str, Any]
    ) -> None:
        subs = [self.registry.by_url(c.definition) for c in p.component]
        if any(sub is None or sub.type not in _ADD for sub in subs):
            return
        for grp, node in enumerate(nodes):
            if not isinstance(node.data, dict):
                continue
            for k, (comp, sub) in enumerate(zip(p.component, subs, strict=True)):
                assert sub is not None
                part = IndexRows()
                fake = SearchParam(code=f"{p.code}#{k}", type=sub.type, base=p.base)
                values = component_values(node.data, comp.expression, resource)
                if values:
                    _ADD[sub.type](self, part, fake, values, ())
                for kind in _ADD:
                    rows.composite.extend((kind, grp, row) for row in getattr(part, kind))

    def _position(self, rows: IndexRows, p: SearchParam, nodes: list[_Node]) -> None:
        for node in nodes:
            d = node.data
            if isinstance(d, dict):
                lat, lon = d.get("latitude"), d.get("longitude")
                if isinstance(lat, int | float) and isinstance(lon, int | float):
                    lat_f, lon_f = float(lat), float(lon)
                    rows.position.append((p.code, lat_f, lon_f, *unit_sphere(lat_f, lon_f)))

    # -- per parameter type ---------------------------------------------------------------------
    def _token(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        for node in nodes:
            rows.token.extend((p.code, *t) for t in token_values(node.data, node.type))
            rows.token.extend((f"{p.code}:of-type", *t) for t in of_type_values(node.data))

    def _string(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        pinyin = names_param(p.expression)
        for node in nodes:
            for raw in string_values(node.data, node.type):
                rows.string.extend((p.code, form, raw) for form in text.index_forms(raw, pinyin))

    def _date(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        for node in nodes:
            rng = date_value(node.data)
            if rng is not None:
                rows.date.append((p.code, *rng))

    def _number(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        for node in nodes:
            data = node.data.get("value") if isinstance(node.data, dict) else node.data
            if isinstance(data, int | float) and not isinstance(data, bool):
                rows.number.append((p.code, float(data)))

    def _quantity(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        for node in nodes:
            d = node.data
            if not isinstance(d, dict) or not isinstance(d.get("value"), int | float):
                continue
            value = float(d["value"])
            code = d.get("code") or d.get("currency")
            rows.quantity.append((p.code, _cut(d.get("system")), _cut(code), value))
            if d.get("unit") and d.get("unit") != code:
                rows.quantity.append((p.code, None, _cut(d["unit"]), value))

    def _reference(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], req: Any) -> None:
        allowed = set(req) if req else set(p.target)
        for node in nodes:
            d = node.data
            ref = d.get("reference") if isinstance(d, dict) else d if isinstance(d, str) else None
            if isinstance(d, dict) and isinstance(d.get("identifier"), dict):
                ident = d["identifier"]
                rows.token.append(
                    (
                        f"{p.code}:identifier",
                        _cut(ident.get("system")),
                        _cut(ident.get("value")),
                        None,
                    )
                )
            if not isinstance(ref, str):
                continue
            if ref.startswith("#") and len(ref) > 1:  # a contained resource: resolved in extract
                rows.reference.append((p.code, None, None, _cut(ref)))
                continue
            parsed = parse_reference(ref, self.base_url)
            if parsed is None:
                continue
            if parsed.type and allowed and parsed.type not in allowed:
                continue
            rows.reference.append((p.code, parsed.type, _cut(parsed.id), _cut(parsed.url)))

    def _uri(self, rows: IndexRows, p: SearchParam, nodes: list[_Node], _r: Any) -> None:
        for node in nodes:
            if isinstance(node.data, str):
                rows.uri.append((p.code, node.data[:_MAX]))


_ADD = {
    "token": Extractor._token,
    "string": Extractor._string,
    "date": Extractor._date,
    "number": Extractor._number,
    "quantity": Extractor._quantity,
    "reference": Extractor._reference,
    "uri": Extractor._uri,
}


def _coding(c: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    display = c.get("display")
    return (
        _cut(c.get("system")),
        _cut(c.get("code")),
        _cut(text.normalize(display)) if display else None,
    )


def token_values(
    data: Any, fhir_type: str | None
) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, normalised text) rows for one token value, by data type."""
    if isinstance(data, bool):
        return [(None, "true" if data else "false", None)]
    if isinstance(data, str | int):
        return [(None, _cut(str(data)), None)]
    if not isinstance(data, dict):
        return []
    if (
        "coding" in data
        or fhir_type == "CodeableConcept"
        or ("text" in data and "code" not in data and "value" not in data)
    ):
        out = [_coding(c) for c in data.get("coding", []) if isinstance(c, dict)]
        if data.get("text"):
            out.append((None, None, _cut(text.normalize(data["text"]))))
        return out
    if fhir_type == "ContactPoint" or (
        fhir_type is None and "value" in data and "use" in data and "type" not in data
    ):
        return (
            [(_cut(data.get("system")), _cut(data.get("value")), None)] if data.get("value") else []
        )
    if "value" in data:  # Identifier
        type_text = (
            (data.get("type") or {}).get("text") if isinstance(data.get("type"), dict) else None
        )
        return [
            (
                _cut(data.get("system")),
                _cut(str(data["value"])),
                _cut(text.normalize(type_text)) if type_text else None,
            )
        ]
    if "code" in data or "system" in data:
        return [_coding(data)]
    return []


_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")
#: the last element of a string parameter's path that holds a name (HumanName or a name string)
_NAME_ELEMENTS = frozenset({"name", "family", "given", "alias", "prefix", "suffix"})


@functools.lru_cache(maxsize=4096)
def names_param(expression: str | None) -> bool:
    """Whether a string parameter indexes names (pinyin readings stored too): a path of its
    expression ends in a name element (`Patient.name`, `Organization.alias`, `….name.family`);
    addresses, titles and descriptions are stored in their normal form only."""
    for part in split_union(expression or ""):
        last = part.strip().split(".")[-1]
        if last.split("(")[0].split(" ")[0] in _NAME_ELEMENTS:
            return True
    return False


def string_values(data: Any, fhir_type: str | None) -> list[str]:
    """Source strings for one string value (HumanName and Address spread over their parts)."""
    if isinstance(data, str):
        return [data]
    if not isinstance(data, dict):
        return []
    parts = (
        _ADDRESS_PARTS
        if ("line" in data or "city" in data or fhir_type == "Address")
        else _NAME_PARTS
    )
    out: list[str] = []
    for key in parts:
        value = data.get(key)
        out.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    if parts is _NAME_PARTS and data.get("family") and data.get("given"):
        family, given = data["family"], " ".join(g for g in data["given"] if isinstance(g, str))
        if text.has_han(family):
            out.append(family + given.replace(" ", ""))  # 张三: family name first, no space
        else:
            out.append(f"{given} {family}")
    return out


def date_value(data: Any) -> tuple[int, int] | None:
    """[low, high] for a date, dateTime, instant, Period or Timing value."""
    if isinstance(data, str):
        return date_range(data)
    if not isinstance(data, dict):
        return None
    if "start" in data or "end" in data:
        return period_range(data.get("start"), data.get("end"))
    events = [r for r in (date_range(e) for e in data.get("event", []) if isinstance(e, str)) if r]
    bounds = (data.get("repeat") or {}).get("boundsPeriod")
    if isinstance(bounds, dict):
        rng = period_range(bounds.get("start"), bounds.get("end"))
        if rng:
            events.append(rng)
    if events:
        return min(e[0] for e in events), max(e[1] for e in events)
    return None


def of_type_values(data: Any) -> list[tuple[str | None, str | None, str | None]]:
    """Identifier `:of-type` rows: (type system, type code, identifier value)."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), dict) or "value" not in data:
        return []
    value = _cut(str(data["value"]))
    return [
        (_cut(c.get("system")), _cut(c.get("code")), value)
        for c in data["type"].get("coding", [])
        if isinstance(c, dict) and c.get("code")
    ]


def _walk(data: Any, steps: list[str]) -> list[Any]:
    current = data if isinstance(data, list) else [data]
    for step in steps:
        nxt: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            found = item.get(step)
            if found is None:  # a choice element: value → valueQuantity, valueString, ...
                found = [
                    v
                    for k, v in item.items()
                    if k.startswith(step) and k[len(step) : len(step) + 1].isupper()
                ]
            nxt.extend(found if isinstance(found, list) else [found])
        current = nxt
    return current


def component_values(
    data: dict[str, Any], expression: str, resource: dict[str, Any]
) -> list[_Node]:
    """A composite component's values, relative to the composite's node (`value.as(Quantity)`,
    `code`, `%resource.referenceSeq.chromosome`, unions of these)."""
    out: list[_Node] = []
    for part in split_union(expression):
        match = _AS.match(part)
        if match:
            key = match.group(1) + match.group(2)[0].upper() + match.group(2)[1:]
            found, kind = _walk(data, [key]), match.group(2)
        elif part.startswith("%resource."):
            found, kind = _walk(resource, part.split(".")[1:]), None
        else:
            found, kind = _walk(data, part.split(".")), None
        out.extend(_Node(kind, item) for item in found if item is not None)
    return out


def _strings(data: Any) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [
            s
            for k, v in data.items()
            if k not in ("resourceType", "id", "meta")
            for s in _strings(v)
        ]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def text_rows(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """`_text` (the narrative without markup) and `_content` (every string), normalised."""
    rows: list[tuple[str, str]] = []
    narrative = (
        (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    )
    if isinstance(narrative, str):
        plain = text.normalize(_TAGS.sub(" ", narrative))
        if plain:
            rows.append(("_text", plain))
    # each string normalised on its own (short ones are memoised: codes, displays, places
    # repeat across resources), markup only stripped where there is some
    parts = (text.normalize(_TAGS.sub(" ", s) if "<" in s else s) for s in _strings(resource))
    content = " ".join(p for p in parts if p)
    if content:
        rows.append(("_content", content))
    return rows
