"""Reference parsing and walking (R4 references.html).

A literal reference is relative (`Patient/123`, `Patient/123/_history/2`), absolute
(`http://server/fhir/Patient/123`), a placeholder (`urn:uuid:…`, `urn:oid:…`), a conditional
reference inside a transaction (`Patient?identifier=…`), or a fragment (`#contained-id`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_RELATIVE = re.compile(
    r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$"
)


@dataclass(frozen=True)
class LocalReference:
    resource_type: str
    id: str
    version: str | None = None

    @property
    def relative(self) -> str:
        return f"{self.resource_type}/{self.id}"


def parse_local(reference: str, base_url: str | None = None) -> LocalReference | None:
    """`Type/id[/_history/v]`, or an absolute URL under `base_url`; None for anything else."""
    ref = reference
    if base_url and ref.startswith(base_url.rstrip("/") + "/"):
        ref = ref[len(base_url.rstrip("/")) + 1 :]
    m = _RELATIVE.match(ref)
    if not m:
        return None
    return LocalReference(m["type"], m["id"], m["version"])


def is_placeholder(reference: str) -> bool:
    return reference.startswith("urn:uuid:") or reference.startswith("urn:oid:")


def is_conditional(reference: str) -> bool:
    head, sep, _ = reference.partition("?")
    return bool(sep) and bool(re.match(r"^[A-Z][A-Za-z]+$", head))


def iter_reference_holders(node: Any, path: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """Yield every (object, FHIRPath) whose `reference` is a string, anywhere in the tree."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node, path
        for key, value in node.items():
            if key in ("reference", "resourceType"):
                continue
            child = f"{path}.{key}" if path else key
            yield from iter_reference_holders(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from iter_reference_holders(item, f"{path}[{i}]")


def rewrite_references(node: Any, rewrite: Callable[[str], str | None]) -> Any:
    """A copy of `node` with every `reference` string passed through `rewrite` (None: unchanged)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = rewrite(value)
                out[key] = value if new is None else new
            else:
                out[key] = rewrite_references(value, rewrite)
        return out
    if isinstance(node, list):
        return [rewrite_references(v, rewrite) for v in node]
    return node
