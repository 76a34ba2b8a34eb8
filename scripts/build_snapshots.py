"""Write the snapshot of every StructureDefinition of the guide next to its differential.

Spec: http://hl7.org/fhir/R4/profiling.html#snapshot; issue 4 ("StructureDefinitions on R4 base,
differential + snapshot").  SUSHI and `scripts/build_service_packages.py` write differentials only;
this script (run by `scripts/build_profiles.sh` after placing SUSHI's output, and after any script
that writes StructureDefinitions) regenerates the snapshot of every StructureDefinition under
`profiles/` (examples and FSH sources aside) with `fhir_server.ig.snapshots.SnapshotBuilder`,
over the full R4 definitions
of the official package (`.cache/r4/package`, fetched with `npm pack hl7.fhir.r4.examples@4.0.1`
when absent).  `tests/unit/ig/test_snapshots.py` fails when a committed snapshot is stale.

Usage::

    python scripts/build_snapshots.py [--check] [FILE …]   # FILE: only these (default: all)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from build_r4_definitions import fetch_package  # noqa: E402

from fhir_server.ig.snapshots import SnapshotBuilder, load_base_definitions  # noqa: E402

SKIP = ("examples", "fsh")


def sd_files(profiles: Path = REPO / "profiles") -> list[Path]:
    """Every StructureDefinition file under `profiles/`, examples and FSH sources aside."""
    return sorted(
        p
        for p in profiles.rglob("StructureDefinition-*.json")
        if not set(p.relative_to(profiles).parts[:-1]) & set(SKIP)
    )


def dump(resource: dict[str, object]) -> str:
    return json.dumps(resource, ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    parser.add_argument("only", nargs="*", type=Path, help="write only these files")
    args = parser.parse_args(argv)
    files = sd_files()
    only = {p.resolve() for p in args.only}
    sds = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    builder = SnapshotBuilder(load_base_definitions(fetch_package()), sds)
    stale = []
    for path, sd in zip(files, sds, strict=True):
        text = dump(builder.with_snapshot(sd))
        if only and path.resolve() not in only:
            continue
        if text != path.read_text(encoding="utf-8"):
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "written"
    print(f"{len(files)} StructureDefinitions, {len(stale)} {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
