"""The definitions validation reads: StructureDefinitions by canonical URL, base invariants, and
local ValueSet membership.

Spec: http://hl7.org/fhir/R4/structuredefinition.html (canonical URLs, `baseDefinition`),
http://hl7.org/fhir/R4/conformance-rules.html#constraints, http://hl7.org/fhir/R4/
valueset.html#compose and http://hl7.org/fhir/R4/terminologies.html#strength.

Sources: `validation/data/r4-validation.json.gz` (built by `scripts/build_r4_validation.py` from the
official package) and the guide's resources (`conformance.ig.load_ig_resources()`).  Snapshots of
differential-only StructureDefinitions are generated on first use and kept on the instance; nothing
is module state.

ValueSet membership is a small private check over the guide's CodeSystems/ValueSets (enumerated
concepts, whole complete CodeSystems, `is-a`/`descendent-of` filters on local hierarchies, nested
ValueSets) plus the pre-expanded R4 required-binding ValueSets.  When the composition root passes
`terminology` (e.g. `lambda vs: fhir_server.terminology.adapters.members(tx, vs)`), the guide's
ValueSets are expanded by the terminology engine instead, and the private check is the fallback.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .snapshot import SnapshotError, generate_snapshot

DATA_FILE = Path(__file__).resolve().parent / "data" / "r4-validation.json.gz"
CORE = "http://hl7.org/fhir/StructureDefinition/"

Constraint = tuple[str, str, str, str]  # key, severity, expression, human


def load_r4_validation(path: Path = DATA_FILE) -> dict[str, Any]:
    with gzip.open(path, "rb") as fh:
        data: dict[str, Any] = json.loads(fh.read())
    return data


class DefinitionLibrary:
    """Read-only after construction except for the snapshot and expansion caches."""

    def __init__(
        self,
        r4: Mapping[str, Any],
        ig_resources: Iterable[Mapping[str, Any]] = (),
        terminology: Callable[[str], frozenset[str] | None] | None = None,
    ) -> None:
        self._terminology = terminology
        self._sds: dict[str, dict[str, Any]] = dict(r4["structures"])
        self._constraints: dict[str, tuple[Constraint, ...]] = {
            path: tuple((c[0], c[1], c[2], c[3]) for c in items)
            for path, items in r4["constraints"].items()
        }
        self._members: dict[str, frozenset[str] | None] = {
            url: frozenset(codes) for url, codes in r4["valuesets"].items()
        }
        self._codesystems: dict[str, Mapping[str, Any]] = {}
        self._valuesets: dict[str, Mapping[str, Any]] = {}
        for res in ig_resources:
            kind, url = res.get("resourceType"), res.get("url")
            if not isinstance(url, str):
                continue
            if kind == "StructureDefinition":
                self._sds[url] = dict(res)
            elif kind == "CodeSystem":
                self._codesystems[url] = res
            elif kind == "ValueSet":
                self._valuesets[url] = res
                self._members.pop(url, None)
        self._snapshots: dict[str, list[dict[str, Any]]] = {}

    # -- structure definitions ---------------------------------------------------------------
    def structure(self, url: str) -> dict[str, Any] | None:
        """The StructureDefinition at `url` (a `|version` suffix is ignored) with a snapshot."""
        url = url.split("|", 1)[0]
        sd = self._sds.get(url)
        if sd is None:
            return None
        if url not in self._snapshots:
            try:
                self._snapshots[url] = generate_snapshot(sd, self.structure)
            except SnapshotError:
                return None
        if not sd.get("snapshot", {}).get("element"):
            sd = {**sd, "snapshot": {"element": self._snapshots[url]}}
            self._sds[url] = sd
        return sd

    def snapshot(self, url: str) -> list[dict[str, Any]] | None:
        sd = self.structure(url)
        return None if sd is None else list(sd["snapshot"]["element"])

    def is_known(self, url: str) -> bool:
        return url.split("|", 1)[0] in self._sds

    def type_of(self, url: str) -> str | None:
        sd = self._sds.get(url.split("|", 1)[0])
        return None if sd is None else str(sd.get("type"))

    def guide_extensions(self, prefix: str) -> list[str]:
        """URLs of the Extension definitions whose canonical starts with `prefix`."""
        return sorted(
            u
            for u, sd in self._sds.items()
            if u.startswith(prefix) and sd.get("type") == "Extension"
        )

    # -- invariants ---------------------------------------------------------------------------
    def constraints(self, path: str) -> tuple[Constraint, ...]:
        """Base invariants declared at an element path (`Patient.contact`) or type (`Period`)."""
        return self._constraints.get(path, ())

    def base_constraint_keys(self) -> frozenset[str]:
        """Keys of every base R4 invariant (a profile's copies of them are not re-evaluated)."""
        return frozenset(c[0] for items in self._constraints.values() for c in items) | {
            "ele-1",
            "ext-1",
        }

    def type_chain(self, type_name: str) -> list[str]:
        """`type_name` and its base types up to `Element`/`Resource` (`Age` → Age, Quantity, …)."""
        chain = []
        sd = self._sds.get(CORE + type_name)
        while sd is not None:
            chain.append(str(sd["type"]))
            base = sd.get("baseDefinition")
            sd = self._sds.get(base) if isinstance(base, str) else None
        return chain

    # -- terminology --------------------------------------------------------------------------
    def codesystem_codes(self, system: str) -> frozenset[str] | None:
        """Every code of the guide's CodeSystem `system` when it enumerates all of them
        (`content = complete`); None when the system is not the guide's or is not complete."""
        cs = self._codesystems.get(system)
        if cs is None or cs.get("content", "complete") != "complete":
            return None
        codes: set[str] = set()
        stack = list(cs.get("concept", []))
        while stack:
            concept = stack.pop()
            codes.add(str(concept["code"]))
            stack.extend(concept.get("concept", []))
        return frozenset(codes)

    def is_guide_codesystem(self, system: str) -> bool:
        return system in self._codesystems

    def members(self, valueset: str) -> frozenset[str] | None:
        """`system|code` members of a ValueSet, or None when it is unknown or not locally expandable."""
        url = valueset.split("|", 1)[0]
        if url not in self._members:
            self._members[url] = None  # guards against cycles while expanding
            found = self._terminology(url) if self._terminology is not None else None
            vs = self._valuesets.get(url)
            if found is None and vs is not None:
                found = self._expand(vs)
            self._members[url] = found
        return self._members[url]

    def _expand(self, vs: Mapping[str, Any]) -> frozenset[str] | None:
        compose = vs.get("compose") or {}
        out: set[str] = set()
        for include in compose.get("include", []):
            got = self._include(include)
            if got is None:
                return None
            out |= got
        for exclude in compose.get("exclude", []):
            got = self._include(exclude)
            if got is None:
                return None
            out -= got
        return frozenset(out)

    def _include(self, include: Mapping[str, Any]) -> set[str] | None:
        nested: set[str] | None = None
        for ref in include.get("valueSet", []):
            got = self.members(ref)
            if got is None:
                return None
            nested = set(got) if nested is None else nested & got
        system = include.get("system")
        if system is None:
            return nested or set()
        codes: set[str] | None
        if include.get("concept"):
            codes = {f"{system}|{c['code']}" for c in include["concept"]}
        else:
            cs = self._codesystems.get(system)
            codes = None if cs is None else _filtered(system, cs, include.get("filter", []))
            if codes is None:
                return None
        return codes if nested is None else codes & nested


def _filtered(
    system: str, cs: Mapping[str, Any], filters: list[Mapping[str, Any]]
) -> set[str] | None:
    parents: dict[str, str | None] = {}

    def walk(concepts: list[Mapping[str, Any]], parent: str | None) -> None:
        for c in concepts:
            parents[c["code"]] = parent
            walk(c.get("concept", []), c["code"])

    walk(cs.get("concept", []), None)
    codes = set(parents)
    for f in filters:
        op, value = f.get("op"), f.get("value")
        if f.get("property") not in ("concept", None) or op not in ("is-a", "descendent-of"):
            return None
        keep = set()
        for code in codes:
            at: str | None = code if op == "is-a" else parents[code]
            while at is not None and at != value:
                at = parents.get(at)
            if at is not None:
                keep.add(code)
        codes = keep
    return {f"{system}|{c}" for c in codes}
