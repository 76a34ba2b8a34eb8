"""Kick-off parameters of `$export`, parsed and checked (pure).

Spec: Bulk Data Access IG 2.0, "Bulk Data Kick-off Request" — `_outputFormat` (the server SHALL
accept `application/fhir+ndjson`, `application/ndjson` and `ndjson`), `_since` (instant), `_type`
(comma-separated resource types), `_typeFilter` (`Type?search`), `patient` (POST, Patient and
Group level).  Unsupported parameters are refused with 400, as the IG recommends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

from ..core import errors as E

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
LEVELS = ("system", "patient", "group")
_IGNORED = frozenset({"includeAssociatedData", "_pretty", "_format"})


@dataclass(frozen=True)
class ExportRequest:
    level: str  # system | patient | group
    group_id: str | None = None
    types: tuple[str, ...] = ()  # empty: every type the level allows
    since: str | None = None  # FHIR instant as sent
    type_filters: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = field(
        default_factory=dict
    )  # type → alternatives (ORed), each a query
    patients: tuple[str, ...] = ()  # `patient` references (POST), ids only


def _parse_instant(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise E.bad_request(f"_since must be a FHIR instant, not '{value}'", "_since") from exc
    if parsed.tzinfo is None:
        raise E.bad_request("_since must carry a time zone (a FHIR instant)", "_since")
    return value


def parse_export(
    level: str,
    params: Sequence[tuple[str, object]],
    is_type: Callable[[str], bool],
    group_id: str | None = None,
) -> ExportRequest:
    """`params`: (name, value) pairs from the query string or a Parameters body (references as
    dicts).  Raises a 400 FhirError naming the offending parameter."""
    types: list[str] = []
    since: str | None = None
    filters: dict[str, list[tuple[tuple[str, str], ...]]] = {}
    patients: list[str] = []
    for name, value in params:
        if name == "_outputFormat":
            # An unencoded `+` in a query string arrives as a space (form decoding).
            if str(value).replace(" ", "+") not in OUTPUT_FORMATS:
                raise E.bad_request(
                    f"_outputFormat '{value}' is not supported (use application/fhir+ndjson)",
                    "_outputFormat",
                )
        elif name == "_type":
            for t in str(value).split(","):
                t = t.strip()
                if not t:
                    continue
                if not is_type(t):
                    raise E.bad_request(f"_type names an unknown resource type '{t}'", "_type")
                if t not in types:
                    types.append(t)
        elif name == "_since":
            since = _parse_instant(str(value))
        elif name == "_typeFilter":
            rtype, _, query = str(value).partition("?")
            if not is_type(rtype) or not query:
                raise E.bad_request(
                    f"_typeFilter must be 'Type?search', not '{value}'", "_typeFilter"
                )
            pairs = tuple(parse_qsl(query, keep_blank_values=True))
            filters.setdefault(rtype, []).append(pairs)
        elif name == "patient":
            if level == "system":
                raise E.bad_request("'patient' applies to Patient and Group exports", "patient")
            ref = value.get("reference") if isinstance(value, dict) else value
            if not isinstance(ref, str) or not ref.startswith("Patient/"):
                raise E.bad_request("'patient' must reference Patient/<id>", "patient")
            patients.append(ref.split("/")[1])
        elif name in _IGNORED:
            continue
        else:
            raise E.bad_request(f"$export does not support the parameter '{name}'", name)
    if types:
        for rtype in filters:
            if rtype not in types:
                raise E.bad_request(
                    f"_typeFilter names {rtype}, which _type leaves out", "_typeFilter"
                )
    return ExportRequest(
        level,
        group_id,
        tuple(types),
        since,
        {k: tuple(v) for k, v in filters.items()},
        tuple(patients),
    )


def to_json(req: ExportRequest) -> dict[str, object]:
    return {
        "level": req.level,
        "group_id": req.group_id,
        "types": list(req.types),
        "since": req.since,
        "type_filters": {
            k: [list(map(list, alt)) for alt in v] for k, v in req.type_filters.items()
        },
        "patients": list(req.patients),
    }


def from_json(data: dict[str, object]) -> ExportRequest:
    filters = data.get("type_filters") or {}
    assert isinstance(filters, dict)
    return ExportRequest(
        str(data["level"]),
        data.get("group_id"),  # type: ignore[arg-type]
        tuple(data.get("types") or ()),  # type: ignore[arg-type]
        data.get("since"),  # type: ignore[arg-type]
        {k: tuple(tuple((p[0], p[1]) for p in alt) for alt in v) for k, v in filters.items()},
        tuple(data.get("patients") or ()),  # type: ignore[arg-type]
    )
