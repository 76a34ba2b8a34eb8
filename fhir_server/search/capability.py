"""What the search engine declares in the CapabilityStatement, per resource type (pure).

`CapabilityStatement.rest.resource`: `searchParam` (name, definition, type, documentation) for
every parameter the engine runs on the type — the R4 definitions (errata fixed), the guide's own
and the computed ones (Patient `age`, key populations) — with the definition's own description for
that type; `searchInclude` (`Type:param` for each reference parameter, and `*`) and
`searchRevInclude` (`Source:param` for each reference parameter of another type that may point
here).  Parameters without an expression that the engine does not compute (`_query`) are left out.

`CapabilityStatement.rest.searchParam` (`system_search_params`): the parameters a system-level
search (`GET [base]?…`, over every type or the `_type` list) runs, each documented with exactly
what it does here; named queries (`_query`, search.named) are type-level operations instead.

Spec: http://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchParam,
http://hl7.org/fhir/R4/search.html#include.
"""

from __future__ import annotations

import re
from typing import Any

from .named import capability_operations
from .registry import SearchParam, SearchRegistry

#: CapabilityStatement.rest.resource.searchParam.type (R4 SearchParamType)
PARAM_TYPES = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"}
)
#: parameters without an expression that the engine implements itself
_BUILT_IN = frozenset({"_text", "_content", "_filter", "_list", "_has", "_type"})
_PER_TYPE = re.compile(r"^\*\s*\[(\w+)\]\([^)]*\):\s*(.+?)\s*$", re.MULTILINE)


def documentation(param: SearchParam, resource_type: str) -> str:
    """The definition's description for `resource_type` (shared R4 definitions describe each
    type on its own `* [Type](…): …` line)."""
    text = (param.description or "").replace("\r\n", "\n").strip()
    if text.startswith("Multiple Resources"):
        for rtype, line in _PER_TYPE.findall(text):
            if rtype == resource_type:
                return line
        return f"{param.type} search on {param.expression or param.code}"
    return text or f"{param.type} search on {param.expression or param.code}"


def _runs(param: SearchParam) -> bool:
    return bool(param.expression) or param.code in _BUILT_IN


def search_capabilities(registry: SearchRegistry) -> dict[str, dict[str, list[Any]]]:
    """{resource type: {"searchInclude": […], "searchRevInclude": […], "searchParam": […],
    "operation": [named queries (`_query`) of the type]}} (keys with nothing to list left out)."""
    revincludes: dict[str, set[str]] = {}
    types = sorted(registry.resource_types)
    for source in types:
        for code, p in registry.for_type(source).items():
            if p.type == "reference" and p.expression:
                for target in p.target or types:
                    revincludes.setdefault(target, set()).add(f"{source}:{code}")
    out: dict[str, dict[str, list[Any]]] = {}
    for rtype in types:
        own = registry.for_type(rtype)
        computed = registry.computed_for_type(rtype)
        params: list[dict[str, Any]] = []
        for code, p in sorted(own.items()):
            if code in computed or not _runs(p):
                continue
            entry: dict[str, Any] = {"name": code}
            if p.url:
                entry["definition"] = p.url
            entry["type"] = p.type if p.type in PARAM_TYPES else "special"
            entry["documentation"] = documentation(p, rtype)
            params.append(entry)
        for code, c in sorted(computed.items()):
            defined = own.get(code)
            entry = {"name": code}
            if defined is not None and defined.url:
                entry["definition"] = defined.url
            entry["type"] = c.type
            entry["documentation"] = c.documentation or (
                documentation(defined, rtype) if defined else code
            )
            params.append(entry)
        params.sort(key=lambda e: e["name"])
        includes = sorted(
            f"{rtype}:{code}" for code, p in own.items() if p.type == "reference" and p.expression
        )
        part: dict[str, list[Any]] = {
            "searchInclude": [*includes, "*"] if includes else [],
            "searchRevInclude": sorted(revincludes.get(rtype, ())),
            "searchParam": params,
            "operation": capability_operations(rtype),
        }
        out[rtype] = {k: v for k, v in part.items() if v}  # FHIR JSON has no empty arrays
    return out


#: system-level search: (code, type, documentation) — what works, as it works
SYSTEM_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("_id", "token", "Logical id (comma: any of them)."),
    (
        "_lastUpdated",
        "date",
        "When the current version was written: every prefix (eq ne lt gt le ge sa eb ap) at the "
        "value's precision.",
    ),
    (
        "_tag",
        "token",
        "meta.tag: `system|code`, `|code`, `system|`, `code`; `:not`, `:missing`.",
    ),
    (
        "_security",
        "token",
        "meta.security labels: `system|code`, `|code`, `system|`, `code`; `:not`, `:missing`.",
    ),
    ("_profile", "uri", "meta.profile canonical: exact, `:below` (prefix), `:above`, `:missing`."),
    ("_source", "uri", "meta.source: exact, `:below` (prefix), `:above`, `:missing`."),
    (
        "_text",
        "string",
        "Substring of the narrative (text.div without markup), case-, accent- and "
        "width-insensitive; Chinese text matches by substring.",
    ),
    (
        "_content",
        "string",
        "Substring of any string value of the resource, folded as `_text`.",
    ),
    ("_list", "special", "Members (entry.item) of the List with this id."),
    (
        "_has",
        "special",
        "Reverse chaining `_has:Type:reference:parameter=value`, nested to four levels; on "
        "common sources a page is an ordered walk that stops at `_count`.",
    ),
    (
        "_type",
        "token",
        "The resource types searched (comma: any of them); then every parameter the listed "
        "types share may be used.",
    ),
    (
        "_filter",
        "special",
        "The FHIR filter expression (search_filter.html) over the searched types' parameters: "
        "eq ne co sw ew gt lt ge le sa eb ap pr po ss sb in ni re, and/or/not, parentheses, "
        "chained paths.",
    ),
)

#: result parameters a system-level search honours (documented, not search criteria)
RESULT_PARAM_DOCS: tuple[tuple[str, str], ...] = (
    ("_count", "Page size (default 20, at most the server's maximum); keyset paging links."),
    (
        "_total",
        "none | estimate | accurate: accurate counts once, on the first page (later pages "
        "carry it in the cursor); estimate is the planner's row estimate on PostgreSQL and the "
        "exact count on SQLite.",
    ),
    (
        "_sort",
        "Several keys, `-` for descending, on every sortable type; chained where single-typed.",
    ),
    ("_summary", "true | text | data | count | false."),
    ("_elements", "Top-level elements to return (plus the mandatory ones)."),
    ("_include", "`Type:param[:target]` and `*`, with `:iterate` (search.mode = include)."),
    ("_revinclude", "`Type:param[:target]` and `*`, with `:iterate`."),
    ("_contained", "false | true | both, with `_containedType` container | contained."),
)


def system_search_params(registry: SearchRegistry) -> list[dict[str, Any]]:
    """`rest.searchParam` entries (name, definition, type, documentation) for system search."""
    out: list[dict[str, Any]] = []
    for code, kind, doc in SYSTEM_PARAMS:
        defined = registry.get("Resource", code)
        entry: dict[str, Any] = {"name": code}
        if defined is not None and defined.url:
            entry["definition"] = defined.url
        entry["type"] = kind
        entry["documentation"] = doc
        out.append(entry)
    return out
