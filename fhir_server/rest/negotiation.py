"""Content negotiation: `_format`/`Accept`, request `Content-Type`, body size, JSON parsing."""

from __future__ import annotations

from typing import Any

from ..core import errors as E
from ..core.jsonio import MAX_DEPTH, loads, nests_deeper_than

FHIR_JSON = "application/fhir+json"
JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir", "text/json"}
PATCH_TYPES = {"application/json-patch+json"}
_FORMAT_JSON = {
    "json",
    "application/json",
    "application/fhir+json",
    "application/json+fhir",
    "text/json",
}
_FORMAT_XML = {"xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir"}


def media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower()


def check_format(format_param: str | None, accept: str | None) -> None:
    """JSON is the only representation: `_format=xml` or an XML-only Accept gets 406."""
    if format_param is not None:
        fmt = format_param.strip().lower().replace(" ", "+")  # an unescaped "+" arrives as a space
        if fmt in _FORMAT_XML:
            raise E.FhirError(
                406, E.error("not-supported", "This server speaks FHIR JSON only", "_format")
            )
        if fmt not in _FORMAT_JSON:
            raise E.bad_request(f"Unknown _format '{format_param}'", "_format")
        return
    if not accept:
        return
    kinds = [media_type(part) or "" for part in accept.split(",")]
    if any(k in JSON_TYPES or k in ("*/*", "application/*", "") for k in kinds):
        return
    if any(k in _FORMAT_XML for k in kinds):
        raise E.FhirError(
            406, E.error("not-supported", "This server speaks FHIR JSON only (Accept)", "Accept")
        )


def parse_body(method: str, content_type: str | None, raw: bytes) -> Any:
    """Check the Content-Type and parse the JSON body; None when there is no body."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    kind = media_type(content_type)
    allowed = JSON_TYPES | (PATCH_TYPES if method == "PATCH" else set())
    if not raw.strip():
        if method == "POST" and kind is None:
            return None
        raise E.bad_request("The request has no body", code="structure")
    if kind is not None and kind not in allowed:
        raise E.FhirError(
            415,
            E.error(
                "not-supported",
                f"Content-Type '{kind}' is not supported; send {FHIR_JSON}",
                "Content-Type",
                message_id="JY-0415",
            ),
        )
    try:
        body = loads(raw)
    except ValueError as exc:
        raise E.bad_request(f"The body is not valid JSON: {exc}", code="structure") from exc
    if nests_deeper_than(body, MAX_DEPTH):
        raise E.bad_request(
            f"The body nests objects and arrays more than {MAX_DEPTH} levels deep",
            code="too-costly",
        )
    return body
