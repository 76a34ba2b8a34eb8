"""The committed JSON is what SUSHI compiles from `profiles/fsh` (issue 4, FSH sources + compiled JSON).

Runs `scripts/build_profiles.sh` with `PROFILES_OUT` set to a temporary folder (profiles/ is not
touched) using fsh-sushi at the version pinned in `tests/support/npm_tools.py`, offline against the
`hl7.fhir.r4.core#4.0.1` package the script rebuilds from `hl7.fhir.r4.examples@4.0.1`, and compares
every compiled resource with the committed file (whose snapshot SUSHI does not write; it is checked by
test_snapshots.py).  Files of the same folders that SUSHI does not make (hand-written or made by other
scripts) are not compared.  Skipped with a one-line reason only when node/npm are not installed or
fsh-sushi cannot be installed; CI has npm, so it runs there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.npm_tools import SUSHI, ensure_npm_packages

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))

from place_profiles import MANAGED, NOT_FSH_EXTENSIONS  # noqa: E402


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data.pop("snapshot", None)
    return data


def _committed(folder: str) -> dict[str, Path]:
    return {
        p.name: p
        for p in sorted((REPO / "profiles" / folder).glob("*.json"))
        if not (folder == "extensions" and p.name in NOT_FSH_EXTENSIONS)
    }


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_npm_packages("node", SUSHI)
    out = tmp_path_factory.mktemp("sushi")
    env = {**os.environ, "PROFILES_OUT": str(out), "SUSHI_VERSION": SUSHI["fsh-sushi"]}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_profiles.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return out


@pytest.mark.parametrize("folder", MANAGED)
def test_compiled_json_is_committed(compiled: Path, folder: str) -> None:
    made = {p.name: p for p in sorted((compiled / folder).glob("*.json"))}
    committed = _committed(folder)
    # Other scripts and hand-written resources share the folders: every SUSHI output is committed.
    assert sorted(set(made) - set(committed)) == [], (
        "run scripts/build_profiles.sh, commit the JSON"
    )
    stale = [name for name, path in made.items() if _load(path) != _load(committed[name])]
    assert stale == [], "run scripts/build_profiles.sh and commit the JSON"
