"""Reference strings → (type, id, url) for indexing and for reference search values.

Spec: http://hl7.org/fhir/R4/search.html#reference and http://hl7.org/fhir/R4/references.html

A relative reference `Type/id` (or `Type/id/_history/n`) is local.  An absolute URL on this
server's base is local too; any other absolute URL, canonical or URN keeps its `url` (without
`|version` or `/_history`), and the type when the URL ends in `Type/id`.  Contained references
(`#id`) are not indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class ParsedReference:
    type: str | None
    id: str | None  # set only for local references
    url: str | None  # set only for non-local ones


def parse_reference(ref: str, base_url: str | None = None) -> ParsedReference | None:
    ref = ref.strip()
    if not ref or ref.startswith("#"):
        return None
    if base_url and ref.startswith(base_url.rstrip("/") + "/"):
        ref = ref[len(base_url.rstrip("/")) + 1 :]
    if "://" not in ref and not ref.startswith("urn:"):
        match = _TYPE_ID.match(ref)
        if match and ref.count("/") in (1, 3):
            return ParsedReference(match.group(1), match.group(2), None)
        return ParsedReference(None, None, ref)
    url = ref.split("|", 1)[0]
    url = re.sub(r"/_history/[^/]+$", "", url)
    match = _TYPE_ID.search(url)
    return ParsedReference(match.group(1) if match else None, None, url)
