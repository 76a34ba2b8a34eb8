"""FHIR R4 ↔ the platform's v1 records (pure; table-tested).  Wire format: `schema/v1/`,
documented in `schema/README.md`.

Record key = `<record_type>:<FHIR type>/<id>`, or `<record_type>:platform/<platform id>` for a
resource that carries the platform's own identifier (imported from it), so the platform's
record is updated, never duplicated; a fulfilment summary is `fulfilment:Contract/<id>@<day>`.
Checksum = SHA-256 of the payload's canonical JSON (sorted keys, no spaces, UTF-8), so both
sides compute the same value for reconciliation.  Mapping follows docs/DATA-MODEL.md: Contract
(`executed` → `in-force`), PractitionerRole (+ its Practitioner, Locations, HealthcareServices)
→ doctor, CareTeam → team, Organization → institution, `$fulfillment` → fulfilment.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

SCHEMA_VERSION = "1"
SD = "https://jiayi.health/fhir/StructureDefinition/"
BOUNDARY = "http://hl7.org/fhir/StructureDefinition/location-boundary-geojson"
ID_NUMBER_SYSTEMS = ("urn:oid:2.16.156.10011.1.3", "urn:oid:2.16.840.1.113883.2.23.1.19.1")
PLATFORM_SYSTEM = "https://jiayi.health/fhir/NamingSystem/provincial-platform-id"
#: `meta.source` of a version written by the inbound import: `<this>#<fingerprint>`.
PLATFORM_SOURCE = "https://jiayi.health/fhir/provincial-platform"
RECORD_TYPES: dict[str, str] = {
    "Contract": "contract",
    "PractitionerRole": "doctor",
    "CareTeam": "team",
    "Organization": "institution",
}
FULFILMENT = "fulfilment"
_CONTRACT_STATUS = {"executed": "in-force", "terminated": "terminated", "renewed": "renewed"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def checksum(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def platform_id(resource: Mapping[str, Any] | None) -> str | None:
    for ident in (resource or {}).get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") == PLATFORM_SYSTEM:
            value = ident.get("value")
            return str(value) if value else None
    return None


def record_key(
    resource_type: str, resource_id: str, resource: Mapping[str, Any] | None = None
) -> str:
    pid = platform_id(resource)
    if pid is not None:
        return f"{RECORD_TYPES[resource_type]}:platform/{pid}"
    return f"{RECORD_TYPES[resource_type]}:{resource_type}/{resource_id}"


def fulfilment_key(contract_id: str, day: str) -> str:
    return f"{FULFILMENT}:Contract/{contract_id}@{day}"


def parse_key(key: str) -> tuple[str, str, str, str | None]:
    """`record type, FHIR type (or "platform"), id, day (fulfilment only)`."""
    record_type, _, rest = key.partition(":")
    target, _, rid = rest.partition("/")
    rid, _, day = rid.partition("@")
    return record_type, target, rid, day or None


# -- echo of the inbound import -------------------------------------------------------------------
def fingerprint(resource: Mapping[str, Any]) -> str:
    """A version's content without `meta` and narrative: equal fingerprints, same content."""
    body = {k: v for k, v in resource.items() if k not in ("meta", "text")}
    return checksum(body)


def imported_source(resource: Mapping[str, Any]) -> str:
    """`meta.source` for a version the import writes: the platform, and what it wrote."""
    return f"{PLATFORM_SOURCE}#{fingerprint(resource)}"


def is_echo(resource: Mapping[str, Any] | None) -> bool:
    """Is this version exactly what the import wrote (so sending it would echo the platform's
    own record back)?  A local edit changes the fingerprint and is sent."""
    if resource is None:
        return False
    source = (resource.get("meta") or {}).get("source")
    return isinstance(source, str) and source == imported_source(resource)


# -- helpers --------------------------------------------------------------------------------------
def _ref_id(ref: Mapping[str, Any] | None) -> str | None:
    value = (ref or {}).get("reference")
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else None


