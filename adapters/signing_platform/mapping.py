"""FHIR R4 ↔ the platform's v1 records (pure; table-tested).

Record key = `<record_type>:<FHIR type>/<id>`; checksum = SHA-256 of the payload's canonical JSON
(sorted keys, no spaces, UTF-8), so both sides compute the same value for reconciliation.  Mapping
follows docs/DATA-MODEL.md: Contract (`executed` → `in-force`), PractitionerRole → doctor,
CareTeam → team, Organization → institution.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

SCHEMA_VERSION = "1"
SD = "https://jiayi.health/fhir/StructureDefinition/"
RECORD_TYPES: dict[str, str] = {
    "Contract": "contract",
    "PractitionerRole": "doctor",
    "CareTeam": "team",
    "Organization": "institution",
}
_CONTRACT_STATUS = {"executed": "in-force", "terminated": "terminated", "renewed": "renewed"}


def checksum(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_key(resource_type: str, resource_id: str) -> str:
    return f"{RECORD_TYPES[resource_type]}:{resource_type}/{resource_id}"


def _ref_id(ref: Mapping[str, Any] | None) -> str | None:
    value = (ref or {}).get("reference")
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else None


def _ext(resource: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((e for e in resource.get("extension") or [] if e.get("url") == SD + name), None)


def _codes(concepts: Any) -> list[str]:
    return [c["code"] for cc in concepts or [] for c in cc.get("coding") or [] if c.get("code")]


def contract_payload(c: Mapping[str, Any]) -> dict[str, Any]:
    signer = {
        (s.get("party") or {}).get("reference", "").split("/")[0]: _ref_id(s.get("party"))
        for s in c.get("signer") or []
    }
    reason = _ext(c, "contract-termination-reason")
    applies = c.get("applies") or {}
    return {
        "contract_id": str(c.get("id")),
        "status": _CONTRACT_STATUS.get(str(c.get("status")), "other"),
        "resident_ids": [
            _ref_id(s)
            for s in c.get("subject") or []
            if str(s.get("reference", "")).startswith("Patient/")
        ],
        "team_id": _ref_id((_ext(c, "contract-care-team") or {}).get("valueReference")),
        "doctor_id": signer.get("PractitionerRole"),
        "institution_id": _ref_id((c.get("authority") or [None])[0]),
        "start": (applies.get("start") or "")[:10] or None,
        "end": (applies.get("end") or "")[:10] or None,
        "termination_reason": (
            _codes([(reason or {}).get("valueCodeableConcept") or {}]) or [None]
        )[0],
        "channel": None,
    }


def doctor_payload(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "doctor_id": str(r.get("id")),
        "name": (r.get("practitioner") or {}).get("display"),
        "institution_id": _ref_id(r.get("organization")),
        "specialties": _codes(r.get("specialty")),
        "service_areas": [x for x in (_ref_id(loc) for loc in r.get("location") or []) if x],
        "hours": [
            f"{','.join(t.get('daysOfWeek') or [])} {t.get('availableStartTime', '')}-{t.get('availableEndTime', '')}".strip()
            for t in r.get("availableTime") or []
        ],
        "active": r.get("active", True) is not False,
    }


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


PAYLOADS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "Contract": contract_payload,
    "PractitionerRole": doctor_payload,
    "CareTeam": team_payload,
    "Organization": institution_payload,
}


def to_record(
    resource_type: str,
    resource_id: str,
    version: int,
    day: str,
    resource: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One wire record (a deletion carries an empty payload)."""
    payload = PAYLOADS[resource_type](resource) if resource is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "record_type": RECORD_TYPES[resource_type],
        "record_key": record_key(resource_type, resource_id),
        "version": version,
        "deleted": resource is None,
        "day": day,
        "checksum": checksum(payload),
        "payload": payload,
    }


# -- inbound --------------------------------------------------------------------------------------
PLATFORM_SYSTEM = "https://jiayi.health/fhir/NamingSystem/provincial-platform-id"


def doctor_to_fhir(d: Mapping[str, Any]) -> dict[str, Any]:
    """A directory doctor → PractitionerRole with the platform id as identifier (import key)."""
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
    return out


def contract_to_fhir(c: Mapping[str, Any]) -> dict[str, Any]:
    """A contract signed on the platform → Contract with the platform id as identifier."""
    status = {v: k for k, v in _CONTRACT_STATUS.items()}.get(str(c.get("status")), "offered")
    out: dict[str, Any] = {
        "resourceType": "Contract",
        "identifier": [{"system": PLATFORM_SYSTEM, "value": str(c["contract_id"])}],
        "status": status,
        "subject": [{"reference": f"Patient/{p}"} for p in c.get("resident_ids") or []],
    }
    if c.get("start"):
        out["applies"] = {"start": c["start"], **({"end": c["end"]} if c.get("end") else {})}
    if c.get("institution_id"):
        out["authority"] = [{"reference": f"Organization/{c['institution_id']}"}]
    return out