def _ext(resource: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((e for e in resource.get("extension") or [] if e.get("url") == SD + name), None)


def _codes(concepts: Any) -> list[str]:
    return [c["code"] for cc in concepts or [] for c in cc.get("coding") or [] if c.get("code")]


def person_name(resource: Mapping[str, Any] | None) -> str | None:
    """The name a person goes by: `text`, else family + given (Chinese order, no space)."""
    for name in (resource or {}).get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [name.get("family") or "", *(name.get("given") or [])]
        if any(parts):
            return "".join(parts)
    return None


def id_number(patient: Mapping[str, Any] | None) -> str | None:
    for ident in (patient or {}).get("identifier") or []:
        if ident.get("system") in ID_NUMBER_SYSTEMS and ident.get("value"):
            return str(ident["value"])
    return None


def boundary(location: Mapping[str, Any]) -> Any:
    """The GeoJSON boundary of a service area (core extension location-boundary-geojson)."""
    for e in location.get("extension") or []:
        if e.get("url") == BOUNDARY:
            data = (e.get("valueAttachment") or {}).get("data")
            if isinstance(data, str):
                try:
                    return json.loads(base64.b64decode(data))
                except ValueError:
                    return None
    return None


def hours_text(t: Mapping[str, Any]) -> str:
    days = ",".join(t.get("daysOfWeek") or [])
    start, end = t.get("availableStartTime", ""), t.get("availableEndTime", "")
    return f"{days} {start}-{end}".strip() if start or end else days


def hours_to_fhir(text: str) -> dict[str, Any] | None:
    """`mon,tue 08:00:00-12:00:00` → an `availableTime` (None when unreadable)."""
    days_part, _, times = text.strip().partition(" ")
    days = [d for d in days_part.split(",") if d in _DAYS]
    if not days:
        return None
    out: dict[str, Any] = {"daysOfWeek": days}
    start, _, end = times.partition("-")
    if start:
        out["availableStartTime"] = start if start.count(":") == 2 else f"{start}:00"
    if end:
        out["availableEndTime"] = end if end.count(":") == 2 else f"{end}:00"
    return out


# -- payloads -------------------------------------------------------------------------------------
def contract_payload(
    c: Mapping[str, Any], residents: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """`residents`: Patient id → Patient, for the residents' ID numbers."""
    signer = {
        (s.get("party") or {}).get("reference", "").split("/")[0]: _ref_id(s.get("party"))
        for s in c.get("signer") or []
    }
    reason = _ext(c, "contract-termination-reason")
    channel = (_ext(c, "signing-channel") or {}).get("valueCoding") or {}
    applies = c.get("applies") or {}
    resident_ids = [
        _ref_id(s)
        for s in c.get("subject") or []
        if str(s.get("reference", "")).startswith("Patient/")
    ]
    numbers = [n for n in (id_number((residents or {}).get(str(r))) for r in resident_ids) if n]
    payload: dict[str, Any] = {
        "contract_id": platform_id(c) or str(c.get("id")),
        "status": _CONTRACT_STATUS.get(str(c.get("status")), "other"),
        "resident_ids": resident_ids,
        "team_id": _ref_id((_ext(c, "contract-care-team") or {}).get("valueReference")),
        "doctor_id": signer.get("PractitionerRole"),
        "institution_id": _ref_id((c.get("authority") or [None])[0]),
        "start": (applies.get("start") or "")[:10] or None,
        "end": (applies.get("end") or "")[:10] or None,
        "termination_reason": next(
            iter(_codes([(reason or {}).get("valueCodeableConcept") or {}])), None
        ),
        "channel": channel.get("code"),
    }
    if numbers:
        payload["resident_id_numbers"] = numbers
    return payload


def doctor_payload(
    r: Mapping[str, Any],
    practitioner: Mapping[str, Any] | None = None,
    locations: Sequence[Mapping[str, Any]] = (),
    services: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A doctor's post with what the e-map shows: the name (from the Practitioner, else the
    reference's display), the service areas (with their GeoJSON boundary), the services, the
    hours, and the leading hospital of a sinking doctor (`sinking-from`)."""
    by_id = {str(loc.get("id")): loc for loc in locations}
    area_ids = [x for x in (_ref_id(loc) for loc in r.get("location") or []) if x]
    service_ids = [x for x in (_ref_id(s) for s in r.get("healthcareService") or []) if x]
    names = {str(s.get("id")): s.get("name") for s in services}
    payload: dict[str, Any] = {
        "doctor_id": platform_id(r) or str(r.get("id")),
        "name": person_name(practitioner) or (r.get("practitioner") or {}).get("display"),
        "institution_id": _ref_id(r.get("organization")),
        "specialties": _codes(r.get("specialty")),
        "service_areas": area_ids,
        "hours": [hours_text(t) for t in r.get("availableTime") or []],
        "active": r.get("active", True) is not False,
    }
    if practitioner is not None or _ref_id(r.get("practitioner")):
        payload["practitioner_id"] = _ref_id(r.get("practitioner"))
    details = [
        {
            "location_id": i,
            "name": by_id[i].get("name"),
            "boundary": boundary(by_id[i]),
        }
        for i in area_ids
        if i in by_id
    ]
    if details:
        payload["service_area_details"] = details
    if service_ids:
        payload["services"] = [{"service_id": i, "name": names.get(i)} for i in service_ids]
    sinking = _ext(r, "sinking-from")
    if sinking is not None:
        payload["sinking_from"] = _ref_id(sinking.get("valueReference"))
    return payload


def team_payload(t: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "team_id": str(t.get("id")),
        "name": t.get("name"),
        "institution_id": _ref_id((t.get("managingOrganization") or [None])[0]),
        "members": [x for x in (_ref_id(p.get("member")) for p in t.get("participant") or []) if x],
        "active": t.get("status", "active") == "active",
    }


def institution_payload(o: Mapping[str, Any]) -> dict[str, Any]:
    division = None
    for address in o.get("address") or []:
        for e in address.get("extension") or []:
            if e.get("url") == SD + "division-code":
                division = e.get("valueCode")
    return {
        "institution_id": str(o.get("id")),
        "name": o.get("name"),
        "division_code": division,
        "part_of": _ref_id(o.get("partOf")),
        "active": o.get("active", True) is not False,
    }


def fulfilment_payload(
    contract_id: str, day: str, rate: float, activities: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A contract's fulfilment as `$fulfillment` computes it on `day`: the rate and, per
    required service item, due / done / overdue / declined counts."""
    return {
        "contract_id": contract_id,
        "day": day,
        "rate": round(float(rate), 4),
        "activities": [
            {
                "code": str(a["code"]),
                "title": a.get("title"),
                "due": int(a["due"]),
                "done": int(a["done"]),
                "overdue": int(a["overdue"]),
                "declined": int(a.get("declined", 0)),
            }
            for a in activities
        ],
    }


PAYLOADS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "Contract": contract_payload,
    "PractitionerRole": doctor_payload,
    "CareTeam": team_payload,
    "Organization": institution_payload,
}


def envelope(
    record_type: str, key: str, version: int, day: str, payload: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One wire record (`schema/v1/record.json`); `payload` None: a deletion."""
    body = dict(payload) if payload is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "record_type": record_type,
        "record_key": key,
        "version": version,
        "deleted": payload is None,
        "day": day,
        "checksum": checksum(body),
        "payload": body,
    }


def to_record(
    resource_type: str,
    resource_id: str,
    version: int,
    day: str,
    resource: Mapping[str, Any] | None,
    payload: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The record of one resource version (a deletion carries an empty payload).  `payload`:
    one built with related resources (doctor, contract); else the resource alone."""
    body = None
    if resource is not None:
        body = payload if payload is not None else PAYLOADS[resource_type](resource)
    return envelope(
        RECORD_TYPES[resource_type],
        key or record_key(resource_type, resource_id, resource),
        version,
        day,
        body,
    )


# -- inbound --------------------------------------------------------------------------------------
def doctor_to_fhir(d: Mapping[str, Any]) -> dict[str, Any]:
    """A directory doctor → PractitionerRole with the platform id as identifier (import key),
    keeping specialties, service areas (Location references) and hours (availableTime)."""
    out: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "identifier": [{"system": PLATFORM_SYSTEM, "value": str(d["doctor_id"])}],
        "active": bool(d.get("active", True)),
    }
    if d.get("name"):
        out["practitioner"] = {"display": d["name"]}
    if d.get("institution_id"):
        out["organization"] = {"reference": f"Organization/{d['institution_id']}"}
    if d.get("specialties"):
        out["specialty"] = [{"coding": [{"code": s}]} for s in d["specialties"]]
    if d.get("service_areas"):
        out["location"] = [{"reference": f"Location/{a}"} for a in d["service_areas"]]
    hours = [h for h in (hours_to_fhir(t) for t in d.get("hours") or []) if h]
    if hours:
        out["availableTime"] = hours
    return out


def contract_to_fhir(
    c: Mapping[str, Any],
    residents: Sequence[str],
    doctor_role: str | None = None,
) -> dict[str, Any]:
    """A contract signed on the platform → Contract with the platform id as identifier.
    `residents`: the local Patient ids its residents resolved to (by ID number);
    `doctor_role`: the local PractitionerRole of its doctor, when imported."""
    status = {v: k for k, v in _CONTRACT_STATUS.items()}.get(str(c.get("status")), "offered")
    out: dict[str, Any] = {
        "resourceType": "Contract",
        "identifier": [{"system": PLATFORM_SYSTEM, "value": str(c["contract_id"])}],
        "status": status,
        "subject": [{"reference": f"Patient/{p}"} for p in residents],
    }
    if c.get("channel"):
        out["extension"] = [
            {
                "url": SD + "signing-channel",
                "valueCoding": {
                    "system": "https://jiayi.health/fhir/CodeSystem/signing-channel",
                    "code": c["channel"],
                },
            }
        ]
    if c.get("start"):
        out["applies"] = {"start": c["start"], **({"end": c["end"]} if c.get("end") else {})}
    if c.get("institution_id"):
        out["authority"] = [{"reference": f"Organization/{c['institution_id']}"}]
    if doctor_role:
        out["signer"] = [
            {
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                    "code": "AUT",
                },
                "party": {"reference": f"PractitionerRole/{doctor_role}"},
                "signature": [
                    {
                        "type": [
                            {
                                "system": "urn:iso-astm:E1762-95:2013",
                                "code": "1.2.840.10065.1.12.1.1",
                            }
                        ],
                        "when": f"{c.get('start') or '1970-01-01'}T00:00:00+08:00",
                        "who": {"reference": f"PractitionerRole/{doctor_role}"},
                    }
                ],
            }
        ]
    return out
